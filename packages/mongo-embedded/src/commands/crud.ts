import { BSON, Long, ObjectId } from 'bson';
import {
  applyUpdate,
  canonicalKey,
  compileFilter,
  compileProjection,
  compileSort,
  getPathValues,
  isReplacement,
  MongoServerError,
  runPipeline,
  upsertSeed,
  type Doc,
} from '../query/index.js';
import { MAX_DOCUMENT_SIZE, type Collection, type QueryPlan } from '../storage/store.js';
import { write, type CommandContext } from './context.js';
import { takeBatch } from './cursors.js';
import {
  errorFields,
  isDoc,
  optionalDoc,
  optionalNonNegative,
  toBool,
  toNumber,
  writeError,
  YIELD_EVERY,
  yieldToEventLoop,
} from './util.js';

const DEFAULT_BATCH_SIZE = 101;
/** Documents written per journal record in multi-document commands, between yields. */
const WRITE_CHUNK = 500;

export function collectionName(ctx: CommandContext): string {
  const v = ctx.body[ctx.name];
  if (typeof v !== 'string' || v.length === 0) {
    throw new MongoServerError(73, 'InvalidNamespace', `Invalid namespace specified '${ctx.db}.${String(v)}'`);
  }
  return v;
}

/** Matching documents, scanning through the best index and yielding to the event loop during long scans. */
export async function findMatches(
  coll: Collection | undefined,
  store: CommandContext['store'],
  filter: Doc,
  stopAfter = Infinity,
): Promise<{ docs: Doc[]; plan: QueryPlan; docsExamined: number }> {
  const matcher = compileFilter(filter);
  const plan = store.plan(coll, filter);
  const docs: Doc[] = [];
  let examined = 0;
  for (const doc of plan.candidates) {
    examined++;
    if (examined % YIELD_EVERY === 0) await yieldToEventLoop();
    if (matcher(doc)) {
      docs.push(doc);
      if (docs.length >= stopAfter) break;
    }
  }
  return { docs, plan, docsExamined: examined };
}

function withIdFirst(doc: Doc): Doc {
  if (!('_id' in doc)) return { _id: new ObjectId(), ...doc };
  if (Object.keys(doc)[0] === '_id') return doc;
  const { _id, ...rest } = doc;
  return { _id, ...rest };
}

function checkSize(doc: Doc): void {
  const size = BSON.calculateObjectSize(doc);
  if (size > MAX_DOCUMENT_SIZE) {
    throw new MongoServerError(
      10334,
      'BSONObjectTooLarge',
      `BSONObj size: ${size} (0x${size.toString(16)}) is invalid. Size must be between 0 and ${MAX_DOCUMENT_SIZE}(16MB)`,
    );
  }
}

function checkIdType(doc: Doc): void {
  const id = doc._id;
  if (Array.isArray(id)) throw new MongoServerError(53, 'InvalidIdField', `The '_id' value cannot be of type array`);
  if (
    id !== null &&
    typeof id === 'object' &&
    'source' in id &&
    'options' in id &&
    (id as { _bsontype?: string })._bsontype === 'BSONRegExp'
  ) {
    throw new MongoServerError(53, 'InvalidIdField', `The '_id' value cannot be of type regex`);
  }
}

function docArray(ctx: CommandContext, field: string): Doc[] {
  const v = ctx.body[field];
  if (!Array.isArray(v))
    throw new MongoServerError(
      40414,
      'Location40414',
      `BSON field '${ctx.name}.${field}' is missing but a required field`,
    );
  for (const d of v)
    if (!isDoc(d))
      throw new MongoServerError(14, 'TypeMismatch', `BSON field '${ctx.name}.${field}' must be an array of objects`);
  return v as Doc[];
}

