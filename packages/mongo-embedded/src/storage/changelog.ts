import type { Long, Timestamp } from 'bson';
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
  op: 'insert' | 'update' | 'replace' | 'delete' | 'drop' | 'rename' | 'dropDatabase';
  documentKey?: Doc;
  postImage?: Doc;
  preImage?: Doc;
  updateDescription?: UpdateDescription;
  to?: { db: string; coll: string };
  lsid?: Doc;
  txnNumber?: Long;
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

/**
 * The bounded, in-memory change history. Records become visible to readers only once the batch that wrote them is
 * durable, and strictly in sequence order, so a change stream never sees a write that a crash could still lose.
 */
export class ChangeHistory implements ChangeLog {
  private records: ChangeRecord[] = [];
  private start = 0;
  private visible = 0n;
  private allocated = 0n;
  private readonly pending: PendingBatch[] = [];
  private readonly listeners = new Set<() => void>();
  private notifyScheduled = false;

  constructor(
    private readonly maxRecords: number,
    private readonly catalog: CatalogView,
  ) {}

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
    this.records.push(record);
    const excess = this.records.length - this.start - this.maxRecords;
    if (excess > 0) {
      this.start += excess;
      if (this.start > 1024 && this.start * 2 > this.records.length) {
        this.records = this.records.slice(this.start);
        this.start = 0;
      }
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

  /** Restores recovered history (records in sequence order) and makes it visible. */
  restore(records: ChangeRecord[], lastSeq: bigint): void {
    this.records = records.slice(Math.max(0, records.length - this.maxRecords));
    this.start = 0;
    this.allocated = lastSeq;
    this.visible = lastSeq;
  }

  /** Retained records, oldest first (for snapshots). */
  retained(): ChangeRecord[] {
    return this.records.slice(this.start);
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
