import { Timestamp } from 'bson';
import type { Doc } from '../query/index.js';
import type { ChangeLog, ChangeRecord, UpdateDescription } from '../storage/changelog.js';

type NewRecord = Omit<ChangeRecord, 'seq' | 'clusterTime' | 'wallTime'>;

/**
 * A self-contained ChangeLog with a tiny catalog, for exercising change streams without the store:
 * the write helpers keep documents and the log consistent the way the store does.
 */
export class MemoryChangeLog implements ChangeLog {
  private records: ChangeRecord[] = [];
  private seq = 0n;
  private t: number;
  private i = 0;
  private readonly listeners = new Set<() => void>();
  private readonly docs = new Map<string, Map<string, Doc>>();
  private readonly imagesEnabled = new Set<string>();

  constructor(private readonly maxRecords = Number.POSITIVE_INFINITY) {
    this.t = 1_700_000_000;
  }

  get oldestSeq(): bigint {
    return this.records[0]?.seq ?? this.seq + 1n;
  }

  get lastSeq(): bigint {
    return this.seq;
  }

  get lastClusterTime(): Timestamp {
    return new Timestamp({ t: this.t, i: this.i });
  }

  /** Listeners currently subscribed (to check that streams clean up). */
  get listenerCount(): number {
    return this.listeners.size;
  }

  readFrom(afterSeq: bigint, limit: number): ChangeRecord[] {
    const first = this.records[0];
    if (!first || limit <= 0) return [];
    const start = afterSeq + 1n < first.seq ? 0 : Number(afterSeq + 1n - first.seq);
    return this.records.slice(start, start + limit);
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  lookupDocument(db: string, coll: string, documentKey: Doc): Doc | null {
    return this.docs.get(`${db}.${coll}`)?.get(JSON.stringify(documentKey._id)) ?? null;
  }

  collectionExists(db: string, coll: string): boolean {
    return this.docs.has(`${db}.${coll}`);
  }

  /** Advances the clock without logging anything (as reads and no-op writes may). */
  tick(): Timestamp {
    this.i += 1;
    return this.lastClusterTime;
  }

  /** Turns pre/post images on or off for a collection (changeStreamPreAndPostImages). */
  setImages(db: string, coll: string, enabled: boolean): void {
    if (enabled) this.imagesEnabled.add(`${db}.${coll}`);
    else this.imagesEnabled.delete(`${db}.${coll}`);
  }

  insert(db: string, coll: string, doc: Doc): ChangeRecord {
    this.collection(db, coll).set(JSON.stringify(doc._id), doc);
    return this.append({ db, coll, op: 'insert', documentKey: { _id: doc._id }, postImage: doc });
  }

  update(db: string, coll: string, after: Doc, updateDescription: UpdateDescription): ChangeRecord {
    const before = this.collection(db, coll).get(JSON.stringify(after._id));
    this.collection(db, coll).set(JSON.stringify(after._id), after);
    return this.append({
      db,
      coll,
      op: 'update',
      documentKey: { _id: after._id },
      postImage: after,
      updateDescription,
      ...(this.imagesEnabled.has(`${db}.${coll}`) && before ? { preImage: before } : {}),
    });
  }

  replace(db: string, coll: string, after: Doc): ChangeRecord {
    const before = this.collection(db, coll).get(JSON.stringify(after._id));
    this.collection(db, coll).set(JSON.stringify(after._id), after);
    return this.append({
      db,
      coll,
      op: 'replace',
      documentKey: { _id: after._id },
      postImage: after,
      ...(this.imagesEnabled.has(`${db}.${coll}`) && before ? { preImage: before } : {}),
    });
  }

  delete(db: string, coll: string, id: unknown): ChangeRecord {
    const before = this.collection(db, coll).get(JSON.stringify(id));
    this.collection(db, coll).delete(JSON.stringify(id));
    return this.append({
      db,
      coll,
      op: 'delete',
      documentKey: { _id: id },
      ...(this.imagesEnabled.has(`${db}.${coll}`) && before ? { preImage: before } : {}),
    });
  }

  drop(db: string, coll: string): ChangeRecord {
    this.docs.delete(`${db}.${coll}`);
    return this.append({ db, coll, op: 'drop' });
  }

  rename(db: string, coll: string, to: { db: string; coll: string }): ChangeRecord {
    const docs = this.docs.get(`${db}.${coll}`);
    this.docs.delete(`${db}.${coll}`);
    if (docs) this.docs.set(`${to.db}.${to.coll}`, docs);
    return this.append({ db, coll, op: 'rename', to });
  }

  /** Logs a drop per collection and then the dropDatabase, as the store does. */
  dropDatabase(db: string): ChangeRecord[] {
    const out: ChangeRecord[] = [];
    for (const key of [...this.docs.keys()]) {
      if (key.startsWith(db + '.')) out.push(this.drop(db, key.slice(db.length + 1)));
    }
    out.push(this.append({ db, coll: '', op: 'dropDatabase' }));
    return out;
  }

  /** Appends a record and notifies listeners after the current task, as a commit would. */
  append(fields: NewRecord): ChangeRecord {
    this.seq += 1n;
    this.i += 1;
    const record: ChangeRecord = {
      seq: this.seq,
      clusterTime: new Timestamp({ t: this.t, i: this.i }),
      wallTime: new Date(),
      ...fields,
    };
    this.records.push(record);
    if (this.records.length > this.maxRecords) this.records.splice(0, this.records.length - this.maxRecords);
    queueMicrotask(() => {
      for (const listener of [...this.listeners]) listener();
    });
    return record;
  }

  private collection(db: string, coll: string): Map<string, Doc> {
    let docs = this.docs.get(`${db}.${coll}`);
    if (!docs) this.docs.set(`${db}.${coll}`, (docs = new Map<string, Doc>()));
    return docs;
  }
}