/** `insert`: ordered stops at the first error; unordered reports every failing index. */
export async function insert(ctx: CommandContext): Promise<Doc> {
  const name = collectionName(ctx);
  const docs = docArray(ctx, 'documents');
  const ordered = ctx.body.ordered === undefined ? true : toBool(ctx.body.ordered);
  const checkSizes = ctx.conn.request.largestDocumentSize > MAX_DOCUMENT_SIZE;
  const writeErrors: Doc[] = [];
  let n = 0;
  let stop = false;
  for (let start = 0; start < docs.length && !stop; start += WRITE_CHUNK) {
    if (start > 0) await yieldToEventLoop();
    write(ctx, (batch) => {
      const coll = ctx.store.ensureCollection(batch, ctx.db, name);
      for (let i = start; i < Math.min(docs.length, start + WRITE_CHUNK); i++) {
        try {
          const doc = withIdFirst(docs[i]!);
          checkIdType(doc);
          if (checkSizes) checkSize(doc);
          ctx.store.insert(batch, coll, doc);
          n++;
        } catch (err) {
          if (!(err instanceof MongoServerError)) throw err;
          writeErrors.push(writeError(i, err));
          if (ordered) {
            stop = true;
            break;
          }
        }
      }
    });
  }
  return writeErrors.length > 0 ? { n, writeErrors } : { n };
}

interface UpdateOutcome {
  matched: number;
  modified: number;
  upsertedId?: unknown;
}

function updateStatement(stmt: Doc): { q: Doc; u: Doc | Doc[]; upsert: boolean; multi: boolean; arrayFilters?: Doc[] } {
  const q = stmt.q ?? {};
  const u = stmt.u;
  if (!isDoc(q))
    throw new MongoServerError(
      14,
      'TypeMismatch',
      "BSON field 'update.updates.q' is the wrong type, expected type 'object'",
    );
  if (!isDoc(u) && !(Array.isArray(u) && u.every(isDoc))) {
    throw new MongoServerError(
      14,
      'TypeMismatch',
      "BSON field 'update.updates.u' is the wrong type, expected type 'object' or 'array'",
    );
  }
  const arrayFilters = stmt.arrayFilters;
  if (arrayFilters !== undefined && !(Array.isArray(arrayFilters) && arrayFilters.every(isDoc))) {
    throw new MongoServerError(2, 'BadValue', 'arrayFilters must be an array of objects');
  }
  const multi = toBool(stmt.multi);
  if (multi && isDoc(u) && isReplacement(u)) {
    throw new MongoServerError(9, 'FailedToParse', 'multi update is not supported for replacement-style update');
  }
  return { q, u: u, upsert: toBool(stmt.upsert), multi, ...(arrayFilters ? { arrayFilters: arrayFilters } : {}) };
}

/** Applies `u` to one current document; returns whether it changed. Throws on invalid updates. */
function updateOne(
  ctx: CommandContext,
  coll: Collection,
  current: Doc,
  u: Doc | Doc[],
  arrayFilters: Doc[] | undefined,
): Doc | null {
  const result = applyUpdate(current, u, {
    isUpsertInsert: false,
    now: new Date(),
    clusterTime: ctx.store.clock.current,
    ...(arrayFilters ? { arrayFilters } : {}),
  });
  if (!result.modified) return null;
  const after = withIdFirst(result.doc);
  if (canonicalKey(after._id) !== canonicalKey(current._id)) {
    throw new MongoServerError(
      66,
      'ImmutableField',
      `Performing an update on the path '_id' would modify the immutable field '_id'`,
    );
  }
  checkSize(after);
  write(ctx, (batch) =>
    ctx.store.replace(
      batch,
      coll,
      current,
      after,
      !Array.isArray(u) && isReplacement(u) ? 'replace' : 'update',
      result.updateDescription,
    ),
  );
  return after;
}

function upsertDocument(ctx: CommandContext, q: Doc, u: Doc | Doc[], arrayFilters: Doc[] | undefined): Doc {
  const seed = upsertSeed(q);
  const result = applyUpdate(seed, u, {
    isUpsertInsert: true,
    now: new Date(),
    clusterTime: ctx.store.clock.current,
    ...(arrayFilters ? { arrayFilters } : {}),
  });
  let doc = result.doc;
  if (!Array.isArray(u) && isReplacement(u) && seed._id !== undefined && doc._id === undefined)
    doc = { _id: seed._id, ...doc };
  doc = withIdFirst(doc);
  checkIdType(doc);
  checkSize(doc);
  return doc;
}

