import { BSON, type Binary, type Long, type Timestamp } from 'bson';
import type { Doc } from '../query/index.js';

/** What a document update changed, as change-stream `updateDescription` reports it. */
export interface UpdateDescription {
  updatedFields: Doc;
  removedFields: string[];
  truncatedArrays: { field: string; newSize: number }[];
}

/** One committed write, in commit order. See ARCHITECTURE.md section 3. */
export interface ChangeRecord {
  seq: bigint;
  clusterTime: Timestamp;
  wallTime: Date;
  db: string;
  /** Empty for `dropDatabase`. */
  coll: string;
  op:
    | 'insert'
    | 'update'
    | 'replace'
    | 'delete'
    | 'drop'
    | 'rename'
    | 'dropDatabase'
    | 'create'
    | 'createIndexes'
    | 'dropIndexes'
    | 'modify';
  /**
   * The collection's UUID (absent for dropDatabase). Document writes keep it in memory only: after a restart it is
   * taken from the catalog, so streams resumed across a restart may lack it for since-dropped collections.
   */
  collectionUUID?: Binary;
  /** What a DDL operation did, as `operationDescription` of expanded change events shows it. */
  operationDescription?: Doc;
  /** A collMod's collection options before it. */
  stateBeforeChange?: Doc;
  documentKey?: Doc;
  postImage?: Doc;
  preImage?: Doc;
  updateDescription?: UpdateDescription;
  to?: { db: string; coll: string };
  /** The session and transaction of a multi-document transaction's write (absent outside transactions). */
  lsid?: Doc;
  txnNumber?: Long;
  /** The write's position within its transaction's commit; present exactly on transaction writes. */
  txnOpIndex?: number;
}

/** The read side of the change history, consumed by change streams. */
export interface ChangeLog {
  readonly oldestSeq: bigint;
  readonly lastSeq: bigint;
  readonly lastClusterTime: Timestamp;
  readFrom(afterSeq: bigint, limit: number): ChangeRecord[];
  /** Called after each commit; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void;
  lookupDocument(db: string, coll: string, documentKey: Doc): Doc | null;
  collectionExists(db: string, coll: string): boolean;
}

interface PendingBatch {
  lastSeq: bigint;
  done: boolean;
}

/** Callbacks into the catalog that the change log needs for `lookupDocument`/`collectionExists`. */
export interface CatalogView {
  lookupDocument(db: string, coll: string, documentKey: Doc): Doc | null;
  collectionExists(db: string, coll: string): boolean;
  currentClusterTime(): Timestamp;
}

/** How much change history is retained; the oldest records are dropped once either bound is exceeded. */
export interface HistoryLimits {
  maxRecords: number;
  /** Estimated BSON bytes of the retained records (their images included); the newest record is always kept. */
  maxBytes: number;
}

/** Fixed cost of a record besides its documents: seq, times, names, session (an estimate, like the whole budget). */
const RECORD_OVERHEAD_BYTES = 128;

/** The budget a record uses: its images and update description are what make records large. */
export function estimateRecordBytes(r: ChangeRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES;
  if (r.postImage) bytes += BSON.calculateObjectSize(r.postImage);
  if (r.preImage) bytes += BSON.calculateObjectSize(r.preImage);
  if (r.updateDescription) bytes += BSON.calculateObjectSize(r.updateDescription);
  if (r.documentKey && !r.postImage) bytes += BSON.calculateObjectSize(r.documentKey);
  return bytes;
}

/**
 * The bounded, in-memory change history. Records become visible to readers only once the batch that wrote them is
 * durable, and strictly in sequence order, so a change stream never sees a write that a crash could still lose.
 * Retention is bounded by record count and by estimated bytes, so that memory tracks live data plus a bounded
 * window: a history of large post-images (or of deleted documents' last images) cannot outgrow the budget.
 */
export class ChangeHistory implements ChangeLog {
  /** Slots before `start` are evicted and hold `undefined`, so evicted records (and their images) can be collected. */
  private records: (ChangeRecord | undefined)[] = [];
  private sizes: number[] = [];
  private start = 0;
  private bytes = 0;
  private visible = 0n;
  private allocated = 0n;
  private readonly pending: PendingBatch[] = [];
  private readonly listeners = new Set<() => void>();
  private notifyScheduled = false;

  private readonly maxRecords: number;
  private readonly maxBytes: number;

  constructor(
    limits: number | HistoryLimits,
    private readonly catalog: CatalogView,
  ) {
    const l = typeof limits === 'number' ? { maxRecords: limits, maxBytes: Number.POSITIVE_INFINITY } : limits;
    this.maxRecords = Math.max(1, l.maxRecords);
    this.maxBytes = Math.max(0, l.maxBytes);
  }

