import { BSON, Binary, Double, Int32, Long, ObjectId, Timestamp, UUID } from 'bson';
import {
  canonicalKey,
  compileFilter,
  fieldBounds,
  isPlainObject,
  MongoServerError,
  type FieldBounds,
  sameCollation,
  type Collation,
  type Doc,
  type UpdateResult,
} from '../query/index.js';
import { ChangeHistory, estimateRecordBytes, type ChangeLog, type ChangeRecord } from './changelog.js';
import { ClusterClock } from './clock.js';
import { defaultIndexName, IndexData, type IndexSpec } from './indexes.js';

export type { ChangeLog, ChangeRecord, UpdateDescription } from './changelog.js';
export type { IndexSpec } from './indexes.js';

/** The journal as the store uses it (implemented by `./journal.ts`). */
export interface JournalLike {
  append(record: Doc): Promise<void>;
  compact(snapshotRecords: Iterable<Doc>): Promise<void>;
  readonly journalBytes: number;
  readonly snapshotBytes: number;
  close(): Promise<void>;
}

/** State recovered from disk: a snapshot (a record sequence, if any) and the records appended after it. */
export interface Recovered {
  snapshot: Doc[] | null;
  records: Doc[];
}

/** `Store.beginRecovery`: takes the records of a snapshot, then those of the journal, then `finish` once. */
export interface StoreRecovery {
  /** One record of the snapshot, in order; all of them before any journal record. */
  snapshotRecord(item: Doc): void;
  /** One journal record, in append order. */
  journalRecord(rec: Doc): void;
  /** Builds every touched collection's indexes once and restores the change history; the store is then ready. */
  finish(): void;
}

export interface StoreOptions {
  changeHistoryMaxRecords: number;
  /** Estimated BSON bytes of retained change history (images included); default: unbounded (count only). */
  changeHistoryMaxBytes?: number;
  journal?: JournalLike;
  warn?: (msg: string) => void;
  /** Compact once the journal exceeds this many bytes and the size of the last snapshot. */
  compactThresholdBytes?: number;
}

/** Who wrote, for change records and retryable writes. */
export interface WriteSession {
  lsid?: Doc;
  txnNumber?: Long;
  /** A multi-document transaction's commit: its change records carry lsid, txnNumber and txnOpIndex. */
  inTransaction?: boolean;
  /** Set once a write of this session's command changed something (a command that wrote nothing may be re-run). */
  applied?: boolean;
}

/** Told of every committed document write while a transaction is open (`Store.documentWriteObserver`). */
export interface DocumentWriteObserver {
  /** Before the write changes anything; may throw to stop it (a document an open transaction wrote). */
  beforeWrite(coll: Collection, idKey: string, batch: WriteBatch): void;
  /** After it: `before` is the document as it was (null when the write inserted it). */
  afterWrite(coll: Collection, idKey: string, before: Doc | null): void;
}

export const MAX_DOCUMENT_SIZE = 16 * 1024 * 1024;
/** Documents (or change records) per snapshot record. */
const SNAPSHOT_CHUNK = 256;

/** A collection: documents keyed by `canonicalKey(_id)`, its indexes (`_id_` first) and its options. */
export class Collection {
  readonly docs = new Map<string, Doc>();
  indexes: IndexData[];
  validator: ((doc: Doc) => boolean) | null = null;

  constructor(
    public db: string,
    public name: string,
    readonly uuid: Binary,
    public options: Doc,
  ) {
    this.indexes = [new IndexData({ v: 2, key: { _id: 1 }, name: '_id_' })];
    this.applyOptions(options);
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  /** Whether writes store pre- and post-images for change streams. */
  get preAndPostImages(): boolean {
    const o = this.options.changeStreamPreAndPostImages;
    return o !== null && typeof o === 'object' && (o as Doc).enabled === true;
  }

  applyOptions(options: Doc): void {
    this.options = options;
    const v = options.validator;
    this.validator = v !== null && typeof v === 'object' && Object.keys(v).length > 0 ? compileFilter(v as Doc) : null;
  }

  getById(id: unknown): Doc | undefined {
    return this.docs.get(canonicalKey(id));
  }
}

/** One index scan of a plan: which index, and how many of its keys it read. */
export interface IndexScanStats {
  indexName: string;
  keysExamined: number;
}

/** Which index (if any) a query uses, and what it cost. */
export interface QueryPlan {
  /** The one index scanned; null for a collection scan or an OR plan. */
  indexName: string | null;
  keysExamined: number;
  /** Documents fetched for filtering: the candidates. */
  candidates: Doc[];
  /** An OR plan: one index scan per branch of an `$or` (nested OR plans flattened), in branch order. */
  orScans?: IndexScanStats[];
}

/**
 * A plan chosen but not yet run, with its estimated cost in index keys: an `_id` point read, one index's bounds, or
 * an OR of plans (one per branch of an `$or`).
 */
export type PlanChoice =
  | { kind: 'id'; id: unknown; keys: number }
  | { kind: 'index'; index: IndexData; bounds: FieldBounds; keys: number }
  | { kind: 'or'; branches: PlanChoice[]; keys: number };

/** How deep `$or`s inside `$or` branches are planned; deeper ones are answered by the branch's other bounds. */
const MAX_OR_DEPTH = 4;

function duplicateKeyError(coll: Collection, index: IndexData, key: unknown[]): MongoServerError {
  const keyPattern: Doc = { ...index.spec.key };
  const keyValue: Doc = {};
  index.fields.forEach((field, i) => {
    keyValue[field] = key[i];
  });
  const shown = index.fields.map((field, i) => `${field}: ${formatValue(key[i])}`).join(', ');
  return new MongoServerError(
    11000,
    'DuplicateKey',
    `E11000 duplicate key error collection: ${coll.ns} index: ${index.name} dup key: { ${shown} }`,
    { keyPattern, keyValue },
  );
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof ObjectId) return `ObjectId('${v.toHexString()}')`;
  if (v === null || v === undefined) return 'null';
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  try {
    return BSON.EJSON.stringify(v, { relaxed: true });
  } catch {
    return typeof v;
  }
}

