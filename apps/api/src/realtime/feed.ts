import { ResyncReason, backoffDelay } from '@orders/contracts';
import { errorCode, isDatabaseUnavailable, positionFailure } from '../driver-errors.js';
import {
  mapChangeWithLookup,
  tokenData,
  type ChangeCursor,
  type ChangeItem,
  type LookupOrder,
  type OpenChangeStream,
} from './change-mapping.js';
import { FeedPosition } from './position.js';
import { WakeableSleep } from '../wakeable-sleep.js';

/*
 * The change feed: ONE change stream per API process on the orders collection. It maps the database's change
 * events (change-mapping.ts) and hands them to a sink (the hub), in commit order, writing the current position
 * as it goes. The event source is a parameter (`OpenChangeStream`) so the feed is tested without a database.
 * See docs/ARCHITECTURE.md, "The change feed" and "Recovery and replay".
 */

/** Receives the feed's output, in commit order. The hub implements it. */
export interface FeedSink {
  /** An event to fan out. */
  publish(item: ChangeItem): void;
  /** The feed has seen everything up to `position` and there is nothing more to fan out (idle or skipped change). */
  advance(position: string): void;
  /** Continuity is broken: every client must resync; the feed reopens at the present. */
  reset(reason: ResyncReason): void;
}

/**
 * A consumer that stores the feed's events (the order history). The feed never persists a position past an
 * event it has not stored, so a restart (or a kill -9) re-reads what it was still holding.
 * See docs/ARCHITECTURE.md, "The change feed".
 */
export interface DurableConsumer {
  /** The latest position through which every event it received is stored; null when there is none yet. */
  storedThrough(): string | null;
  /** A promise while it holds as many events as it may (the feed waits before reading on), else null. */
  capacity(): Promise<void> | null;
  /** Tries to store what it holds; `close` awaits it before persisting the position. */
  drain(): Promise<void>;
}

/** Where the feed keeps its position across restarts (collection `feed_state` in production). */
export interface PositionStore {
  load(): Promise<string | null>;
  save(position: string): Promise<void>;
}

/** Minimal structured logger (pino-compatible). */
export interface FeedLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ChangeFeedOptions {
  open: OpenChangeStream;
  sink: FeedSink;
  /** Bounds the persisted position (and the read pace) by what this consumer has stored. */
  durable?: DurableConsumer;
  /** The position this feed writes (and the hub and `GET /orders` read); default: one of its own. */
  position?: FeedPosition;
  store: PositionStore;
  log: FeedLogger;
  lookup?: LookupOrder;
  /**
   * Runs before the first open and again after an invalidate (the collection was dropped and its options with
   * it), e.g. to enable post-images; a failure is logged and the feed opens anyway.
   */
  prepare?: () => Promise<void>;
  /** At most one position write per this many ms while events flow (default 1000). */
  persistIntervalMs?: number;
  /**
   * Retry delays after a failure: the window starts at `initialBackoffMs` (default 100 ms) and doubles per
   * consecutive failure up to `maxBackoffMs` (default 5 s); each delay is drawn from the window with `random`.
   */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Uniform in [0, 1); defaults to `Math.random`. */
  random?: () => number;
  /**
   * Consecutive non-transient failures resuming from a position before the feed gives the position up,
   * tells clients to resync and reopens at the present (default 3).
   */
  maxResumeFailures?: number;
}

/**
 * The process's single change stream. `start` loads the persisted position and runs the read loop in the
 * background; `close` stops it, closes the stream and persists the position.
 */
export class ChangeFeed {
  private readonly opts: Required<Omit<ChangeFeedOptions, 'lookup' | 'prepare' | 'random' | 'position' | 'durable'>> &
    Pick<ChangeFeedOptions, 'lookup' | 'prepare' | 'random' | 'durable'>;
  private readonly current: FeedPosition;
  private needsPrepare = true;
  private saved: string | null = null;
  private lastSaveAt = 0;
  private persistTimer: NodeJS.Timeout | null = null;
  private cursor: ChangeCursor | null = null;
  private open = false;
  private closing = false;
  private loop: Promise<void> | null = null;
  private readonly sleeper = new WakeableSleep();
  private failures = 0;
  private settleFirstAttempt: () => void = () => undefined;

  constructor(options: ChangeFeedOptions) {
    this.opts = {
      persistIntervalMs: 1000,
      initialBackoffMs: 100,
      maxBackoffMs: 5000,
      maxResumeFailures: 3,
      ...options,
    };
    this.current = options.position ?? new FeedPosition();
  }

  /** Latest position handed to the sink (an event's or the idle post-batch token); null before the first. */
  position(): string | null {
    return this.current.current();
  }

  /** True while the change stream is established and reading. */
  isOpen(): boolean {
    return this.open;
  }

  /**
   * Loads the persisted position and starts reading in the background. Resolves once the stream answered for
   * the first time (so writes after `start()` are seen), or once the first attempt failed (the loop retries).
   */
  async start(): Promise<void> {
    if (this.loop) return;
    try {
      const stored = await this.opts.store.load();
      if (stored !== null) {
        this.current.set(stored);
        this.saved = stored;
        // The stream resumes after `stored`, so every event after it reaches the sink: the hub can serve
        // replays from there out of its ring.
        this.opts.sink.advance(stored);
      }
    } catch (err) {
      // Without the stored position the feed starts at the present; clients that reconnect with `since`
      // still replay from the database's history, so nothing is lost silently.
      this.opts.log.warn({ err }, 'feed: could not load the persisted position; starting at the present');
    }
    const firstAttempt = new Promise<void>((resolve) => (this.settleFirstAttempt = resolve));
    this.loop = this.run();
    await firstAttempt;
  }

