import { frameOf, type Serialized } from '../messages.js';
import { encodeTextFrame, type TextFrame } from '../text-frame.js';
import type { OrderEvent } from '@orders/contracts';
import type { Client } from './client.js';
import type { FilterGroups } from './groups.js';
import type { Entry } from './ring.js';

/*
 * Fan-out: each event is serialized once per shape (full event, `order.left`), lazily, and cached on its ring
 * entry. A flush builds each filter group's message once (from the cached event JSON, never JSON.stringify per
 * socket), encodes it once as a complete WebSocket frame, and writes that same buffer to every socket of the
 * group. See docs/ARCHITECTURE.md, "Fan-out".
 *
 * Batching rule: events are flushed on the next macrotask when nothing was flushed in the last `batchWindowMs`
 * (a quiet feed pays no window), otherwise at the end of the window; a flush sends a socket its events as one
 * frame (a single event as itself, several as `{type:'batch'}` in commit order). So under load each socket gets
 * at most one frame per window, and at 1 change/s every event goes out at once. A flush writes at most
 * `writesPerTurn` sockets per event-loop turn; the next flush waits until it is done, and anything that needs a
 * consistent "delivered" position (subscribe, replay hand-over, reset, shutdown) completes it synchronously.
 */

/** What the fan-out needs from the hub. */
export interface FanoutHost {
  readonly groups: FilterGroups;
  /** The feed's current position (the fan-out started now delivers up to it). */
  latest(): string | null;
  /** Writes one frame to one live client; false when the client was dropped instead. */
  write(client: Client, frame: TextFrame, events: number): boolean;
  /** Every event up to `position` is written; `entries` are the events this flush carried. */
  delivered(position: string | null, entries: readonly Entry[], startedAt: number, durationMs: number): void;
}

export interface FanoutOptions {
  batchWindowMs: number;
  writesPerTurn: number;
}

interface FanoutJob {
  frame: TextFrame;
  events: number;
  clients: Client[];
}

interface InProgress {
  jobs: FanoutJob[];
  job: number;
  index: number;
  entries: Entry[];
  /** The latest position when the fan-out began: delivered once every write is done. */
  end: string | null;
  /** When it began: epoch ms (to compare with commit times) and the monotonic clock (for its duration). */
  startedAt: number;
  startedTick: number;
}

/** Batches pending events and writes them to the filter groups, a slice of sockets per event-loop turn. */
export class Fanout {
  private pending: Entry[] = [];
  private inProgress: InProgress | null = null;
  private sliceImmediate: NodeJS.Immediate | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private flushImmediate: NodeJS.Immediate | null = null;
  private lastFlushAt = -Infinity;

  constructor(
    private readonly host: FanoutHost,
    private readonly options: FanoutOptions,
  ) {}

  /** True when nothing is pending or being written. */
  get idle(): boolean {
    return this.pending.length === 0 && this.inProgress === null;
  }

  /** Queues an event for the next flush. */
  enqueue(entry: Entry): void {
    this.pending.push(entry);
    this.schedule();
  }

  /** Completes the fan-out in progress and writes everything pending, synchronously. */
  flushNow(): void {
    this.clearTimers();
    if (this.inProgress !== null) this.pump(Infinity);
    if (this.pending.length === 0) return;
    this.start();
    this.pump(Infinity);
  }

  /** Cancels the flush timers (shutdown); pending events are dropped with the hub. */
  stop(): void {
    this.clearTimers();
  }

  private schedule(): void {
    if (this.flushTimer !== null || this.flushImmediate !== null) return;
    const wait = this.lastFlushAt + this.options.batchWindowMs - performance.now();
    if (wait <= 0) {
      this.flushImmediate = setImmediate(() => {
        this.flushImmediate = null;
        this.flush();
      });
    } else {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        this.flush();
      }, wait);
    }
  }

  private clearTimers(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    if (this.flushImmediate !== null) clearImmediate(this.flushImmediate);
    this.flushTimer = null;
    this.flushImmediate = null;
  }

  /** Timer entry point: starts writing everything pending, unless a fan-out is in progress (it reschedules). */
  private flush(): void {
    this.clearTimers();
    if (this.inProgress !== null || this.pending.length === 0) return;
    this.start();
    this.pump(this.options.writesPerTurn);
  }

  /** Builds one frame per filter group from the pending events (the same bytes for every socket of a group). */
  private start(): void {
    const entries = this.pending;
    this.pending = [];
    this.lastFlushAt = performance.now();
    const startedAt = Date.now();
    const jobs: FanoutJob[] = [];
    for (const group of this.host.groups) {
      const shapes: Serialized<OrderEvent>[] = [];
      for (const entry of entries) {
        const shape = entry.shapeFor(group.filter);
        if (shape !== null) shapes.push(shape);
      }
      if (shapes.length === 0) continue;
      jobs.push({ frame: encodeTextFrame(frameOf(shapes)), events: shapes.length, clients: [...group.clients] });
    }
    this.inProgress = {
      jobs,
      job: 0,
      index: 0,
      entries,
      end: this.host.latest(),
      startedAt,
      startedTick: this.lastFlushAt,
    };
  }

  /** Writes up to `budget` sockets of the fan-out in progress; continues on the next turn if any are left. */
  private pump(budget: number): void {
    const fanout = this.inProgress;
    if (fanout === null) return;
    if (this.sliceImmediate !== null) clearImmediate(this.sliceImmediate);
    this.sliceImmediate = null;
    let left = budget;
    for (; fanout.job < fanout.jobs.length; fanout.job++, fanout.index = 0) {
      const job = fanout.jobs[fanout.job]!;
      while (fanout.index < job.clients.length) {
        if (left <= 0) {
          this.sliceImmediate = setImmediate(() => {
            this.sliceImmediate = null;
            this.pump(this.options.writesPerTurn);
          });
          return;
        }
        const client = job.clients[fanout.index++]!;
        left -= 1;
        // Clients that left since the fan-out began (closed, cut off) are skipped.
        if (client.state === 'live') this.host.write(client, job.frame, job.events);
      }
    }
    this.inProgress = null;
    this.host.delivered(
      this.pending.length === 0 ? this.host.latest() : fanout.end,
      fanout.entries,
      fanout.startedAt,
      performance.now() - fanout.startedTick,
    );
    if (this.pending.length > 0) this.schedule();
  }
}