const DOCUMENT_OPS = new Set<string>(['insert', 'update', 'replace', 'delete']);

/**
 * A change record as journalled. A document write's collectionUUID is left out: the catalog knows it at recovery,
 * and the journal stays as small as before on the write path.
 */
function recordToDoc(r: ChangeRecord): Doc {
  const skip = DOCUMENT_OPS.has(r.op) ? 'collectionUUID' : '';
  const out: Doc = {};
  for (const [k, v] of Object.entries(r)) {
    if (v !== undefined && k !== skip) out[k] = v;
  }
  out.seq = Long.fromBigInt(r.seq);
  return out;
}

function recordFromDoc(d: Doc): ChangeRecord {
  const seq = d.seq;
  const record: ChangeRecord = {
    ...(d as unknown as ChangeRecord),
    seq: seq instanceof Long ? seq.toBigInt() : BigInt(seq as number),
  };
  const opIndex: unknown = d.txnOpIndex;
  if (opIndex !== undefined) record.txnOpIndex = opIndex instanceof Int32 ? opIndex.value : Number(opIndex);
  return record;
}

function asString(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/**
 * The catalog and all writes. Every mutating method is synchronous and records a journal entry in the given
 * batch; `write()` runs such mutations and immediately hands the batch to the journal, so the journal's order is
 * exactly the order in which writes were applied in memory.
 */
export class Store {
  readonly clock = new ClusterClock();
  readonly changes: ChangeHistory;
  private readonly dbs = new Map<string, Map<string, Collection>>();
  private journal: JournalLike | undefined;
  private readonly warn: (msg: string) => void;
  private compacting = false;
  private readonly compactThreshold: number;
  private closed = false;
  /** `changeHistoryMaxBytes`, which recovery applies while it reads (the change history applies it to writes). */
  private readonly historyMaxBytes: number;
  /**
   * Set only while multi-document transactions are open (they keep their snapshots with it), so writes outside
   * transactions pay one null check.
   */
  documentWriteObserver: DocumentWriteObserver | null = null;

  constructor(options: StoreOptions) {
    this.journal = options.journal;
    this.warn = options.warn ?? (() => undefined);
    this.compactThreshold = options.compactThresholdBytes ?? 64 * 1024 * 1024;
    const limits = {
      maxRecords: options.changeHistoryMaxRecords,
      maxBytes: options.changeHistoryMaxBytes ?? Number.POSITIVE_INFINITY,
    };
    this.historyMaxBytes = limits.maxBytes;
    this.changes = new ChangeHistory(limits, {
      lookupDocument: (db, coll, key) => this.getCollection(db, coll)?.getById(key._id) ?? null,
      collectionExists: (db, coll) => this.getCollection(db, coll) !== undefined,
      currentClusterTime: () => this.clock.current,
    });
  }

  /** The change history seen by change streams. */
  get changeLog(): ChangeLog {
    return this.changes;
  }

  // ---- catalog reads ----

  getCollection(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name);
  }

  databaseNames(): string[] {
    return [...this.dbs.entries()].filter(([, colls]) => colls.size > 0).map(([name]) => name);
  }

  collections(db: string): Collection[] {
    return [...(this.dbs.get(db)?.values() ?? [])];
  }

  /**
   * Picks the best index for `filter` and returns the candidate documents (a superset of the matches). `chosen`:
   * the plan `choosePlan` already chose for this filter (null for a collection scan), so it is not weighed twice.
   */
  plan(
    coll: Collection | undefined,
    filter: Doc,
    collation: Collation | null = null,
    chosen?: PlanChoice | null,
  ): QueryPlan {
    if (!coll) return { indexName: null, keysExamined: 0, candidates: [] };
    const choice = chosen === undefined ? this.choosePlan(coll, filter, collation) : chosen;
    if (!choice) return { indexName: null, keysExamined: 0, candidates: [...coll.docs.values()] };
    const scans: IndexScanStats[] = [];
    const ids = runChoice(coll, choice, scans);
    const candidates: Doc[] = [];
    for (const id of ids) {
      const d = coll.docs.get(id);
      if (d) candidates.push(d);
    }
    const keysExamined = scans.reduce((sum, scan) => sum + scan.keysExamined, 0);
    if (choice.kind === 'or') return { indexName: null, keysExamined, candidates, orScans: scans };
    return { indexName: scans[0]!.indexName, keysExamined, candidates };
  }

  /**
   * The cheapest indexed plan for `filter`, or null when no index serves it (a collection scan). Plans are weighed
   * by the keys they would read, counted in the index's B+tree (two descents per interval): mongod's IDHACK for an
   * `_id` point read; for each index, the cheapest bounds the filter's conditions on its first field give; and for
   * each `$or` the filter requires (at the top or inside `$and`), an OR plan when every branch has a plan of its own
   * (its candidates are the union of the branches'; the whole filter still runs on each). An index plan wins over a
   * collection scan however many keys it reads; an OR plan only when it reads fewer keys than the best index plan.
   */
  choosePlan(coll: Collection, filter: Doc, collation: Collation | null, depth = 0): PlanChoice | null {
    const id = idEquality(filter);
    if (id !== NOT_AN_ID_LOOKUP && (typeof id !== 'string' || sameCollation(coll.indexes[0]!.collation, collation))) {
      // mongod's IDHACK: a point read by _id is one hash lookup, without weighing the other indexes.
      return { kind: 'id', id, keys: 1 };
    }
    let best: PlanChoice | null = null;
    let bestScore = 0;
    for (const index of coll.indexes) {
      const cost = (b: FieldBounds): number | null =>
        index.canServe(b) && index.usableUnder(b, collation) ? index.count(b) : null;
      const bounds = fieldBounds(filter, index.fields[0]!, { multikey: index.multikey, cost });
      const keys = bounds ? cost(bounds) : null;
      if (!bounds || keys === null) continue;
      // Equal counts: a unique equality, then any equality, then a closed range, then `_id_`.
      let score = bounds.eq ? (index.unique && index.fields.length === 1 ? 4 : 3) : bounds.min && bounds.max ? 2 : 1;
      if (index.name === '_id_') score += 0.5;
      if (!best || keys < best.keys || (keys === best.keys && score > bestScore)) {
        best = { kind: 'index', index, bounds, keys };
        bestScore = score;
      }
    }
    if (depth >= MAX_OR_DEPTH) return best;
    for (const branches of requiredOrs(filter)) {
      const plans: PlanChoice[] = [];
      let keys = 0;
      for (const branch of branches) {
        const plan = this.choosePlan(coll, branch, collation, depth + 1);
        if (!plan) break;
        plans.push(plan);
        keys += plan.keys;
      }
      if (plans.length === branches.length && (!best || keys < best.keys)) best = { kind: 'or', branches: plans, keys };
    }
    return best;
  }

  /**
   * Documents in the order of `sort`, read through an index that holds them in that order, or null when no index
   * does. Lazy: a sorted query with a limit reads only the entries it needs (the newest page of a large collection
   * costs a page, not a sort of the collection). Every document still has to pass the filter. `keys`: the entries
   * the walk may read at most (the range it walks).
   */
  sortedScan(
    coll: Collection | undefined,
    filter: Doc,
    sort: Doc,
  ): { indexName: string; docs: Iterable<Doc>; keys: number } | null {
    if (!coll) return null;
    const fields = Object.keys(sort);
    // Directions arrive as numbers or BSON numeric wrappers (Int32, Double), whose value `Number` reads.
    const directions = Object.values(sort).map((d) => {
      const n = typeof d === 'number' || (typeof d === 'object' && d !== null) ? Number(d) : Number.NaN;
      return n === 1 || n === -1 ? n : 0;
    });
    if (directions.some((d) => d === 0) || directions.some((d) => d !== directions[0])) return null;
    const index = coll.indexes.find((candidate) => candidate.canServeSort(fields));
    if (!index) return null;
    const bounds = fieldBounds(filter, index.fields[0]!, { multikey: false });
    const ids = index.ordered(directions[0] === -1, bounds);
    const docs = (function* () {
      for (const id of ids) {
        const doc = coll.docs.get(id);
        if (doc) yield doc;
      }
    })();
    return { indexName: index.name, docs, keys: index.countOrdered(bounds) };
  }

  /**
   * The number of documents matching `filter` when an index answers it alone (an equality on the single field of a
   * plain index): two binary searches instead of reading the documents. Null when no index does.
   */
  countByIndex(coll: Collection | undefined, filter: Doc): number | null {
    if (!coll) return 0;
    const keys = Object.keys(filter);
    if (keys.length !== 1) return null;
    const field = keys[0]!;
    if (field.startsWith('$')) return null;
    let value = filter[field];
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      const operators = Object.keys(value);
      if (operators.length !== 1 || operators[0] !== '$eq') return null;
      value = (value as Doc).$eq;
    }
    if (
      typeof value !== 'string' &&
      typeof value !== 'number' &&
      typeof value !== 'boolean' &&
      !(value instanceof Date)
    )
      return null;
    const index = coll.indexes.find((candidate) => candidate.fields.length === 1 && candidate.canServeSort([field]));
    return index ? index.countEqual(value) : null;
  }

  // ---- writes ----

  /**
   * Runs synchronous mutations and journals them as one record. `track` receives a promise that resolves once the
   * record is durable (immediately in memory mode); the caller must await it before acknowledging.
   */
  write<T>(
    session: WriteSession | undefined,
    fn: (batch: WriteBatch) => T,
    track: (durable: Promise<void>) => void,
  ): T {
    if (this.closed) throw new MongoServerError(91, 'ShutdownInProgress', 'The server is shutting down');
    const batch = new WriteBatch(session);
    try {
      return fn(batch);
    } finally {
      track(this.flush(batch));
    }
  }

  /**
   * Applies a committed transaction's writes (the journal entries its view recorded, in order) as one journalled
   * batch, so a crash keeps all of them or none. When one cannot be applied (a write outside the transaction took
   * a unique key meanwhile) every applied one is undone, nothing is journalled, and the error is rethrown.
   */
  applyTransaction(session: WriteSession, entries: Doc[], track: (durable: Promise<void>) => void): void {
    if (this.closed) throw new MongoServerError(91, 'ShutdownInProgress', 'The server is shutting down');
    const batch = new WriteBatch(session);
    const undo: (() => void)[] = [];
    const seqBefore = this.changes.lastAllocatedSeq;
    try {
      for (const entry of entries) this.applyTransactionEntry(batch, entry, undo);
    } catch (err) {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      this.changes.discardAfter(seqBefore);
      throw err;
    }
    track(this.flush(batch));
  }

  private applyTransactionEntry(batch: WriteBatch, entry: Doc, undo: (() => void)[]): void {
    if (entry.k === 'create') {
      const db = asString(entry.db);
      const name = asString(entry.coll);
      // Created meanwhile outside the transaction: its writes go to that collection, as its indexes permit.
      if (this.getCollection(db, name)) return;
      this.createCollection(batch, db, name, (entry.options as Doc | undefined) ?? {});
      undo.push(() => this.detach(db, name));
      return;
    }
    if (entry.k === 'createIndex') {
      const coll = this.getCollection(asString(entry.db), asString(entry.coll));
      if (!coll) throw writeConflict();
      const spec = entry.spec as IndexSpec;
      if (this.createIndexes(batch, coll, [spec]) > 0) {
        undo.push(() => {
          coll.indexes = coll.indexes.filter((index) => index.name !== spec.name);
        });
      }
      return;
    }
    if (entry.k !== 'w') throw new MongoServerError(263, 'OperationNotSupportedInTransaction', 'not in a transaction');
    const r = recordFromDoc(entry.r as Doc);
    // A collection the transaction created has a 'create' entry before its writes; any other that is gone now was
    // dropped after the transaction read it.
    const coll = this.getCollection(r.db, r.coll);
    if (!coll) throw writeConflict();
    const id = canonicalKey(r.documentKey?._id);
    const before = coll.docs.get(id);
    const restore = (after: Doc | undefined): void => {
      if (after) for (const index of coll.indexes) index.remove(after, id);
      if (before) {
        coll.docs.set(id, before);
        for (const index of coll.indexes) index.add(before, id);
      } else coll.docs.delete(id);
    };
    if (r.op === 'insert' && r.postImage) {
      const doc = r.postImage;
      this.insert(batch, coll, doc);
      undo.push(() => restore(doc));
      return;
    }
    if (!before) throw writeConflict();
    if ((r.op === 'update' || r.op === 'replace') && r.postImage) {
      const after = r.postImage;
      this.replace(batch, coll, before, after, r.op, r.updateDescription);
      undo.push(() => restore(after));
    } else if (r.op === 'delete') {
      this.delete(batch, coll, before);
      undo.push(() => restore(undefined));
    }
  }

  private flush(batch: WriteBatch): Promise<void> {
    if (batch.entries.length === 0) return Promise.resolve();
    const markDurable = batch.lastSeq > 0n ? this.changes.beginBatch(batch.lastSeq) : null;
    const record: Doc = { ct: this.clock.current, e: batch.entries };
    const appended = this.journal ? this.journal.append(record) : Promise.resolve();
    return appended.then(
      () => {
        markDurable?.();
        this.maybeCompact();
      },
      (err: unknown) => {
        markDurable?.();
        this.warn(`journal append failed: ${(err as Error).message}`);
        throw new MongoServerError(1, 'InternalError', `journal append failed: ${(err as Error).message}`);
      },
    );
  }

  private record(batch: WriteBatch, fields: Omit<ChangeRecord, 'seq' | 'clusterTime' | 'wallTime'>): ChangeRecord {
    const rec: ChangeRecord = {
      seq: this.changes.nextSeq(),
      clusterTime: this.clock.tick(),
      wallTime: new Date(),
      ...fields,
    };
    const session = batch.session;
    if (session) session.applied = true;
    if (session?.inTransaction) {
      if (session.lsid) rec.lsid = session.lsid;
      if (session.txnNumber) rec.txnNumber = session.txnNumber;
      rec.txnOpIndex = batch.txnOpIndex++;
    }
    this.changes.append(rec);
    batch.lastSeq = rec.seq;
    return rec;
  }

  /** Returns the collection, creating it implicitly (as mongod does on first write). */
  ensureCollection(batch: WriteBatch, db: string, name: string): Collection {
    return this.getCollection(db, name) ?? this.createCollection(batch, db, name, {});
  }

  createCollection(batch: WriteBatch, db: string, name: string, options: Doc): Collection {
    validateNamespace(db, name);
    if (this.getCollection(db, name)) {
      throw new MongoServerError(48, 'NamespaceExists', `Collection ${db}.${name} already exists.`);
    }
    const coll = new Collection(db, name, new UUID(), options);
    this.attach(coll);
    const description: Doc = 'viewOn' in options ? { ...options } : { ...options, idIndex: ID_INDEX_SPEC };
    const r = this.record(batch, {
      db,
      coll: name,
      op: 'create',
      collectionUUID: coll.uuid,
      operationDescription: description,
    });
    batch.entries.push({ k: 'create', db, coll: name, uuid: coll.uuid, options, r: recordToDoc(r) });
    return coll;
  }

  protected attach(coll: Collection): void {
    let colls = this.dbs.get(coll.db);
    if (!colls) this.dbs.set(coll.db, (colls = new Map<string, Collection>()));
    colls.set(coll.name, coll);
  }

  protected detach(db: string, name: string): void {
    const colls = this.dbs.get(db);
    colls?.delete(name);
    if (colls && colls.size === 0) this.dbs.delete(db);
  }

  /** Drops a collection; returns the number of indexes it had, or null when it did not exist. */
  dropCollection(batch: WriteBatch, db: string, name: string): number | null {
    const coll = this.getCollection(db, name);
    if (!coll) return null;
    this.detach(db, name);
    const r = this.record(batch, { db, coll: name, op: 'drop', collectionUUID: coll.uuid });
    batch.entries.push({ k: 'drop', db, coll: name, r: recordToDoc(r) });
    return coll.indexes.length;
  }

  dropDatabase(batch: WriteBatch, db: string): void {
    const colls = this.collections(db);
    for (const c of colls) this.dropCollection(batch, db, c.name);
    if (colls.length === 0) return;
    const r = this.record(batch, { db, coll: '', op: 'dropDatabase' });
    batch.entries.push({ k: 'dropDatabase', db, r: recordToDoc(r) });
  }

  renameCollection(
    batch: WriteBatch,
    from: { db: string; coll: string },
    to: { db: string; coll: string },
    dropTarget: boolean,
  ): void {
    const source = this.getCollection(from.db, from.coll);
    if (!source)
      throw new MongoServerError(26, 'NamespaceNotFound', `Source collection ${from.db}.${from.coll} does not exist`);
    validateNamespace(to.db, to.coll);
    if (from.db === to.db && from.coll === to.coll) {
      throw new MongoServerError(20, 'IllegalOperation', "Can't rename a collection to itself");
    }
    if (this.getCollection(to.db, to.coll)) {
      if (!dropTarget) throw new MongoServerError(48, 'NamespaceExists', `target namespace exists`);
      this.dropCollection(batch, to.db, to.coll);
    }
    this.detach(from.db, from.coll);
    source.db = to.db;
    source.name = to.coll;
    this.attach(source);
    const r = this.record(batch, {
      db: from.db,
      coll: from.coll,
      op: 'rename',
      to: { ...to },
      collectionUUID: source.uuid,
      operationDescription: { to: { ...to } },
    });
    batch.entries.push({ k: 'rename', from, to, r: recordToDoc(r) });
  }

  collMod(batch: WriteBatch, coll: Collection, options: Doc): void {
    const before = coll.options;
    coll.applyOptions(options);
    const changed: Doc = {};
    for (const [k, v] of Object.entries(options)) if (canonicalKey(v) !== canonicalKey(before[k])) changed[k] = v;
    const r = this.record(batch, {
      db: coll.db,
      coll: coll.name,
      op: 'modify',
      collectionUUID: coll.uuid,
      operationDescription: changed,
      stateBeforeChange: { collectionOptions: { uuid: coll.uuid, ...before } },
    });
    batch.entries.push({ k: 'collMod', db: coll.db, coll: coll.name, options, r: recordToDoc(r) });
  }

  /**
   * collMod `index: {..., expireAfterSeconds}`: replaces the index's spec (a new object, so a snapshot being written
   * keeps the old one) and reports it as a `modify` event, as mongod does. Returns the previous value.
   */
  modifyIndex(batch: WriteBatch, coll: Collection, index: IndexData, expireAfterSeconds: number): unknown {
    const old = index.spec.expireAfterSeconds;
    index.spec = { ...index.spec, expireAfterSeconds };
    const r = this.record(batch, {
      db: coll.db,
      coll: coll.name,
      op: 'modify',
      collectionUUID: coll.uuid,
      operationDescription: { index: { name: index.name, expireAfterSeconds } },
      stateBeforeChange: {
        collectionOptions: { uuid: coll.uuid, ...coll.options },
        indexOptions: old === undefined ? {} : { expireAfterSeconds: old },
      },
    });
    batch.entries.push({
      k: 'modifyIndex',
      db: coll.db,
      coll: coll.name,
      name: index.name,
      expireAfterSeconds,
      r: recordToDoc(r),
    });
    return old;
  }

  /**
   * Creates indexes (idempotently for identical specs). Throws 85/86 on conflicts and 11000 when existing data
   * violates a new unique index. Returns how many were added.
   */
  createIndexes(batch: WriteBatch, coll: Collection, specs: IndexSpec[]): number {
    let added = 0;
    for (const spec of specs) {
      const existingByName = coll.indexes.find((i) => i.name === spec.name);
      const existingByKey = coll.indexes.find(
        (i) => canonicalKey(i.spec.key) === canonicalKey(spec.key) && sameKeyOrder(i.spec.key, spec.key),
      );
      if (existingByName) {
        if (
          canonicalKey(existingByName.spec.key) !== canonicalKey(spec.key) ||
          !sameKeyOrder(existingByName.spec.key, spec.key)
        ) {
          throw new MongoServerError(
            86,
            'IndexKeySpecsConflict',
            `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${formatValue(spec)}, existing index: ${formatValue(existingByName.spec)}`,
          );
        }
        if (!sameOptions(existingByName.spec, spec)) {
          throw new MongoServerError(
            85,
            'IndexOptionsConflict',
            `An equivalent index already exists with the same name but different options. Requested index: ${formatValue(spec)}, existing index: ${formatValue(existingByName.spec)}`,
          );
        }
        continue;
      }
      if (existingByKey && sameOptions(existingByKey.spec, spec)) {
        throw new MongoServerError(
          85,
          'IndexOptionsConflict',
          `Index already exists with a different name: ${existingByKey.name}`,
        );
      }
      if (existingByKey && existingByKey.unique !== (spec.unique === true)) {
        throw new MongoServerError(
          85,
          'IndexOptionsConflict',
          `An equivalent index already exists with a different name and options. Requested index: ${formatValue(spec)}, existing index: ${formatValue(existingByKey.spec)}`,
        );
      }
      const index = new IndexData(spec);
      const dup = index.build(coll.docs.entries());
      if (dup) throw duplicateKeyError(coll, index, dup.duplicate);
      coll.indexes.push(index);
      const r = this.record(batch, {
        db: coll.db,
        coll: coll.name,
        op: 'createIndexes',
        collectionUUID: coll.uuid,
        operationDescription: { indexes: [spec] },
      });
      batch.entries.push({ k: 'createIndex', db: coll.db, coll: coll.name, spec, r: recordToDoc(r) });
      added++;
    }
    return added;
  }

  dropIndex(batch: WriteBatch, coll: Collection, name: string): void {
    const at = coll.indexes.findIndex((i) => i.name === name);
    if (at < 0) throw new MongoServerError(27, 'IndexNotFound', `index not found with name [${name}]`);
    if (name === '_id_') throw new MongoServerError(72, 'InvalidOptions', 'cannot drop _id index');
    const [dropped] = coll.indexes.splice(at, 1);
    const r = this.record(batch, {
      db: coll.db,
      coll: coll.name,
      op: 'dropIndexes',
      collectionUUID: coll.uuid,
      operationDescription: { indexes: [dropped?.spec ?? { name }] },
    });
    batch.entries.push({ k: 'dropIndex', db: coll.db, coll: coll.name, name, r: recordToDoc(r) });
  }

  /** Inserts one document (which must already carry `_id`). Throws 11000 / 121 without side effects. */
  insert(batch: WriteBatch, coll: Collection, doc: Doc): void {
    const id = canonicalKey(doc._id);
    if (this.documentWriteObserver) this.documentWriteObserver.beforeWrite(coll, id, batch);
    if (coll.docs.has(id)) throw duplicateKeyError(coll, coll.indexes[0]!, [doc._id]);
    this.checkValidator(coll, doc);
    for (const index of coll.indexes) {
      const conflict = index.findConflict(doc, id);
      if (conflict) throw duplicateKeyError(coll, index, conflict);
    }
    coll.docs.set(id, doc);
    for (const index of coll.indexes) index.add(doc, id);
    if (this.documentWriteObserver) this.documentWriteObserver.afterWrite(coll, id, null);
    const r = this.record(batch, {
      db: coll.db,
      coll: coll.name,
      op: 'insert',
      collectionUUID: coll.uuid,
      documentKey: { _id: doc._id },
      postImage: doc,
    });
    batch.entries.push({ k: 'w', r: recordToDoc(r) });
  }

  /** Replaces `before` with `after` (same `_id`) as an update or a replacement. */
  replace(
    batch: WriteBatch,
    coll: Collection,
    before: Doc,
    after: Doc,
    op: 'update' | 'replace',
    updateDescription?: UpdateResult['updateDescription'],
  ): void {
    const id = canonicalKey(before._id);
    if (this.documentWriteObserver) this.documentWriteObserver.beforeWrite(coll, id, batch);
    this.checkValidator(coll, after);
    const changedIndexes = coll.indexes.filter(
      (index) => canonicalKey(index.keysFor(before)) !== canonicalKey(index.keysFor(after)),
    );
    for (const index of changedIndexes) {
      const conflict = index.findConflict(after, id);
      if (conflict) throw duplicateKeyError(coll, index, conflict);
    }
    for (const index of changedIndexes) {
      index.remove(before, id);
      index.add(after, id);
    }
    coll.docs.set(id, after);
    if (this.documentWriteObserver) this.documentWriteObserver.afterWrite(coll, id, before);
    const r = this.record(batch, {
      db: coll.db,
      coll: coll.name,
      op,
      collectionUUID: coll.uuid,
      documentKey: { _id: after._id },
      postImage: after,
      ...(coll.preAndPostImages ? { preImage: before } : {}),
      ...(op === 'update' && updateDescription ? { updateDescription } : {}),
    });
    batch.entries.push({ k: 'w', r: recordToDoc(r) });
  }

  delete(batch: WriteBatch, coll: Collection, doc: Doc): void {
    const id = canonicalKey(doc._id);
    if (!coll.docs.has(id)) return;
    if (this.documentWriteObserver) this.documentWriteObserver.beforeWrite(coll, id, batch);
    coll.docs.delete(id);
    for (const index of coll.indexes) index.remove(doc, id);
    if (this.documentWriteObserver) this.documentWriteObserver.afterWrite(coll, id, doc);
    const r = this.record(batch, {
      db: coll.db,
      coll: coll.name,
      op: 'delete',
      collectionUUID: coll.uuid,
      documentKey: { _id: doc._id },
      ...(coll.preAndPostImages ? { preImage: doc } : {}),
    });
    batch.entries.push({ k: 'w', r: recordToDoc(r) });
  }

  private checkValidator(coll: Collection, doc: Doc): void {
    if (coll.validator && !coll.validator(doc)) {
      throw new MongoServerError(121, 'DocumentValidationFailure', 'Document failed validation', {
        errInfo: { failingDocumentId: doc._id, details: {} },
      });
    }
  }

  // ---- durability ----

  /** Rebuilds the catalog and change history from a recovered snapshot and journal records. */
  recover(recovered: Recovered): void {
    const recovery = this.beginRecovery();
    for (const item of recovered.snapshot ?? []) recovery.snapshotRecord(item);
    for (const rec of recovered.records) recovery.journalRecord(rec);
    recovery.finish();
  }

  /**
   * Rebuilds the catalog and change history from records handed over one at a time, as `Journal.openInto` reads
   * them, so that a decoded record is garbage as soon as it has been applied instead of living until the whole book
   * is read. Document writes leave the indexes alone; every collection's indexes are built once in `finish` (a sort
   * and a bulk load), instead of one sorted insert per write, which grew with the collection's size. If recovery
   * fails half-way the store holds part of the data and must be discarded.
   */
  beginRecovery(): StoreRecovery {
    let lastSeq = 0n;
    let current: Collection | null = null;
    const stale = new Set<Collection>();
    // The history keeps, as records arrive, only what the change history would retain in the end: the newest records
    // within its count and byte bounds (always at least one). The others become garbage while still young, instead
    // of a journal of a million writes holding a million records until the end.
    const maxRecords = this.changes.recordLimit;
    const maxBytes = this.historyMaxBytes;
    let history: (ChangeRecord | undefined)[] = [];
    let sizes: number[] = [];
    let oldest = 0;
    let bytes = 0;
    const keep = (r: ChangeRecord): void => {
      const size = estimateRecordBytes(r);
      history.push(r);
      sizes.push(size);
      bytes += size;
      while (history.length - oldest > 1 && (history.length - oldest > maxRecords || bytes > maxBytes)) {
        bytes -= sizes[oldest] ?? 0;
        history[oldest] = undefined;
        oldest++;
      }
      if (oldest > 1024 && oldest * 2 > history.length) {
        history = history.slice(oldest);
        sizes = sizes.slice(oldest);
        oldest = 0;
      }
    };
    const snapshotRecord = (item: Doc): void => {
      switch (item.k) {
        case 'meta':
          if (item.clock instanceof Timestamp) this.clock.advanceTo(item.clock);
          if (item.seq instanceof Long) lastSeq = item.seq.toBigInt();
          break;
        case 'coll':
          current = new Collection(
            asString(item.db),
            asString(item.name),
            item.uuid as Binary,
            (item.options as Doc | undefined) ?? {},
          );
          current.indexes = ((item.indexes as IndexSpec[] | undefined) ?? []).map((spec) => new IndexData(spec));
          if (current.indexes.length === 0)
            current.indexes.push(new IndexData({ v: 2, key: { _id: 1 }, name: '_id_' }));
          this.attach(current);
          stale.add(current);
          break;
        case 'docs':
          for (const d of (item.docs as Doc[] | undefined) ?? []) current?.docs.set(canonicalKey(d._id), d);
          break;
        case 'hist':
          for (const r of (item.records as Doc[] | undefined) ?? []) keep(recordFromDoc(r));
          break;
        default:
          this.warn(`ignoring unknown snapshot record kind ${String(item.k)}`);
      }
    };
    const journalRecord = (rec: Doc): void => {
      if (rec.ct instanceof Timestamp) this.clock.advanceTo(rec.ct);
      for (const e of (rec.e as Doc[] | undefined) ?? []) {
        const r = e.r ? recordFromDoc(e.r as Doc) : null;
        if (r) {
          if (r.seq <= lastSeq) continue; // already covered by the snapshot
          keep(r);
          lastSeq = r.seq;
          this.clock.advanceTo(r.clusterTime);
        }
        this.replay(e, r, stale);
        if (r && !r.collectionUUID) {
          const uuid = this.getCollection(r.db, r.coll)?.uuid;
          if (uuid) r.collectionUUID = uuid;
        }
      }
    };
    const finish = (): void => {
      for (const coll of stale) for (const index of coll.indexes) index.build(coll.docs.entries());
      const retained = history.slice(oldest).filter((r): r is ChangeRecord => r !== undefined);
      for (const r of retained) {
        if (r.collectionUUID || !DOCUMENT_OPS.has(r.op)) continue;
        const uuid = this.getCollection(r.db, r.coll)?.uuid;
        if (uuid) r.collectionUUID = uuid;
      }
      this.changes.restore(retained, lastSeq);
    };
    return { snapshotRecord, journalRecord, finish };
  }

  /**
   * Gives a store that recovered without a journal the one it writes to from now on. A store recovering from disk
   * exists before its journal is open, because opening the journal is what streams the records into it.
   */
  attachJournal(journal: JournalLike): void {
    if (this.journal) throw new Error('the store already has a journal');
    this.journal = journal;
  }

  /** Applies one journal entry; document writes mark their collection in `stale` instead of updating its indexes. */
  private replay(e: Doc, r: ChangeRecord | null, stale: Set<Collection>): void {
    const db = asString(e.db);
    const name = asString(e.coll);
    switch (e.k) {
      case 'create':
        if (!this.getCollection(db, name))
          this.attach(new Collection(db, name, e.uuid as Binary, (e.options as Doc | undefined) ?? {}));
        return;
      case 'drop':
        this.detach(db, name);
        return;
      case 'dropDatabase':
        this.dbs.delete(db);
        return;
      case 'rename': {
        const from = e.from as { db: string; coll: string };
        const to = e.to as { db: string; coll: string };
        const source = this.getCollection(from.db, from.coll);
        if (!source) return;
        this.detach(from.db, from.coll);
        this.detach(to.db, to.coll);
        source.db = to.db;
        source.name = to.coll;
        this.attach(source);
        return;
      }
      case 'collMod':
        this.getCollection(db, name)?.applyOptions((e.options as Doc | undefined) ?? {});
        return;
      case 'createIndex': {
        const coll = this.getCollection(db, name);
        const spec = e.spec as IndexSpec;
        if (!coll || coll.indexes.some((i) => i.name === spec.name)) return;
        const index = new IndexData(spec);
        coll.indexes.push(index);
        // Built with the others at the end when writes were replayed without it; now otherwise.
        if (!stale.has(coll)) index.build(coll.docs.entries());
        return;
      }
      case 'modifyIndex': {
        const index = this.getCollection(db, name)?.indexes.find((i) => i.name === e.name);
        if (index) index.spec = { ...index.spec, expireAfterSeconds: e.expireAfterSeconds };
        return;
      }
      case 'dropIndex': {
        const coll = this.getCollection(db, name);
        if (coll) coll.indexes = coll.indexes.filter((i) => i.name !== e.name);
        return;
      }
      case 'w': {
        if (!r) return;
        const coll = this.getCollection(r.db, r.coll);
        if (!coll) return;
        const key = r.documentKey?._id;
        const id = canonicalKey(key);
        stale.add(coll);
        if (r.op === 'delete') {
          coll.docs.delete(id);
        } else if (r.postImage) {
          coll.docs.set(id, r.postImage);
        }
        return;
      }
      default:
        this.warn(`ignoring unknown journal entry kind ${String(e.k)}`);
    }
  }

  /**
   * The whole state as a record sequence, for journal compaction. The view is taken now (documents are immutable,
   * so holding references is enough); the returned iterable may be consumed later while writes continue.
   */
  snapshot(): Iterable<Doc> {
    const meta: Doc = {
      k: 'meta',
      v: 1,
      clock: this.clock.current,
      seq: Long.fromBigInt(this.changes.lastAllocatedSeq),
    };
    const colls = [...this.dbs.values()]
      .flatMap((m) => [...m.values()])
      .map((c) => ({
        head: {
          k: 'coll',
          db: c.db,
          name: c.name,
          uuid: c.uuid,
          options: c.options,
          indexes: c.indexes.map((i) => i.spec),
        },
        docs: [...c.docs.values()],
      }));
    const history = this.changes.retained();
    return (function* (): Generator<Doc> {
      yield meta;
      for (const c of colls) {
        yield c.head;
        for (let i = 0; i < c.docs.length; i += SNAPSHOT_CHUNK)
          yield { k: 'docs', docs: c.docs.slice(i, i + SNAPSHOT_CHUNK) };
      }
      for (let i = 0; i < history.length; i += SNAPSHOT_CHUNK) {
        yield { k: 'hist', records: history.slice(i, i + SNAPSHOT_CHUNK).map(recordToDoc) };
      }
    })();
  }

  private maybeCompact(): void {
    const journal = this.journal;
    if (!journal || this.compacting || this.closed) return;
    if (journal.journalBytes < this.compactThreshold || journal.journalBytes < journal.snapshotBytes) return;
    this.compacting = true;
    journal
      .compact(this.snapshot())
      .catch((err: unknown) => this.warn(`journal compaction failed: ${(err as Error).message}`))
      .finally(() => {
        this.compacting = false;
      });
  }

  /** Forces a compaction now (used at shutdown and by tests). */
  async compactNow(): Promise<void> {
    if (!this.journal) return;
    await this.journal.compact(this.snapshot());
  }

  /** Stops accepting writes and closes the journal. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.journal?.close();
  }
}

/** WriteConflict as mongod reports it inside a transaction: the driver retries the whole transaction. */
export function writeConflict(): MongoServerError {
  return new MongoServerError(
    112,
    'WriteConflict',
    'Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.',
    { errorLabels: ['TransientTransactionError'] },
  );
}

