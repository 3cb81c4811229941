import { ORDER_STATUSES, ResyncReason, orderValidator, type Order, type OrderStatus } from '@orders/contracts';

/*
 * The change feed: ONE change stream per API process on the orders collection (DESIGN decision 4).
 * It maps the database's change events to contract events and hands them to a sink (the hub), in commit order.
 * The event source is a parameter (`OpenChangeStream`) so the feed is tested without a database.
 */

/** The subset of a driver change event the feed reads. Every field is checked at runtime. */
export interface RawChange {
  _id?: unknown;
  operationType?: unknown;
  fullDocument?: unknown;
  fullDocumentBeforeChange?: unknown;
  documentKey?: unknown;
  wallTime?: unknown;
}

/** The subset of the driver's `ChangeStream` the feed and replays use. */
export interface ChangeCursor {
  /** Next change, or null when a batch came back empty (then `resumeToken` is the post-batch token). */
  tryNext(): Promise<RawChange | null>;
  readonly resumeToken: unknown;
  close(): Promise<void>;
}

/** Where a stream starts: after a position (`startAfter`/`resumeAfter`), or at the present. */
export interface StreamStart {
  startAfter?: string;
  resumeAfter?: string;
}

/** Opens a change stream on the orders collection. Errors may surface on the first `tryNext`. */
export type OpenChangeStream = (start: StreamStart) => ChangeCursor;

/** Fetches the current stored document of an order (used when an update event carries no document). */
export type LookupOrder = (id: number) => Promise<unknown>;

/** A change, mapped to what clients see. `before` is the pre-image's filterable fields when the server had one. */
export interface ChangeItem {
  kind: 'created' | 'updated' | 'deleted';
  position: string;
  id: number;
  /** The full order for created/updated; null for deleted. */
  order: Order | null;
  before: FilterFields | null;
}

/** The fields subscription filters look at. */
export interface FilterFields {
  status: OrderStatus;
  customer_name: string;
}

/** Receives the feed's output, in commit order. The hub implements it. */
export interface FeedSink {
  /** An event to fan out. */
  publish(item: ChangeItem): void;
  /** The feed has seen everything up to `position` and there is nothing more to fan out (idle or skipped change). */
  advance(position: string): void;
  /** Continuity is broken: every client must resync; the feed reopens at the present. */
  reset(reason: ResyncReason): void;
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

/** The result of mapping one raw change. */
export type MappedChange =
  | { type: 'event'; item: ChangeItem }
  /** `expected` skips (deleted since, non-order operations) are normal; the others are worth a warning. */
  | { type: 'skip'; position: string; reason: string; expected: boolean }
  | { type: 'invalidate'; position: string | null };

const VALID_STATUSES: ReadonlySet<string> = new Set(ORDER_STATUSES);

/** Reads the `_data` string of a resume token, or null when it is not one. */
export function tokenData(token: unknown): string | null {
  if (typeof token === 'object' && token !== null && '_data' in token) {
    const data = token._data;
    if (typeof data === 'string' && data.length > 0) return data;
  }
  return null;
}

/**
 * Builds a contract order from a stored document, tolerating documents written directly through the driver:
 * missing dates take the event's wall time, a missing version is 1. Returns null when the document cannot be
 * an order (non-integer id, unknown status, missing names).
 */
export function normalizeOrderDocument(raw: unknown, wallTime: Date): Order | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const doc = raw as Record<string, unknown>;
  const id = toSafeInteger(doc._id);
  if (id === null || id < 1) return null;
  if (typeof doc.status !== 'string' || !VALID_STATUSES.has(doc.status)) return null;
  const created = toDate(doc.created_at) ?? toDate(doc.updated_at) ?? wallTime;
  const updated = toDate(doc.updated_at) ?? wallTime;
  const version = toSafeInteger(doc.version);
  const order = {
    id,
    customer_name: doc.customer_name,
    product_name: doc.product_name,
    status: doc.status,
    created_at: created.toISOString(),
    updated_at: updated.toISOString(),
    version: version !== null && version >= 1 ? version : 1,
    // Another writer's odd actor field is dropped, not a reason to drop the order.
    ...(typeof doc.updated_by === 'string' &&
      doc.updated_by.length >= 1 &&
      doc.updated_by.length <= 200 && { updated_by: doc.updated_by }),
  };
  return orderValidator.check(order) ? order : null;
}

