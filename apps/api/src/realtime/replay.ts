import { ResyncReason } from '@orders/contracts';
import { positionFailure } from '../driver-errors.js';
import {
  mapChangeWithLookup,
  tokenData,
  type ChangeItem,
  type LookupOrder,
  type OpenChangeStream,
} from './change-mapping.js';
import type { FeedLogger } from './feed.js';
import { MAX_EVENTS_PER_FRAME } from './messages.js';

/*
 * History replay: a client that resumes from a position older than the hub's ring is fed from a temporary
 * change stream, on the same event source and mapping as the feed, into the hub, which then hands the client
 * over to its ring and live delivery. The hub never opens a stream itself: it asks this module for a replay and
 * receives the events through a `ReplayTarget`. See docs/ARCHITECTURE.md, "Recovery and replay".
 */

/** One step of a replay: an event, or "nothing more right now, history read up to `position`". */
export type ReplayStep =
  { kind: 'event'; item: ChangeItem } | { kind: 'idle'; position: string | null } | { kind: 'invalidated' };

/** A temporary change stream that replays history after a client's position. */
export interface ReplayCursor {
  next(): Promise<ReplayStep>;
  close(): Promise<void>;
}

/** Opens replays after a position; errors (history lost, bad token) surface on the first `next`. */
export type OpenReplay = (since: string) => ReplayCursor;

/** Builds replay cursors on the same event source and mapping as the feed. */
export function createReplayOpener(open: OpenChangeStream, lookup?: LookupOrder): OpenReplay {
  return (since) => {
    const cursor = open({ resumeAfter: since });
    return {
      async next() {
        const change = await cursor.tryNext();
        if (change === null) return { kind: 'idle', position: tokenData(cursor.resumeToken) };
        const mapped = await mapChangeWithLookup(change, lookup);
        if (mapped.type === 'invalidate') return { kind: 'invalidated' };
        if (mapped.type === 'skip') return { kind: 'idle', position: mapped.position || null };
        return { kind: 'event', item: mapped.item };
      },
      close: () => cursor.close(),
    };
  };
}

/** Where a replay delivers: the hub, for one subscription of one client. */
export interface ReplayTarget {
  /** False once the subscription is over (re-subscribed, closed, hub shut down): the replay stops silently. */
  isCurrent(): boolean;
  /** The stream opened at the client's position: the client will receive everything after it. */
  opened(): void;
  /** Adds an event read from history to what the client will receive; returns how many are waiting. */
  add(item: ChangeItem): number;
  /** Sends what is waiting as one frame; false when the client is gone. */
  flush(): boolean;
  /** True when history read up to `position` meets what the hub holds and has delivered live. */
  canHandOver(position: string): boolean;
  /** Hands the client over to the hub's ring and live delivery after `position`. */
  handOver(position: string): void;
  /** The replay cannot go on: the client is told to resync (what was waiting is dropped) and goes live. */
  fail(reason: ResyncReason): void;
}

/** A replay in progress (or waiting for a slot). */
export interface ReplayHandle {
  /** Stops the replay and closes its stream; the target hears nothing more. */
  cancel(): void;
}

export interface HistoryReplayOptions {
  open: OpenReplay;
  /** A replay that has not caught up with the live feed by then ends with a resync (default 30 s). */
  timeoutMs?: number;
  /** Replays reading the database at once; more wait their turn (default 16). */
  maxConcurrent?: number;
  log?: FeedLogger;
}

/** Runs history replays into the hub, a bounded number at a time. */
export class HistoryReplays {
  private readonly open: OpenReplay;
  private readonly timeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly log: FeedLogger | undefined;
  private active = 0;
  /** Replays waiting for a slot. */
  private readonly queue: { handle: ReplayHandle; wake: (granted: boolean) => void }[] = [];

  constructor(options: HistoryReplayOptions) {
    this.open = options.open;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxConcurrent = options.maxConcurrent ?? 16;
    this.log = options.log;
  }

  /** Starts replaying everything after `since` into `target`. */
  start(since: string, target: ReplayTarget): ReplayHandle {
    let cursor: ReplayCursor | null = null;
    let cancelled = false;
    const handle: ReplayHandle = {
      cancel: () => {
        cancelled = true;
        const waiting = this.queue.findIndex((entry) => entry.handle === handle);
        if (waiting !== -1) this.queue.splice(waiting, 1)[0]?.wake(false);
        const open = cursor;
        cursor = null;
        if (open) void open.close().catch(() => undefined);
      },
    };
    const current = (): boolean => !cancelled && target.isCurrent();
    const run = async (): Promise<void> => {
      if (!(await this.acquire(handle))) return;
      if (!current()) {
        this.release();
        return;
      }
      // An object, not a boolean: the timer sets it while `read` awaits, which narrowing cannot see.
      const deadline = { passed: false };
      let stream: ReplayCursor | null = null;
      const timer = setTimeout(() => {
        deadline.passed = true;
        void stream?.close().catch(() => undefined);
      }, this.timeoutMs);
      try {
        stream = this.open(since);
        cursor = stream;
        await this.read(stream, since, target, current);
      } catch (err) {
        if (!current()) return;
        const reason = deadline.passed ? ResyncReason.FeedReset : (positionFailure(err) ?? ResyncReason.FeedReset);
        this.log?.warn({ err, reason }, 'replay: reading history failed; the client resyncs');
        target.fail(reason);
      } finally {
        clearTimeout(timer);
        if (cursor === stream) cursor = null;
        if (stream) await stream.close().catch(() => undefined);
        this.release();
      }
    };
    void run();
    return handle;
  }

  /** Reads until the replay meets the hub's ring and live delivery, then hands over. */
  private async read(stream: ReplayCursor, since: string, target: ReplayTarget, current: () => boolean): Promise<void> {
    let opened = false;
    let last: string = since;
    let waiting = 0;
    for (;;) {
      const step = await stream.next();
      if (!current()) return;
      if (!opened) {
        target.opened();
        opened = true;
      }
      if (step.kind === 'invalidated') {
        target.flush();
        target.fail(ResyncReason.Invalidated);
        return;
      }
      if (step.kind === 'event') {
        last = step.item.position;
        waiting = target.add(step.item);
        // The hub may end the replay on an event (the client's replay budget ran out).
        if (!current()) return;
      } else if (step.position !== null && step.position > last) {
        last = step.position;
      }
      const caughtUp = target.canHandOver(last);
      if (caughtUp || step.kind === 'idle' || waiting >= MAX_EVENTS_PER_FRAME) {
        if (!target.flush()) return;
        waiting = 0;
      }
      if (caughtUp) {
        target.handOver(last);
        return;
      }
    }
  }

  /** Resolves true with a slot taken, or false when the wait was cancelled. */
  private acquire(handle: ReplayHandle): Promise<boolean> {
    if (this.active < this.maxConcurrent) {
      this.active += 1;
      return Promise.resolve(true);
    }
    return new Promise((resolve) =>
      this.queue.push({
        handle,
        wake: (granted) => {
          if (granted) this.active += 1;
          resolve(granted);
        },
      }),
    );
  }

  private release(): void {
    this.active -= 1;
    this.queue.shift()?.wake(true);
  }
}