async function runUpdateStatement(ctx: CommandContext, name: string, stmt: Doc): Promise<UpdateOutcome> {
  const { q, u, upsert, multi, arrayFilters } = updateStatement(stmt);
  const coll = ctx.store.getCollection(ctx.db, name);
  const { docs } = await findMatches(coll, ctx.store, q, multi ? Infinity : 1);
  if (docs.length === 0) {
    if (!upsert) return { matched: 0, modified: 0 };
    const doc = upsertDocument(ctx, q, u, arrayFilters);
    write(ctx, (batch) => ctx.store.insert(batch, ctx.store.ensureCollection(batch, ctx.db, name), doc));
    return { matched: 0, modified: 0, upsertedId: doc._id };
  }
  const matcher = compileFilter(q);
  let matched = 0;
  let modified = 0;
  for (let i = 0; i < docs.length; i++) {
    if (i > 0 && i % WRITE_CHUNK === 0) await yieldToEventLoop();
    // Another connection may have changed the document while this one yielded: re-read and re-check it.
    const live = coll?.getById(docs[i]!._id);
    if (!live || !coll) continue;
    if (live !== docs[i] && !matcher(live)) continue;
    matched++;
    if (updateOne(ctx, coll, live, u, arrayFilters)) modified++;
  }
  return { matched, modified };
}

/** `update`: each statement may upsert, be multi, replace, or use a pipeline. */
export async function update(ctx: CommandContext): Promise<Doc> {
  const name = collectionName(ctx);
  const statements = docArray(ctx, 'updates');
  const ordered = ctx.body.ordered === undefined ? true : toBool(ctx.body.ordered);
  let n = 0;
  let nModified = 0;
  const upserted: Doc[] = [];
  const writeErrors: Doc[] = [];
  for (let index = 0; index < statements.length; index++) {
    try {
      const outcome = await runUpdateStatement(ctx, name, statements[index]!);
      if (outcome.upsertedId !== undefined) {
        upserted.push({ index, _id: outcome.upsertedId });
        n += 1;
      } else {
        n += outcome.matched;
        nModified += outcome.modified;
      }
    } catch (err) {
      if (!(err instanceof MongoServerError)) throw err;
      writeErrors.push(writeError(index, err));
      if (ordered) break;
    }
  }
  const reply: Doc = { n, nModified };
  if (upserted.length > 0) reply.upserted = upserted;
  if (writeErrors.length > 0) reply.writeErrors = writeErrors;
  return reply;
}

/** `delete`: `limit: 1` removes the first match, `limit: 0` every match. */
export async function remove(ctx: CommandContext): Promise<Doc> {
  const name = collectionName(ctx);
  const statements = docArray(ctx, 'deletes');
  const ordered = ctx.body.ordered === undefined ? true : toBool(ctx.body.ordered);
  let n = 0;
  const writeErrors: Doc[] = [];
  for (let index = 0; index < statements.length; index++) {
    const stmt = statements[index]!;
    try {
      const q = stmt.q ?? {};
      if (!isDoc(q))
        throw new MongoServerError(
          14,
          'TypeMismatch',
          "BSON field 'delete.deletes.q' is the wrong type, expected type 'object'",
        );
      const limit = toNumber(stmt.limit);
      if (limit !== 0 && limit !== 1)
        throw new MongoServerError(
          9,
          'FailedToParse',
          'The limit field in delete objects must be 0 or 1. Got ' + String(limit),
        );
      const coll = ctx.store.getCollection(ctx.db, name);
      if (!coll) continue;
      const { docs } = await findMatches(coll, ctx.store, q, limit === 1 ? 1 : Infinity);
      for (let start = 0; start < docs.length; start += WRITE_CHUNK) {
        if (start > 0) await yieldToEventLoop();
        write(ctx, (batch) => {
          for (const doc of docs.slice(start, start + WRITE_CHUNK)) {
            const live = coll.getById(doc._id);
            if (!live) continue;
            ctx.store.delete(batch, coll, live);
            n++;
          }
        });
      }
    } catch (err) {
      if (!(err instanceof MongoServerError)) throw err;
      writeErrors.push(writeError(index, err));
      if (ordered) break;
    }
  }
  return writeErrors.length > 0 ? { n, writeErrors } : { n };
}

