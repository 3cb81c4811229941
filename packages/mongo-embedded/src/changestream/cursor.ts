import { BSON, Timestamp } from 'bson';
import { MongoServerError, type Doc } from '../query/index.js';
import type { ChangeLog, ChangeRecord } from '../storage/changelog.js';
import { buildEventDocument, eventsForRecord, type EventImages, type RawEvent, type StreamScope } from './events.js';
import { parseChangeStreamStage, validateUserStages, type ChangeStreamOptions } from './options.js';
import { compileUserStages } from './redact.js';
import { compareTimestamps, encodeResumeToken, type ResumeTokenData } from './token.js';

/** What the command layer asks for: `aggregate` on `db` (and `coll`, or the whole database when null). */
export interface ChangeStreamSpec {
  db: string;
  coll: string | null;
  /** The `$changeStream` stage's options. */
  stage: Doc;
  /** The user stages after `$changeStream`. */
  pipeline: Doc[];
}

/** One reply's worth of a change stream. */
export interface ChangeStreamBatch {
  events: Doc[];
  postBatchResumeToken: Doc;
  /** True once the stream has produced (or swallowed) its invalidate: the cursor is closed, reply with id 0. */
  invalidated: boolean;
}

/** A server-side change-stream cursor. */
export interface ChangeStreamCursor {
  /** Returns as soon as at least one event is available, or after maxAwaitMs with an empty batch. */
  next(batchSize: number, maxAwaitMs: number, signal: AbortSignal): Promise<ChangeStreamBatch>;
  /** Stops waiting and releases every listener and timer. Idempotent. */
  close(): void;
}

/** Tuning knobs, mostly for tests. */
export interface ChangeStreamLimits {
  /** Records examined in one synchronous turn before yielding to the event loop. */
  scanBudget: number;
  /** Bytes of events per batch; the batch ends early once it is exceeded (the first event always fits). */
  maxBatchBytes: number;
}

const DEFAULT_LIMITS: ChangeStreamLimits = { scanBudget: 10_000, maxBatchBytes: 8 * 1024 * 1024 };
const READ_SLICE = 1_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const DEFAULT_BATCH_SIZE = 101;
/** Longest synchronous scan (ms) before yielding, whatever the record budget says. */
const TIME_SLICE_MS = 20;
const NON_RESUMABLE = { errorLabels: ['NonResumableChangeStreamError'] };

function historyLost(): MongoServerError {
  return new MongoServerError(
    286,
    'ChangeStreamHistoryLost',
    'Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
    NON_RESUMABLE,
  );
}

function tokenNotFound(token: ResumeTokenData): MongoServerError {
  return new MongoServerError(
    280,
    'ChangeStreamFatalError',
    `cannot resume stream; the resume token was not found. ${JSON.stringify(encodeResumeToken(token))}`,
    NON_RESUMABLE,
  );
}

function describeEvent(doc: Doc): string {
  const summary: Doc = { _id: doc._id, operationType: doc.operationType, ns: doc.ns, documentKey: doc.documentKey };
  return JSON.stringify(summary);
}

function sameToken(id: unknown, token: { _data: string }): boolean {
  if (id === null || typeof id !== 'object' || Array.isArray(id)) return false;
  const keys = Object.keys(id);
  return keys.length === 1 && keys[0] === '_data' && (id as Doc)._data === token._data;
}

/**
 * Opens a change stream over `log`. Validates the stage and the user pipeline and positions the stream
 * (throws MongoServerError 260, 280, 286, 40602, 40324, 20, 73 ... as mongod does at `aggregate` time).
 */
export function openChangeStream(
  log: ChangeLog,
  spec: ChangeStreamSpec,
  limits: Partial<ChangeStreamLimits> = {},
): ChangeStreamCursor {
  const options = parseChangeStreamStage(spec.stage, spec.db, spec.coll);
  const stages = validateUserStages(spec.pipeline);
  // Surfaces malformed stage arguments at aggregate time rather than at the first event.
  compileUserStages(stages);
  const scope = {
    db: options.allChangesForCluster ? null : spec.db,
    coll: spec.coll,
    expanded: options.showExpandedEvents,
  };
  return new LogChangeStreamCursor(log, scope, options, stages, {
    ...DEFAULT_LIMITS,
    ...limits,
  });
}

