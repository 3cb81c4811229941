/*
 * Requests in flight per client (RATE_LIMIT_IN_FLIGHT) and a short queue behind them (RATE_LIMIT_QUEUE): a client's
 * parallel requests run a few at a time, in arrival order, so one client's burst takes a bounded share of the
 * process while a dashboard's handful of parallel requests still all get answered. See docs/ARCHITECTURE.md,
 * "Abuse limits".
 */

/** A request waiting for a slot: `granted` resolves true when it has one, false when cancelled or closed. */
export interface Turn {
  granted: Promise<boolean>;
  /** The request went away while waiting: it leaves the queue (a slot already granted is given back). */
  cancel(): void;
}

interface Waiter {
  resolve(granted: boolean): void;
  done: boolean;
}

export class InFlightLimiter {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter[]>();

  /** `limit` requests per key run at once; `queue` more wait; past both a request is refused. */
  constructor(
    private readonly limit: number,
    private readonly queue: number,
  ) {}

  /** 'run': it has a slot now; 'full': refused; otherwise its turn in the queue. */
  enter(key: string): 'run' | 'full' | Turn {
    const now = this.running.get(key) ?? 0;
    if (now < this.limit) {
      this.running.set(key, now + 1);
      return 'run';
    }
    const queue = this.waiting.get(key) ?? [];
    if (queue.length >= this.queue) return 'full';
    let waiter: Waiter = { resolve: () => undefined, done: false };
    const granted = new Promise<boolean>((resolve) => {
      waiter = { resolve, done: false };
    });
    queue.push(waiter);
    this.waiting.set(key, queue);
    return {
      granted,
      cancel: () => {
        if (waiter.done) return;
        waiter.done = true;
        this.remove(key, waiter);
        waiter.resolve(false);
      },
    };
  }

  /** A request that had a slot is done: the next waiting request of the same key takes it over. */
  leave(key: string): void {
    const queue = this.waiting.get(key);
    const next = queue?.shift();
    if (queue !== undefined && queue.length === 0) this.waiting.delete(key);
    if (next !== undefined) {
      next.done = true;
      next.resolve(true);
      return;
    }
    const left = (this.running.get(key) ?? 1) - 1;
    if (left <= 0) this.running.delete(key);
    else this.running.set(key, left);
  }

  /** Every waiting request is told it will not run (shutdown). */
  close(): void {
    for (const queue of this.waiting.values()) {
      for (const waiter of queue) {
        waiter.done = true;
        waiter.resolve(false);
      }
    }
    this.waiting.clear();
  }

  private remove(key: string, waiter: Waiter): void {
    const queue = this.waiting.get(key);
    if (queue === undefined) return;
    const at = queue.indexOf(waiter);
    if (at !== -1) queue.splice(at, 1);
    if (queue.length === 0) this.waiting.delete(key);
  }
}
