import { ResyncReason } from '@orders/contracts';
import type { ChangeItem } from '../change-mapping.js';
import type { FeedLogger } from '../feed.js';
import type { FeedPosition } from '../position.js';
import type { HistoryReplays } from '../replay.js';

/* The hub's options, counters and observers. See docs/ARCHITECTURE.md, "Fan-out". */

export interface HubOptions {
  /** The feed's current position: the hub reads it, only the feed writes it. */
  position: FeedPosition;
  /** A socket whose send buffer passes this is closed with CloseCode.SlowConsumer. */
  maxBufferedBytes: number;
  /** Events due to a socket within this window go out as one frame. */
  batchWindowMs: number;
  /** How many recent events the hub keeps for replays. */
  ringSize: number;
  /** Replays positions older than the ring from the database's history; without it such clients resync. */
  replays?: HistoryReplays;
  /** Invalid frames a connection may send; the next one closes it with 1002 (default 4). */
  maxInvalidFrames?: number;
  /**
   * Subscribe frames a connection may send per window; past it an `error` (RATE_LIMITED) and close 1008
   * (default 20 per 10 s). Every subscribe costs a filter change and possibly a replay.
   */
  subscribeLimit?: { max: number; windowMs: number };
  /**
   * Bytes of replayed events one principal, and one address, may receive per window (0: no budget of that kind);
   * past it a subscribe with `since` gets `resync` (`replay_limited`) instead of a replay. Default: none.
   */
  replayBudget?: { principalBytes: number; addressBytes: number; windowMs: number; now?: () => number };
  /**
   * Socket writes per event-loop turn while fanning out (default 1000): a flush to many thousands of sockets
   * yields between slices so HTTP requests are not held up for the whole fan-out.
   */
  writesPerTurn?: number;
  log?: FeedLogger;
  /** Told once per flush (never per socket) when it has written its last socket. */
  metrics?: HubMetrics;
}

/** Who is behind a socket, for the replay budgets: the rate limiter's keys (null: none of that kind). */
export interface ClientIdentity {
  principal: string | null;
  address: string | null;
}

/** Per-flush timings for /metrics. */
export interface HubMetrics {
  /**
   * A flush wrote its last socket: the events it carried, when it started (epoch ms, to compare with commit
   * times) and how long it took (ms, from a monotonic clock).
   */
  flushed(items: readonly ChangeItem[], startedAt: number, durationMs: number): void;
}

/** Counters for /metrics. */
export interface HubStats {
  clients: number;
  /** Sockets that have subscribed (live or replaying). */
  subscriptions: number;
  eventsPublished: number;
  /** Events written to sockets (an event in a batch of a frame to N sockets counts N). */
  deliveries: number;
  framesSent: number;
  slowConsumerCloses: number;
  resyncsSent: number;
  resyncsByReason: Record<ResyncReason, number>;
  /** Bytes of frames written to sockets (the fan-out's pre-encoded frames with their headers). */
  bytesSent: number;
  invalidFrames: number;
  replaysFromRing: number;
  replaysFromHistory: number;
}

/**
 * Watches the hub's hot path (the fan-out benchmark timestamps events with it). Called synchronously: keep it
 * cheap. `flushed` runs after the last socket write of a flush, with the events that flush carried.
 */
export interface HubObserver {
  published(item: ChangeItem): void;
  flushed(items: readonly ChangeItem[]): void;
}

/** The hub's counters at start: every count zero, every resync reason listed. */
export function emptyHubCounters(): Omit<HubStats, 'clients' | 'subscriptions'> {
  return {
    eventsPublished: 0,
    deliveries: 0,
    framesSent: 0,
    slowConsumerCloses: 0,
    resyncsSent: 0,
    resyncsByReason: {
      [ResyncReason.HistoryLost]: 0,
      [ResyncReason.Invalidated]: 0,
      [ResyncReason.UnknownPosition]: 0,
      [ResyncReason.FeedReset]: 0,
      [ResyncReason.ReplayLimited]: 0,
    },
    bytesSent: 0,
    invalidFrames: 0,
    replaysFromRing: 0,
    replaysFromHistory: 0,
  };
}