/** The filterable fields of a pre-image, or null when there is none or it is not an order. */
function filterFieldsOf(raw: unknown): FilterFields | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const doc = raw as Record<string, unknown>;
  if (typeof doc.status !== 'string' || !VALID_STATUSES.has(doc.status)) return null;
  if (typeof doc.customer_name !== 'string') return null;
  return { status: doc.status as OrderStatus, customer_name: doc.customer_name };
}

/**
 * Maps one raw change event. `document` overrides `fullDocument` (the feed passes the looked-up document when
 * the event had none). Never throws: anything that cannot be an order event is a `skip` with a reason.
 */
export function mapChange(change: RawChange, document?: unknown): MappedChange {
  const position = tokenData(change._id);
  if (change.operationType === 'invalidate') return { type: 'invalidate', position };
  if (position === null) return { type: 'skip', position: '', reason: 'change has no resume token', expected: false };
  const wallTime = change.wallTime instanceof Date ? change.wallTime : new Date();
  const before = filterFieldsOf(change.fullDocumentBeforeChange);
  switch (change.operationType) {
    case 'insert':
    case 'update':
    case 'replace': {
      const raw = document !== undefined ? document : change.fullDocument;
      if (raw === null || raw === undefined) {
        // The order was deleted before the lookup: its delete event follows, so nothing is lost by skipping.
        return { type: 'skip', position, reason: 'no document (deleted since)', expected: true };
      }
      const order = normalizeOrderDocument(raw, wallTime);
      if (order === null) return { type: 'skip', position, reason: 'document is not a valid order', expected: false };
      const kind = change.operationType === 'insert' ? 'created' : 'updated';
      return { type: 'event', item: { kind, position, id: order.id, order, before } };
    }
    case 'delete': {
      const key = change.documentKey;
      const id = typeof key === 'object' && key !== null ? toSafeInteger((key as { _id?: unknown })._id) : null;
      if (id === null || id < 1)
        return { type: 'skip', position, reason: 'deleted document id is not an order id', expected: false };
      return { type: 'event', item: { kind: 'deleted', position, id, order: null, before } };
    }
    default:
      // drop/rename come before an invalidate; other operation types do not change orders.
      return { type: 'skip', position, reason: `operation ${String(change.operationType)}`, expected: true };
  }
}

/** The id of the document a change is about, when it is an integer. */
function documentIdOf(change: RawChange): number | null {
  const key = change.documentKey;
  if (typeof key !== 'object' || key === null) return null;
  return toSafeInteger((key as { _id?: unknown })._id);
}

/**
 * Maps a change, looking the document up when an update/replace event carries none
 * (e.g. `fullDocument: 'whenAvailable'` without a stored post-image).
 */
export async function mapChangeWithLookup(change: RawChange, lookup: LookupOrder | undefined): Promise<MappedChange> {
  const needsLookup =
    lookup !== undefined &&
    (change.operationType === 'update' || change.operationType === 'replace') &&
    (change.fullDocument === null || change.fullDocument === undefined);
  if (!needsLookup) return mapChange(change);
  const id = documentIdOf(change);
  if (id === null) return mapChange(change);
  return mapChange(change, (await lookup(id)) ?? null);
}

const BSON_NUMBERS: ReadonlySet<unknown> = new Set(['Int32', 'Long', 'Double']);

function toSafeInteger(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value === 'bigint') return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : null;
  // BSON Int32/Long/Double objects (when the driver does not promote them) convert through valueOf.
  if (typeof value === 'object' && value !== null && '_bsontype' in value && BSON_NUMBERS.has(value._bsontype)) {
    const n = Number(value.valueOf());
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

function toDate(value: unknown): Date | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value === 'string') {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }
  return null;
}

// ---- errors ------------------------------------------------------------------------------------------------

/** Server error codes that mean "this position can no longer be resumed from". */
const HISTORY_LOST = 286;
const POSITION_ERRORS = new Set([260, 280, 40647, 50811]);

/** The numeric server code of an error, when it has one. */
export function errorCode(err: unknown): number | null {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number') return err.code;
  return null;
}

/**
 * Why a stream opened at a client's or the feed's position failed, as the reason a client is told to resync;
 * null when the failure says nothing about the position (the database is down, a timeout, …).
 */