const ID_INDEX_SPEC: Doc = Object.freeze({ v: 2, key: Object.freeze({ _id: 1 }), name: '_id_' });

const NOT_AN_ID_LOOKUP = Symbol('notAnIdLookup');

/**
 * The `_id` value of a filter that is exactly `{ _id: <scalar> }`, whose matches are the one document stored under
 * `canonicalKey(value)` (numbers of every type compare by value there, as in the filter). Anything else (operators,
 * documents, arrays, regexes, null, other fields) goes through the general planner.
 */
function idEquality(filter: Doc): unknown {
  let id: unknown = NOT_AN_ID_LOOKUP;
  for (const key in filter) {
    if (key !== '_id' || id !== NOT_AN_ID_LOOKUP) return NOT_AN_ID_LOOKUP;
    id = filter[key];
  }
  if (typeof id === 'string' || (typeof id === 'number' && !Number.isNaN(id))) return id;
  if (id instanceof ObjectId || id instanceof Int32 || id instanceof Long) return id;
  if (id instanceof Double && !Number.isNaN(id.value)) return id;
  return NOT_AN_ID_LOOKUP;
}

/**
 * The `$or`s whose branches every match of `filter` satisfies one of: the filter's own and those inside its `$and`s
 * (not under `$nor`, `$not` or another `$or`), each as its list of branches.
 */