/** `findAndModify`: errors are top-level (ok: 0), not writeErrors. */
export async function findAndModify(ctx: CommandContext): Promise<Doc> {
  const name = collectionName(ctx);
  const body = ctx.body;
  const query = optionalDoc(body, 'query') ?? {};
  const sort = optionalDoc(body, 'sort');
  const fields = optionalDoc(body, 'fields');
  const isRemove = toBool(body.remove);
  const upd = body.update;
  const returnNew = toBool(body.new);
  const upsert = toBool(body.upsert);
  const arrayFilters = Array.isArray(body.arrayFilters) ? (body.arrayFilters as Doc[]) : undefined;
  if (isRemove && upd !== undefined)
    throw new MongoServerError(9, 'FailedToParse', 'Cannot specify both an update and remove=true');
  if (!isRemove && upd === undefined)
    throw new MongoServerError(9, 'FailedToParse', 'Either an update or remove=true must be specified');
  if (isRemove && (upsert || returnNew))
    throw new MongoServerError(9, 'FailedToParse', 'Cannot specify both upsert=true and remove=true');
  if (!isRemove && !isDoc(upd) && !(Array.isArray(upd) && upd.every(isDoc))) {
    throw new MongoServerError(
      14,
      'TypeMismatch',
      "BSON field 'findAndModify.update' is the wrong type, expected type 'object' or 'array'",
    );
  }
  const project = fields && Object.keys(fields).length > 0 ? compileProjection(fields) : (d: Doc) => d;
  const coll = ctx.store.getCollection(ctx.db, name);
  const { docs } = await findMatches(coll, ctx.store, query, sort ? Infinity : 1);
  if (sort && Object.keys(sort).length > 0) docs.sort(compileSort(sort));
  const found = docs[0] && coll ? coll.getById(docs[0]._id) : undefined;

  if (isRemove) {
    if (!found || !coll) return { lastErrorObject: { n: 0 }, value: null };
    write(ctx, (batch) => ctx.store.delete(batch, coll, found));
    return { lastErrorObject: { n: 1 }, value: project(found) };
  }
  const u = upd as Doc | Doc[];
  if (found && coll) {
    const after = updateOne(ctx, coll, found, u, arrayFilters) ?? found;
    return { lastErrorObject: { n: 1, updatedExisting: true }, value: project(returnNew ? after : found) };
  }
  if (!upsert) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null };
  const doc = upsertDocument(ctx, query, u, arrayFilters);
  write(ctx, (batch) => ctx.store.insert(batch, ctx.store.ensureCollection(batch, ctx.db, name), doc));
  return {
    lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id },
    value: returnNew ? project(doc) : null,
  };
}

interface FindSpec {
  filter: Doc;
  sort?: Doc;
  projection?: Doc;
  skip: number;
  limit: number;
}

function findSpec(body: Doc): FindSpec {
  const limitRaw = toNumber(body.limit);
  return {
    filter: optionalDoc(body, 'filter') ?? {},
    ...(optionalDoc(body, 'sort') ? { sort: optionalDoc(body, 'sort') } : {}),
    ...(optionalDoc(body, 'projection') ? { projection: optionalDoc(body, 'projection') } : {}),
    skip: optionalNonNegative(body, 'skip') ?? 0,
    limit: limitRaw === undefined ? 0 : Math.abs(Math.trunc(limitRaw)),
  };
}

/** Runs a find; returns the full result list and what it cost (for explain). */
export async function executeFind(
  ctx: CommandContext,
  name: string,
  spec: FindSpec,
): Promise<{ docs: Doc[]; plan: QueryPlan; docsExamined: number }> {
  const coll = ctx.store.getCollection(ctx.db, name);
  const hasSort = spec.sort !== undefined && Object.keys(spec.sort).length > 0;
  const project =
    spec.projection && Object.keys(spec.projection).length > 0 ? compileProjection(spec.projection) : null;
  const comparator = hasSort ? compileSort(spec.sort!) : null;
  const stopAfter = !hasSort && spec.limit > 0 ? spec.skip + spec.limit : Infinity;
  if (hasSort && spec.limit > 0) {
    // A limited sort that an index already holds in order reads only as far as the limit (the newest page of a
    // large collection costs a page, not a sort of the collection).
    const sorted = ctx.store.sortedScan(coll, spec.filter, spec.sort!);
    if (sorted) {
      const matcher = compileFilter(spec.filter);
      const wanted = spec.skip + spec.limit;
      const found: Doc[] = [];
      let examined = 0;
      for (const doc of sorted.docs) {
        examined++;
        if (examined % YIELD_EVERY === 0) await yieldToEventLoop();
        if (matcher(doc)) {
          found.push(doc);
          if (found.length >= wanted) break;
        }
      }
      let docs = found.slice(spec.skip);
      if (project) docs = docs.map(project);
      return {
        docs,
        plan: { indexName: sorted.indexName, keysExamined: examined, candidates: [] },
        docsExamined: examined,
      };
    }
  }
  const result = await findMatches(coll, ctx.store, spec.filter, stopAfter);
  let docs = result.docs;
  if (comparator) docs.sort(comparator);
  if (spec.skip > 0 || spec.limit > 0)
    docs = docs.slice(spec.skip, spec.limit > 0 ? spec.skip + spec.limit : undefined);
  if (project) docs = docs.map(project);
  return { docs, plan: result.plan, docsExamined: result.docsExamined };
}