export function positionFailure(err: unknown): ResyncReason | null {
  const code = errorCode(err);
  if (code === HISTORY_LOST) return ResyncReason.HistoryLost;
  if (code !== null && POSITION_ERRORS.has(code)) return ResyncReason.UnknownPosition;
  return null;
}

/** True for errors of the connection rather than of the request: retry them with the position kept. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const name = err.name;
  if (name === 'MongoNetworkError' || name === 'MongoServerSelectionError' || name === 'MongoNetworkTimeoutError') {
    return true;
  }
  if (name === 'MongoTopologyClosedError' || name === 'MongoNotConnectedError') return true;
  const labels = (err as { errorLabels?: unknown }).errorLabels;
  if (Array.isArray(labels) && labels.includes('ResumableChangeStreamError')) return true;
  return /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/i.test(err.message);
}

// ---- the feed ----------------------------------------------------------------------------------------------

export interface ChangeFeedOptions {
  open: OpenChangeStream;
  sink: FeedSink;
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
  /** First retry delay after a failure (default 100 ms), doubled per failure up to `maxBackoffMs` (default 5 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
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
  private readonly opts: Required<Omit<ChangeFeedOptions, 'lookup' | 'prepare'>> &
    Pick<ChangeFeedOptions, 'lookup' | 'prepare'>;
  private needsPrepare = true;
  private current: string | null = null;
  private saved: string | null = null;
  private lastSaveAt = 0;
  private persistTimer: NodeJS.Timeout | null = null;
  private cursor: ChangeCursor | null = null;
  private open = false;
  private closing = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
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
  }

  /** Latest position handed to the sink (an event's or the idle post-batch token); null before the first. */
  position(): string | null {
    return this.current;
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
        this.current = stored;
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
    this.wake?.();
    const cursor = this.cursor;
    if (cursor) await cursor.close().catch(() => undefined);
    await this.loop;
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    await this.persist();
  }

  private async run(): Promise<void> {
    while (!this.closing) {
      if (this.needsPrepare && this.opts.prepare) {
        this.needsPrepare = false;
        await this.opts.prepare().catch((err: unknown) => this.opts.log.warn({ err }, 'feed: prepare failed'));
        if (this.closing) break;
      }
      const start = this.current !== null ? { startAfter: this.current } : {};
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
        if (this.closing) break;
        failed = true;
        this.open = false;
        this.settleFirstAttempt();
        this.onFailure(err, start.startAfter !== undefined);
      } finally {
        this.cursor = null;
        this.open = false;
        if (cursor) await cursor.close().catch(() => undefined);
      }
      if (failed) await this.sleep(this.backoff());
    }
  }

  /** Reads until the stream ends (invalidate) or fails. */
  private async read(cursor: ChangeCursor): Promise<'invalidated' | 'closed'> {
    while (!this.closing) {
      const change = await cursor.tryNext();
      if (this.closing) return 'closed';
      // The first answered tryNext means the aggregate succeeded: the stream is established.
      this.open = true;
      this.failures = 0;
      this.settleFirstAttempt();
      if (change === null) {
        const idle = tokenData(cursor.resumeToken);
        if (idle !== null && (this.current === null || idle > this.current)) this.advance(idle);
        continue;
      }
      const mapped = await mapChangeWithLookup(change, this.opts.lookup);
      if (this.closing) return 'closed';
      if (mapped.type === 'invalidate') return 'invalidated';
      if (mapped.type === 'skip') {
        if (!mapped.expected) {
          this.opts.log.warn({ position: mapped.position, reason: mapped.reason }, 'feed: skipped a change');
        }
        if (mapped.position !== '') this.advance(mapped.position);
        continue;
      }
      this.current = mapped.item.position;
      this.opts.sink.publish(mapped.item);
      this.schedulePersist();
    }
    return 'closed';
  }

  private advance(position: string): void {
    this.current = position;
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
    if (isTransient(err)) {
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
    this.current = null;
    this.opts.sink.reset(reason);
  }

  private backoff(): number {
    const exp = this.opts.initialBackoffMs * 2 ** Math.min(this.failures - 1, 16);
    const capped = Math.min(this.opts.maxBackoffMs, exp);
    // Jitter spreads the retries of several API processes on one database.
    return capped / 2 + Math.random() * (capped / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = null;
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
    const position = this.current;
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

// ---- replays -----------------------------------------------------------------------------------------------

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