interface BatchInProgress {
  events: Doc[];
  bytes: number;
  limit: number;
  /** The user stages, compiled once per reply ($$NOW is fixed per command, as in mongod). */
  run: ((docs: Doc[]) => Doc[]) | null;
}

type ScanOutcome = 'full' | 'caughtUp' | 'budget' | 'invalidated';

class LogChangeStreamCursor implements ChangeStreamCursor {
  /** Every record with seq <= position has been handled. */
  private position = 0n;
  private positionTime: Timestamp | null = null;
  /** The token of the last event returned at `position`, which then is the batch's resume point. */
  private lastToken: { _data: string } | null = null;
  /** An invalidate that did not fit in the previous batch (or follows the event a client resumed after). */
  private pendingInvalidate: RawEvent | null = null;
  /** startAtOperationTime not reached yet: records before it are skipped as they arrive. */
  private notBefore: Timestamp | null = null;
  private invalidated = false;
  private closed = false;
  private busy = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly log: ChangeLog,
    private readonly scope: StreamScope,
    private readonly options: ChangeStreamOptions,
    private readonly stages: Doc[],
    private readonly limits: ChangeStreamLimits,
  ) {
    const token = options.resumeAfter ?? options.startAfter;
    if (token) this.positionAfterToken(token);
    else if (options.startAtOperationTime) this.positionAtTime(options.startAtOperationTime);
    else this.position = log.lastSeq;
  }

  async next(batchSize: number, maxAwaitMs: number, signal: AbortSignal): Promise<ChangeStreamBatch> {
    if (this.busy) {
      throw new MongoServerError(292, 'CursorInUse', 'the change stream cursor is already in use');
    }
    this.busy = true;
    try {
      return await this.collect(batchSize, maxAwaitMs, signal);
    } catch (error) {
      // mongod kills a cursor whose pipeline failed; a later getMore gets CursorNotFound.
      this.close();
      throw error;
    } finally {
      this.busy = false;
    }
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  private async collect(batchSize: number, maxAwaitMs: number, signal: AbortSignal): Promise<ChangeStreamBatch> {
    // setTimeout cannot wait longer than 2^31-1 ms; a NaN wait means "do not wait".
    const awaitMs = Number.isNaN(maxAwaitMs) ? 0 : Math.min(Math.max(0, maxAwaitMs), MAX_TIMER_MS);
    const deadline = performance.now() + awaitMs;
    const batch: BatchInProgress = {
      events: [],
      bytes: 0,
      limit: Number.isNaN(batchSize) ? DEFAULT_BATCH_SIZE : Math.max(0, batchSize),
      run: this.stages.length > 0 ? compileUserStages(this.stages) : null,
    };
    for (;;) {
      if (this.closed || this.invalidated || batch.limit === 0) return this.reply(batch);
      const outcome = this.scan(batch);
      if (batch.events.length > 0 || outcome === 'full' || outcome === 'invalidated') return this.reply(batch);
      if (signal.aborted) return this.reply(batch);
      const remaining = deadline - performance.now();
      if (remaining <= 0) return this.reply(batch);
      if (outcome === 'budget') {
        // Many records, none matching: let other connections run before scanning on.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      // Caught up: nothing can be appended between the scan above and this subscription (same tick).
      await this.waitForAppend(remaining, signal);
    }
  }

  private reply(batch: BatchInProgress): ChangeStreamBatch {
    return {
      events: batch.events,
      postBatchResumeToken: this.postBatchResumeToken(),
      invalidated: this.invalidated,
    };
  }

  private postBatchResumeToken(): Doc {
    if (this.lastToken) return this.lastToken;
    return encodeResumeToken({ clusterTime: this.highWaterMarkTime(), seq: this.position, kind: 'highWaterMark' });
  }

  /**
   * The time a high-water mark carries: that of the record at `position`, or the start time a stream is still
   * waiting for (records before it are skipped, and a stream resumed from the mark must skip them too).
   */
  private highWaterMarkTime(): Timestamp {
    const time = this.positionTime ?? this.timeAtPosition();
    return this.notBefore && compareTimestamps(this.notBefore, time) > 0 ? this.notBefore : time;
  }

  private timeAtPosition(): Timestamp {
    const record = this.position > 0n ? this.recordAt(this.position) : undefined;
    if (record) return record.clusterTime;
    if (this.position >= this.log.lastSeq) return this.log.lastClusterTime;
    return new Timestamp({ t: 0, i: 0 });
  }

  private waitForAppend(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let unsubscribe: () => void = () => undefined;
      const finish = (): void => {
        clearTimeout(timer);
        unsubscribe();
        signal.removeEventListener('abort', finish);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      unsubscribe = this.log.onAppend(finish);
      signal.addEventListener('abort', finish, { once: true });
      this.wake = finish;
    });
  }

  /** Examines records after `position` until the batch is full, the log is exhausted or the budget is spent. */
  private scan(batch: BatchInProgress): ScanOutcome {
    if (this.pendingInvalidate) {
      const invalidate = this.pendingInvalidate;
      this.pendingInvalidate = null;
      this.process(invalidate, batch);
      return 'invalidated';
    }
    let budget = this.limits.scanBudget;
    const started = performance.now();
    for (;;) {
      if (batch.events.length >= batch.limit || batch.bytes >= this.limits.maxBatchBytes) return 'full';
      if (budget <= 0) return 'budget';
      const records = this.log.readFrom(this.position, Math.min(READ_SLICE, budget));
      if (records.length === 0) {
        if (this.position < this.log.lastSeq) throw historyLost();
        return 'caughtUp';
      }
      // The retention window moved past records this stream had not read yet.
      if (records[0]!.seq !== this.position + 1n) throw historyLost();
      for (const record of records) {
        // Events that pass through user stages cost more than a bare scan: bound the turn by time as well.
        if ((budget & 255) === 0 && performance.now() - started > TIME_SLICE_MS) return 'budget';
        budget -= 1;
        this.position = record.seq;
        this.positionTime = record.clusterTime;
        this.lastToken = null;
        if (this.notBefore) {
          if (compareTimestamps(record.clusterTime, this.notBefore) < 0) continue;
          this.notBefore = null;
        }
        const events = eventsForRecord(record, this.scope);
        for (const event of events) {
          if (event.kind === 'invalidate') {
            if (batch.events.length >= batch.limit || batch.bytes >= this.limits.maxBatchBytes) {
              this.pendingInvalidate = event;
              return 'full';
            }
            this.process(event, batch);
            return 'invalidated';
          }
          this.process(event, batch);
        }
        if (batch.events.length >= batch.limit || batch.bytes >= this.limits.maxBatchBytes) return 'full';
      }
    }
  }

  /** Adds images, runs the user stages and appends the event to the batch unless a stage filtered it out. */
  private process(event: RawEvent, batch: BatchInProgress): void {
    if (event.kind === 'invalidate') {
      this.invalidated = true;
      this.lastToken = event.token;
    }
    const { images, missingImage } = this.images(event);
    const doc = buildEventDocument(event, images, this.options.showExpandedEvents);
    const output = batch.run ? batch.run([doc]) : [doc];
    const result = output[0];
    // A required image that is missing only fails the stream for events the user's stages keep, as mongod's
    // filter push-down has it.
    if (!result) return;
    if (missingImage) throw missingImage(doc);
    if (!sameToken(result._id, event.token)) {
      throw new MongoServerError(
        280,
        'ChangeStreamFatalError',
        'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. ' +
          'Modifying the _id field of an event makes it impossible to resume the stream from that point. Only ' +
          'transformations that retain the unmodified _id field are allowed. Expected: ' +
          JSON.stringify({ _id: event.token }) +
          ' but found: ' +
          JSON.stringify(result._id === undefined ? {} : { _id: result._id }),
        NON_RESUMABLE,
      );
    }
    batch.events.push(result);
    batch.bytes += BSON.calculateObjectSize(result);
    this.lastToken = event.token;
  }

  private images(event: RawEvent): {
    images: EventImages;
    missingImage: ((doc: Doc) => MongoServerError) | null;
  } {
    const images: EventImages = {};
    let missingImage: ((doc: Doc) => MongoServerError) | null = null;
    if (event.kind !== 'event') return { images, missingImage };
    const r = event.record;
    const op = event.operationType;
    const { fullDocument, fullDocumentBeforeChange } = this.options;

    if (fullDocumentBeforeChange !== 'off' && (op === 'update' || op === 'replace' || op === 'delete')) {
      images.fullDocumentBeforeChange = r.preImage ?? null;
      if (!r.preImage && fullDocumentBeforeChange === 'required') {
        missingImage = (doc) =>
          new MongoServerError(
            47,
            'NoMatchingDocument',
            'Change stream was configured to require a pre-image for all update, delete and replace events, but ' +
              `the pre-image was not found for event: ${describeEvent(doc)}`,
          );
      }
    }
    if (op === 'update' && fullDocument !== 'default') {
      if (fullDocument === 'updateLookup') {
        images.fullDocument = r.documentKey ? this.log.lookupDocument(r.db, r.coll, r.documentKey) : null;
      } else {
        // Post-images are kept only where pre-images are: for collections with changeStreamPreAndPostImages.
        const available = r.preImage !== undefined && r.postImage !== undefined;
        images.fullDocument = available ? (r.postImage ?? null) : null;
        if (!available && fullDocument === 'required') {
          missingImage ??= (doc) =>
            new MongoServerError(
              47,
              'NoMatchingDocument',
              'Change stream was configured to require a post-image for all update events, but the post-image was ' +
                `not found for event: ${describeEvent(doc)}`,
            );
        }
      }
    }
    return { images, missingImage };
  }

  private recordAt(seq: bigint): ChangeRecord | undefined {
    if (seq <= 0n) return undefined;
    const record = this.log.readFrom(seq - 1n, 1)[0];
    return record && record.seq === seq ? record : undefined;
  }

  private positionAfterToken(token: ResumeTokenData): void {
    const last = this.log.lastSeq;
    const oldest = this.log.oldestSeq;
    if (token.kind === 'highWaterMark') {
      // A high-water mark needs no event at its position, only that nothing after it was trimmed.
      if (token.seq > last) throw historyLost();
      if (token.seq < last && token.seq + 1n < oldest) throw historyLost();
      const record = this.recordAt(token.seq);
      if (record && compareTimestamps(record.clusterTime, token.clusterTime) > 0) throw historyLost();
      this.position = token.seq;
      this.positionTime = record?.clusterTime ?? null;
      // A mark ahead of its position's record comes from a stream waiting for a later start time.
      if (!record || compareTimestamps(token.clusterTime, record.clusterTime) > 0) this.notBefore = token.clusterTime;
      return;
    }
    if (token.seq > last) throw tokenNotFound(token);
    if (token.seq < oldest) throw historyLost();
    const record = this.recordAt(token.seq);
    if (!record) throw historyLost();
    if (compareTimestamps(record.clusterTime, token.clusterTime) !== 0) throw tokenNotFound(token);
    const events = eventsForRecord(record, this.scope);
    const invalidate = events.find((e) => e.kind === 'invalidate');
    if (token.kind === 'invalidate') {
      // startAfter an invalidate: a new stream that begins after it.
      if (!invalidate) throw tokenNotFound(token);
    } else {
      if (events.length === 0) throw tokenNotFound(token);
      // Resuming after a drop/rename of the watched collection: the invalidate comes next, and until it is
      // returned the resume point must stay before it (a high-water mark here would skip it).
      if (invalidate) {
        this.pendingInvalidate = invalidate;
        this.lastToken = encodeResumeToken(token);
      }
    }
    this.position = token.seq;
    this.positionTime = record.clusterTime;
  }

  private positionAtTime(time: Timestamp): void {
    const last = this.log.lastSeq;
    const oldest = this.log.oldestSeq;
    if (oldest > 1n) {
      // Records before `oldest` are gone; any of them might have been at or after `time`.
      const first = this.recordAt(oldest);
      const earliestKnown = first ? first.clusterTime : this.log.lastClusterTime;
      const cmp = compareTimestamps(time, earliestKnown);
      if (first ? cmp < 0 : cmp <= 0) throw historyLost();
    }
    // Binary search for the first retained record with clusterTime >= time.
    let lo = oldest;
    let hi = last + 1n;
    while (lo < hi) {
      const mid = (lo + hi) / 2n;
      const record = this.recordAt(mid);
      if (!record || compareTimestamps(record.clusterTime, time) >= 0) hi = mid;
      else lo = mid + 1n;
    }
    this.position = lo - 1n;
    this.positionTime = null;
    if (lo > last) this.notBefore = time;
  }
}