function requiredOrs(filter: Doc): Doc[][] {
  const out: Doc[][] = [];
  const visit = (clause: Doc): void => {
    for (const key in clause) {
      const value = clause[key];
      if (!Array.isArray(value)) continue;
      const entries = value.filter(isPlainObject);
      // A malformed entry fails the filter's compilation; no plan is made for it.
      if (entries.length !== value.length || entries.length === 0) continue;
      if (key === '$or') out.push(entries);
      else if (key === '$and') for (const entry of entries) visit(entry);
    }
  };
  visit(filter);
  return out;
}

/** Runs a chosen plan: the candidate ids (each once), recording each index scan in `scans`. */
function runChoice(coll: Collection, choice: PlanChoice, scans: IndexScanStats[]): Iterable<string> {
  switch (choice.kind) {
    case 'id': {
      const key = canonicalKey(choice.id);
      const found = coll.docs.has(key);
      scans.push({ indexName: '_id_', keysExamined: found ? 1 : 0 });
      return found ? [key] : [];
    }
    case 'index': {
      const { ids, keysExamined } = choice.index.scan(choice.bounds);
      scans.push({ indexName: choice.index.name, keysExamined });
      return ids;
    }
    case 'or': {
      const ids = new Set<string>();
      for (const branch of choice.branches) for (const id of runChoice(coll, branch, scans)) ids.add(id);
      return ids;
    }
  }
}