  /** The most records retained, whatever their size. */
  get recordLimit(): number {
    return this.maxRecords;
  }

  /** Estimated bytes of the retained records (see `estimateRecordBytes`). */
  get retainedBytes(): number {
    return this.bytes;
  }

  /** Number of retained records. */
  get retainedCount(): number {
    return this.records.length - this.start;
  }

  get oldestSeq(): bigint {
    const first = this.records[this.start];
    return first ? first.seq : this.visible + 1n;
  }

  get lastSeq(): bigint {
    return this.visible;
  }

  get lastAllocatedSeq(): bigint {
    return this.allocated;
  }

  get lastClusterTime(): Timestamp {
    if (this.pending.length === 0) return this.catalog.currentClusterTime();
    const last = this.recordAt(this.visible);
    return last ? last.clusterTime : this.catalog.currentClusterTime();
  }

  /** The next sequence number; the caller must `append` a record with it. */
  nextSeq(): bigint {
    this.allocated += 1n;
    return this.allocated;
  }

  /** Adds a record (invisible until its batch completes). */
  append(record: ChangeRecord): void {
    const size = estimateRecordBytes(record);
    this.records.push(record);
    this.sizes.push(size);
    this.bytes += size;
    this.evict();
  }

  /** Drops the oldest records beyond the count or byte bound (always keeping the newest one). */
  private evict(): void {
    while (
      this.records.length - this.start > 1 &&
      (this.records.length - this.start > this.maxRecords || this.bytes > this.maxBytes)
    ) {
      this.bytes -= this.sizes[this.start]!;
      this.records[this.start] = undefined;
      this.start++;
    }
    if (this.start > 1024 && this.start * 2 > this.records.length) {
      this.records = this.records.slice(this.start);
      this.sizes = this.sizes.slice(this.start);
      this.start = 0;
    }
  }

  /** Registers a batch whose records end at `lastSeq`; call the returned function once it is durable. */
  beginBatch(lastSeq: bigint): () => void {
    const batch: PendingBatch = { lastSeq, done: false };
    this.pending.push(batch);
    return () => {
      batch.done = true;
      let advanced = false;
      while (this.pending.length > 0 && this.pending[0]!.done) {
        const b = this.pending.shift()!;
        if (b.lastSeq > this.visible) {
          this.visible = b.lastSeq;
          advanced = true;
        }
      }
      if (advanced) this.scheduleNotify();
    };
  }

  /**
   * Forgets the records appended after `seq` (none of them visible yet) and hands their sequence numbers out
   * again: a transaction whose commit could not be applied leaves no trace.
   */
  discardAfter(seq: bigint): void {
    while (this.records.length > this.start) {
      const last = this.records[this.records.length - 1];
      if (!last || last.seq <= seq) break;
      this.records.pop();
      this.bytes -= this.sizes.pop() ?? 0;
    }
    this.allocated = seq;
  }

  /** Restores recovered history (records in sequence order) and makes it visible. */
  restore(records: ChangeRecord[], lastSeq: bigint): void {
    this.records = records.slice(Math.max(0, records.length - this.maxRecords));
    this.sizes = this.records.map((r) => estimateRecordBytes(r!));
    this.bytes = this.sizes.reduce((a, b) => a + b, 0);
    this.start = 0;
    this.evict();
    this.allocated = lastSeq;
    this.visible = lastSeq;
  }

  /** Retained records, oldest first (for snapshots). */
  retained(): ChangeRecord[] {
    return this.records.slice(this.start) as ChangeRecord[];
  }

  readFrom(afterSeq: bigint, limit: number): ChangeRecord[] {
    const out: ChangeRecord[] = [];
    const first = this.records[this.start];
    if (!first) return out;
    let from = afterSeq + 1n;
    if (from < first.seq) from = first.seq;
    for (let seq = from; seq <= this.visible && out.length < limit; seq++) {
      const r = this.recordAt(seq);
      if (r) out.push(r);
    }
    return out;
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  lookupDocument(db: string, coll: string, documentKey: Doc): Doc | null {
    return this.catalog.lookupDocument(db, coll, documentKey);
  }

  collectionExists(db: string, coll: string): boolean {
    return this.catalog.collectionExists(db, coll);
  }

  private recordAt(seq: bigint): ChangeRecord | undefined {
    const first = this.records[this.start];
    if (!first || seq < first.seq) return undefined;
    return this.records[this.start + Number(seq - first.seq)];
  }

  private scheduleNotify(): void {
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      for (const listener of [...this.listeners]) {
        try {
          listener();
        } catch {
          // A failing listener must not stop the others or the writer.
        }
      }
    });
  }
}