  /** Stops reading, closes the stream and persists the last position. */
  async close(): Promise<void> {
    this.closing = true;
    this.open = false;
    this.settleFirstAttempt();
    this.sleeper.wake();
    const cursor = this.cursor;
    if (cursor) await cursor.close().catch(() => undefined);
    await this.loop;
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    await this.opts.durable?.drain();
    await this.persist();
  }

  /** Read through a method: `close()` sets the flag while the loop awaits, which narrowing cannot see. */
  private isClosing(): boolean {
    return this.closing;
  }

  private async run(): Promise<void> {
    while (!this.closing) {
      if (this.needsPrepare && this.opts.prepare) {
        this.needsPrepare = false;
        await this.opts.prepare().catch((err: unknown) => this.opts.log.warn({ err }, 'feed: prepare failed'));
        if (this.isClosing()) break;
      }
      const resumeFrom = this.current.current();
      const start = resumeFrom !== null ? { startAfter: resumeFrom } : {};
      let cursor: ChangeCursor | null = null;
      let failed = false;
      try {
        cursor = this.opts.open(start);
        this.cursor = cursor;
        const reopen = await this.read(cursor);
        if (reopen === 'invalidated') {
          this.needsPrepare = true;
          this.resetTo(ResyncReason.Invalidated);
        }
      } catch (err) {
        if (this.isClosing()) break;
        failed = true;
        this.open = false;
        this.settleFirstAttempt();
        this.onFailure(err, start.startAfter !== undefined);
      } finally {
        this.cursor = null;
        this.open = false;
        if (cursor) await cursor.close().catch(() => undefined);
      }
      if (failed) await this.sleeper.sleep(this.backoff());
    }
  }

  /** Reads until the stream ends (invalidate) or fails. */
  private async read(cursor: ChangeCursor): Promise<'invalidated' | 'closed'> {
    while (!this.closing) {
      const change = await cursor.tryNext();
      if (this.isClosing()) return 'closed';
      // The first answered tryNext means the aggregate succeeded: the stream is established.
      this.open = true;
      this.failures = 0;
      this.settleFirstAttempt();
      if (change === null) {
        const idle = tokenData(cursor.resumeToken);
        const now = this.current.current();
        if (idle !== null && (now === null || idle > now)) this.advance(idle);
        continue;
      }
      const mapped = await mapChangeWithLookup(change, this.opts.lookup);
      if (this.isClosing()) return 'closed';
      if (mapped.type === 'invalidate') return 'invalidated';
      if (mapped.type === 'skip') {
        if (!mapped.expected) {
          this.opts.log.warn({ position: mapped.position, reason: mapped.reason }, 'feed: skipped a change');
        }
        if (mapped.position !== '') this.advance(mapped.position);
        continue;
      }
      this.current.set(mapped.item.position);
      this.opts.sink.publish(mapped.item);
      this.schedulePersist();
      const full = this.opts.durable?.capacity();
      if (full) await full;
    }
    return 'closed';
  }

  private advance(position: string): void {
    this.current.set(position);
    this.opts.sink.advance(position);
    this.schedulePersist();
  }

  private onFailure(err: unknown, fromPosition: boolean): void {
    this.failures += 1;
    const reason = fromPosition ? positionFailure(err) : null;
    if (reason !== null) {
      this.opts.log.warn({ err, reason }, 'feed: cannot resume from its position; clients must resync');
      this.resetTo(reason === ResyncReason.HistoryLost ? ResyncReason.HistoryLost : ResyncReason.FeedReset);
      return;
    }
    if (isDatabaseUnavailable(err)) {
      // The database is unreachable: keep the position and resume from it when it is back, so nothing is lost.
      this.opts.log.warn({ err: errorSummary(err), failures: this.failures }, 'feed: database unavailable; retrying');
      return;
    }
    this.opts.log.error({ err, failures: this.failures }, 'feed: change stream failed');
    if (fromPosition && this.failures >= this.opts.maxResumeFailures) {
      this.resetTo(ResyncReason.FeedReset);
    }
  }

  /** Gives up continuity: clients resync, the feed reopens at the present. */
  private resetTo(reason: ResyncReason): void {
    this.current.set(null);
    this.opts.sink.reset(reason);
  }

  private backoff(): number {
    // Jitter spreads the retries of several API processes on one database.
    return backoffDelay(this.failures, {
      baseMs: this.opts.initialBackoffMs,
      capMs: this.opts.maxBackoffMs,
      ...(this.opts.random ? { random: this.opts.random } : {}),
    });
  }

  private schedulePersist(): void {
    if (this.persistTimer || this.closing) return;
    const wait = Math.max(0, this.lastSaveAt + this.opts.persistIntervalMs - Date.now());
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      void this.persist();
    }, wait);
  }

  private async persist(): Promise<void> {
    const durable = this.opts.durable;
    const position = durable ? durable.storedThrough() : this.current.current();
    // While the durable consumer is behind, look again later: the feed may go quiet before it catches up.
    if (durable && position !== this.current.current()) {
      this.lastSaveAt = Date.now();
      this.schedulePersist();
    }
    if (position === null || position === this.saved) return;
    this.lastSaveAt = Date.now();
    try {
      await this.opts.store.save(position);
      this.saved = position;
    } catch (err) {
      this.opts.log.warn({ err: errorSummary(err) }, 'feed: could not persist the position');
    }
  }
}

function errorSummary(err: unknown): object {
  return err instanceof Error ? { name: err.name, message: err.message, code: errorCode(err) } : { err };
}