function sameKeyOrder(a: Doc, b: Doc): boolean {
  return Object.keys(a).join('\0') === Object.keys(b).join('\0');
}

const IGNORED_INDEX_OPTIONS = new Set(['v', 'name', 'key', 'ns', 'background']);

function sameOptions(a: Doc, b: Doc): boolean {
  const pick = (d: Doc): Doc => {
    const out: Doc = {};
    for (const [k, v] of Object.entries(d))
      if (!IGNORED_INDEX_OPTIONS.has(k) && v !== false && v !== undefined) out[k] = v;
    return out;
  };
  return canonicalKey(pick(a)) === canonicalKey(pick(b));
}

/** Checks a database/collection name as mongod does. */
export function validateNamespace(db: string, coll: string): void {
  if (db.length === 0 || /[/\\. "$\0]/.test(db))
    throw new MongoServerError(73, 'InvalidNamespace', `Invalid database name: '${db}'`);
  if (coll.length === 0 || coll.includes('\0') || coll.includes('$') || coll.startsWith('.')) {
    throw new MongoServerError(73, 'InvalidNamespace', `Invalid collection name: ${coll}`);
  }
}

/** Normalises a createIndexes spec: checks the key and fills the default name. */
export function normaliseIndexSpec(raw: Doc): IndexSpec {
  const key = raw.key;
  if (key === null || typeof key !== 'object' || Array.isArray(key) || Object.keys(key).length === 0) {
    throw new MongoServerError(67, 'CannotCreateIndex', "The 'key' field must be a non-empty object");
  }
  const name = raw.name === undefined ? defaultIndexName(key as Doc) : raw.name;
  if (typeof name !== 'string' || name.length === 0)
    throw new MongoServerError(2, 'BadValue', 'index name must be a non-empty string');
  const spec: IndexSpec = { v: 2, key: key as Doc, name };
  for (const [k, v] of Object.entries(raw)) if (k !== 'key' && k !== 'name' && k !== 'v' && k !== 'ns') spec[k] = v;
  return spec;
}

/** Mutations of one `Store.write` call, journalled together. */
export class WriteBatch {
  entries: Doc[] = [];
  lastSeq = 0n;
  /** Position of the next change record within a transaction's commit. */
  txnOpIndex = 0;
  constructor(readonly session?: WriteSession) {}
}
