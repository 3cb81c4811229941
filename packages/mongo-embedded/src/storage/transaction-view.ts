import type { Doc } from '../query/index.js';
import { canonicalKey, MongoServerError } from '../query/index.js';
import { IndexData, type IndexSpec } from './indexes.js';
import { Collection, Store, WriteBatch, type WriteSession } from './store.js';

/** Documents changed outside a transaction since its snapshot: namespace → id key → the document before (or null). */
export type SnapshotImages = Map<string, Map<string, Doc | null>>;

/** What a transaction's writes are checked against, and told about, as they happen. */
export interface WriteGuard {
  /** Throws WriteConflict when the document changed since the snapshot or another transaction wrote it. */
  check(ns: string, idKey: string): void;
  wrote(ns: string, idKey: string): void;
}

/**
 * A multi-document transaction's view of the data: the committed state as of its snapshot plus its own writes,
 * which nobody else sees. A collection is copied (documents by reference, indexes rebuilt) the first time the
 * transaction touches it, with the documents changed since the snapshot put back as they were. Writes go to the
 * copies and are kept, in order, as journal entries that the commit applies to the base store.
 */
export class TransactionView extends Store {
  /** The transaction's writes as journal entries, in the order they happened. */
  readonly entries: Doc[] = [];
  private readonly viewed = new Set<string>();
  /** Collections this transaction created: the only ones it may add indexes to, as in mongod. */
  private readonly created = new Set<string>();

  constructor(
    private readonly base: Store,
    private readonly images: SnapshotImages,
    private readonly guard: WriteGuard,
  ) {
    super({ changeHistoryMaxRecords: 1 });
    this.clock.advanceTo(base.clock.current);
  }

  override getCollection(db: string, name: string): Collection | undefined {
    const ns = `${db}.${name}`;
    if (!this.viewed.has(ns)) {
      this.viewed.add(ns);
      const committed = this.base.getCollection(db, name);
      if (committed) this.attach(snapshotCopy(committed, this.images.get(ns)));
    }
    return super.getCollection(db, name);
  }

  override createCollection(batch: WriteBatch, db: string, name: string, options: Doc): Collection {
    const coll = super.createCollection(batch, db, name, options);
    this.created.add(coll.ns);
    return coll;
  }

  override createIndexes(batch: WriteBatch, coll: Collection, specs: IndexSpec[]): number {
    if (!this.created.has(coll.ns)) {
      throw new MongoServerError(
        263,
        'OperationNotSupportedInTransaction',
        `Cannot create new indexes on existing collection ${coll.ns} in a multi-document transaction.`,
      );
    }
    return super.createIndexes(batch, coll, specs);
  }

  override write<T>(session: WriteSession | undefined, fn: (batch: WriteBatch) => T): T {
    const batch = new WriteBatch(session);
    try {
      return fn(batch);
    } finally {
      // Nothing is durable before the commit, so there is nothing for the command to wait for.
      this.entries.push(...batch.entries);
    }
  }

  override insert(...args: Parameters<Store['insert']>): void {
    const [, coll, doc] = args;
    this.guarded(coll, doc, () => {
      super.insert(...args);
    });
  }

  override replace(...args: Parameters<Store['replace']>): void {
    const [, coll, before] = args;
    this.guarded(coll, before, () => {
      super.replace(...args);
    });
  }

  override delete(...args: Parameters<Store['delete']>): void {
    const [, coll, doc] = args;
    this.guarded(coll, doc, () => {
      super.delete(...args);
    });
  }

  /** Runs one document write under the write-conflict guard of the document's `_id`. */
  private guarded(coll: Collection, doc: Doc, write: () => void): void {
    const idKey = canonicalKey(doc._id);
    this.guard.check(coll.ns, idKey);
    write();
    this.guard.wrote(coll.ns, idKey);
  }
}

function snapshotCopy(committed: Collection, changed: Map<string, Doc | null> | undefined): Collection {
  const copy = new Collection(committed.db, committed.name, committed.uuid, committed.options);
  for (const [idKey, doc] of committed.docs) copy.docs.set(idKey, doc);
  if (changed) {
    for (const [idKey, before] of changed) {
      if (before) copy.docs.set(idKey, before);
      else copy.docs.delete(idKey);
    }
  }
  copy.indexes = committed.indexes.map((index) => {
    const rebuilt = new IndexData(index.spec);
    rebuilt.build(copy.docs.entries());
    return rebuilt;
  });
  return copy;
}