/** The cursor part of a reply: the first batch, and a server cursor when more remain. */
export function cursorReply(
  ctx: CommandContext,
  ns: string,
  docs: Doc[],
  batchSizeRaw: unknown,
  singleBatch: boolean,
): Doc {
  const batchSize = toNumber(batchSizeRaw);
  const size = batchSize === undefined || batchSize <= 0 ? (batchSize === 0 ? 0 : DEFAULT_BATCH_SIZE) : batchSize;
  const firstBatch = takeBatch(docs, 0, size);
  let id = Long.ZERO;
  if (!singleBatch && firstBatch.length < docs.length) id = ctx.cursors.registerPlain(ns, docs, firstBatch.length).id;
  return { cursor: { firstBatch, id, ns } };
}

export async function find(ctx: CommandContext): Promise<Doc> {
  const name = collectionName(ctx);
  const spec = findSpec(ctx.body);
  const { docs } = await executeFind(ctx, name, spec);
  const limitRaw = toNumber(ctx.body.limit);
  const singleBatch = toBool(ctx.body.singleBatch) || (limitRaw !== undefined && limitRaw < 0);
  return cursorReply(ctx, `${ctx.db}.${name}`, docs, ctx.body.batchSize, singleBatch);
}

export async function count(ctx: CommandContext): Promise<Doc> {
  const name = collectionName(ctx);
  const query = optionalDoc(ctx.body, 'query') ?? {};
  const skip = optionalNonNegative(ctx.body, 'skip') ?? 0;
  const limit = Math.abs(toNumber(ctx.body.limit) ?? 0);
  const coll = ctx.store.getCollection(ctx.db, name);
  if (!coll) return { n: 0 };
  let n: number;
  if (Object.keys(query).length === 0) n = coll.docs.size;
  else
    n =
      ctx.store.countByIndex(coll, query) ??
      (await findMatches(coll, ctx.store, query, limit > 0 ? skip + limit : Infinity)).docs.length;
  n = Math.max(0, n - skip);
  if (limit > 0) n = Math.min(n, limit);
  return { n };
}

export async function distinct(ctx: CommandContext): Promise<Doc> {
  const name = collectionName(ctx);
  const key = ctx.body.key;
  if (typeof key !== 'string')
    throw new MongoServerError(
      14,
      'TypeMismatch',
      "BSON field 'distinct.key' is the wrong type, expected type 'string'",
    );
  const query = optionalDoc(ctx.body, 'query') ?? {};
  const coll = ctx.store.getCollection(ctx.db, name);
  const { docs } = await findMatches(coll, ctx.store, query);
  const seen = new Set<string>();
  const values: unknown[] = [];
  const add = (v: unknown): void => {
    if (v === undefined) return;
    const k = canonicalKey(v);
    if (seen.has(k)) return;
    seen.add(k);
    values.push(v);
  };
  for (const doc of docs) {
    for (const v of getPathValues(doc, key)) {
      if (Array.isArray(v)) for (const el of v as unknown[]) add(el);
      else add(v);
    }
  }
  return { values };
}

/** `[{ $match }, { $group: { _id: <number or null>, <field>: { $sum: 1 } } }]`: a count, as drivers send it. */
function isNumericWrapper(value: unknown): boolean {
  const type = typeof value === 'object' && value !== null ? (value as { _bsontype?: unknown })._bsontype : undefined;
  return type === 'Int32' || type === 'Double' || type === 'Long';
}

