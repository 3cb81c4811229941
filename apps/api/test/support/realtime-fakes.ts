import {
  parseServerMessage,
  type FilterFields,
  type Order,
  type OrderEvent,
  type ServerMessage,
} from '@orders/contracts';
import type { ResyncReason } from '@orders/contracts';
import type { ChangeItem } from '../../src/realtime/change-mapping.js';
import type { HubSocket } from '../../src/realtime/hub/client.js';
import { Hub, type HubOptions } from '../../src/realtime/hub/hub.js';
import { FeedPosition } from '../../src/realtime/position.js';
import { HistoryReplays, type OpenReplay, type ReplayCursor, type ReplayStep } from '../../src/realtime/replay.js';

/** A socket that records what the hub writes; every frame is validated against the contracts. */
export class FakeSocket implements HubSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly raw: (Buffer | string)[] = [];
  readonly frames: ServerMessage[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | null = null;

  send(data: Buffer | string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.raw.push(data);
    const text = typeof data === 'string' ? data : data.toString('utf8');
    const parsed = parseServerMessage(text);
    if (!parsed.ok) throw new Error(`hub sent a frame outside the protocol: ${parsed.error}: ${text}`);
    this.frames.push(parsed.value);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  /** Order events received, batches flattened, in order. */
  events(): OrderEvent[] {
    return this.frames.flatMap((frame) => (frame.type === 'batch' ? frame.events : isOrderEvent(frame) ? [frame] : []));
  }

  /** Frames that are not order events or batches (ready, resync, error). */
  control(): ServerMessage[] {
    return this.frames.filter((frame) => frame.type !== 'batch' && !isOrderEvent(frame));
  }
}

function isOrderEvent(message: ServerMessage): message is OrderEvent {
  return message.type.startsWith('order.');
}

/** Zero-padded positions compare as strings in commit order, like the engine's resume tokens. */
export function pos(n: number): string {
  return `82${n.toString(16).toUpperCase().padStart(16, '0')}`;
}

export function order(id: number, overrides: Partial<Order> = {}): Order {
  return {
    id,
    customer_name: `Customer ${id}`,
    product_name: 'Widget',
    status: 'pending',
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    version: 1,
    ...overrides,
  };
}

export function created(n: number, o: Order = order(n)): ChangeItem {
  return { kind: 'created', position: pos(n), id: o.id, order: o, before: null };
}

export function updated(n: number, o: Order, before: FilterFields | null = null): ChangeItem {
  return { kind: 'updated', position: pos(n), id: o.id, order: o, before };
}

export function deleted(n: number, id: number, before: FilterFields | null = null): ChangeItem {
  return { kind: 'deleted', position: pos(n), id, order: null, before };
}

/** A replay cursor fed by the test; `next` waits for steps, and rejects once closed. */
export class ScriptedReplay implements ReplayCursor {
  closed = false;
  private readonly queue: (ReplayStep | Error)[] = [];
  private waiter: ((value: ReplayStep | Error) => void) | null = null;

  constructor(readonly since: string) {}

  push(step: ReplayStep | Error): void {
    if (this.waiter) {
      const wake = this.waiter;
      this.waiter = null;
      wake(step);
    } else {
      this.queue.push(step);
    }
  }

  async next(): Promise<ReplayStep> {
    const step = this.queue.shift() ?? (await new Promise<ReplayStep | Error>((resolve) => (this.waiter = resolve)));
    if (step instanceof Error) throw step;
    return step;
  }

  close(): Promise<void> {
    this.closed = true;
    this.push(new Error('replay closed'));
    return Promise.resolve();
  }
}

/** An error shaped like the driver's MongoServerError. */
export function serverError(code: number, message = `server error ${code}`): Error {
  return Object.assign(new Error(message), { name: 'MongoServerError', code });
}

/** Lets pending immediates, timers of 0 ms and promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

export const silentLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Options of a hub under test: the hub's own, plus how its history replays run (none without `openReplay`). */
export type TestHubOptions = Omit<HubOptions, 'position' | 'replays'> & {
  openReplay?: OpenReplay;
  replayTimeoutMs?: number;
  maxConcurrentReplays?: number;
};

/**
 * A hub fed directly by the test, the way the change feed feeds it: each sink call first writes the feed
 * position (which the hub reads), as `ChangeFeed` does.
 */
export class FedHub extends Hub {
  private readonly written: FeedPosition;

  constructor(options: TestHubOptions, feedPosition = new FeedPosition()) {
    const { openReplay, replayTimeoutMs, maxConcurrentReplays, ...hubOptions } = options;
    super({
      ...hubOptions,
      position: feedPosition,
      ...(openReplay && {
        replays: new HistoryReplays({
          open: openReplay,
          ...(replayTimeoutMs !== undefined && { timeoutMs: replayTimeoutMs }),
          ...(maxConcurrentReplays !== undefined && { maxConcurrent: maxConcurrentReplays }),
          ...(hubOptions.log && { log: hubOptions.log }),
        }),
      }),
    });
    this.written = feedPosition;
  }

  /** The feed position, as `GET /orders` would read it. */
  position(): string | null {
    return this.written.current();
  }

  override publish(item: ChangeItem): void {
    this.written.set(item.position);
    super.publish(item);
  }

  /** Like the feed, never moves the position back: an older or equal position is ignored. */
  override advance(position: string): void {
    const current = this.written.current();
    if (current !== null && position <= current) return;
    this.written.set(position);
    super.advance(position);
  }

  override reset(reason: ResyncReason): void {
    this.written.set(null);
    super.reset(reason);
  }
}