function countPipeline(pipeline: Doc[]): { filter: Doc; id: unknown; field: string } | null {
  if (pipeline.length !== 2) return null;
  const [match, group] = pipeline;
  if (!match || !group || Object.keys(match).length !== 1 || Object.keys(group).length !== 1) return null;
  if (!isDoc(match.$match) || !isDoc(group.$group)) return null;
  const { _id: id, ...accumulators } = group.$group;
  // A constant group key: null, or a number (plain or a BSON numeric wrapper, as the wire hands it over).
  if (id !== null && typeof id !== 'number' && !isNumericWrapper(id)) return null;
  const fields = Object.entries(accumulators);
  if (fields.length !== 1) return null;
  const [field, accumulator] = fields[0]!;
  if (!isDoc(accumulator) || Object.keys(accumulator).length !== 1 || Number(accumulator.$sum) !== 1) return null;
  return { filter: match.$match, id, field };
}

/** Plain (non-change-stream) aggregation over one collection. */
export async function aggregateCollection(ctx: CommandContext, name: string, pipeline: Doc[]): Promise<Doc> {
  const coll = ctx.store.getCollection(ctx.db, name);
  const first = pipeline[0];
  const counted = countPipeline(pipeline);
  if (counted) {
    // The drivers' countDocuments: `$match` then a `$group` counting everything. An index may answer it alone.
    const n = ctx.store.countByIndex(coll, counted.filter);
    if (n !== null) {
      const docs = n === 0 ? [] : [{ _id: counted.id, [counted.field]: n }];
      const cursorOpts = optionalDoc(ctx.body, 'cursor') ?? {};
      return cursorReply(ctx, `${ctx.db}.${name}`, docs, cursorOpts.batchSize, false);
    }
  }
  let input: Doc[];
  if (first && isDoc(first.$match)) {
    input = (await findMatches(coll, ctx.store, first.$match)).docs;
    pipeline = pipeline.slice(1);
  } else {
    input = coll ? [...coll.docs.values()] : [];
  }
  const docs = runPipeline(input, pipeline, { now: new Date() });
  const cursorOpts = optionalDoc(ctx.body, 'cursor') ?? {};
  return cursorReply(ctx, `${ctx.db}.${name}`, docs, cursorOpts.batchSize, false);
}

/** `explain` of find/count/distinct: reports the plan and what it examined (the same stats mongod reports). */
export async function explain(ctx: CommandContext): Promise<Doc> {
  const inner = ctx.body.explain;
  if (!isDoc(inner))
    throw new MongoServerError(14, 'TypeMismatch', "BSON field 'explain' is the wrong type, expected type 'object'");
  const innerName = Object.keys(inner)[0];
  const collName = innerName ? inner[innerName] : undefined;
  if (typeof collName !== 'string')
    throw new MongoServerError(2, 'BadValue', 'explain needs a command on a collection');
  let spec: FindSpec;
  if (innerName === 'find') spec = findSpec(inner);
  else if (innerName === 'count') spec = { filter: optionalDoc(inner, 'query') ?? {}, skip: 0, limit: 0 };
  else if (innerName === 'distinct') spec = { filter: optionalDoc(inner, 'query') ?? {}, skip: 0, limit: 0 };
  else throw new MongoServerError(115, 'CommandNotSupported', `explain is not supported for ${String(innerName)}`);
  const { docs, plan, docsExamined } = await executeFind(ctx, collName, spec);
  const inputStage = plan.indexName
    ? { stage: 'IXSCAN', indexName: plan.indexName, keysExamined: plan.keysExamined }
    : { stage: 'COLLSCAN', docsExamined };
  const winningPlan = plan.indexName
    ? { stage: 'FETCH', inputStage: { stage: 'IXSCAN', indexName: plan.indexName } }
    : { stage: 'COLLSCAN' };
  return {
    explainVersion: '1',
    queryPlanner: { namespace: `${ctx.db}.${collName}`, parsedQuery: spec.filter, winningPlan, rejectedPlans: [] },
    executionStats: {
      executionSuccess: true,
      nReturned: docs.length,
      totalKeysExamined: plan.keysExamined,
      totalDocsExamined: docsExamined,
      executionStages: plan.indexName
        ? { stage: 'FETCH', nReturned: docs.length, docsExamined, inputStage }
        : { ...inputStage, nReturned: docs.length },
    },
    command: inner,
    serverInfo: { host: ctx.info.host, port: ctx.info.port, version: '7.0.14' },
  };
}

export { errorFields };
