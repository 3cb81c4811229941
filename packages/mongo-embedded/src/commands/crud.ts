import { BSON, Long, ObjectId } from 'bson';
import {
  applyUpdate,
  canonicalKey,
  diffDocuments,
  evaluateExpression,
  compileFilter,
  compileProjection,
  compileSort,
  getPathValues,
  isReplacement,
  MongoServerError,
  runPipeline,
  upsertSeed,
  validateArrayFilters,
  type Collation,
  type Doc,
  type TextScores,
} from '../query/index.js';
import { MAX_DOCUMENT_SIZE, type Collection, type PlanChoice, type QueryPlan } from '../storage/store.js';
import { write, type CommandContext } from './context.js';
import {
  effectiveCollation,
  isView,
  queryOptions,
  readLet,
  requireNotView,
  resolveView,
  SIMPLE,
  withTextSearch,
  type QueryOptions,
} from './query-options.js';
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

/**
 * Matching documents, scanning through the best index (or the plan `choice` the caller already weighed) and yielding
 * to the event loop during long scans.
 */
export async function findMatches(
  coll: Collection | undefined,
  store: CommandContext['store'],
  filter: Doc,
  stopAfter = Infinity,
  opts: QueryOptions = SIMPLE,
  choice?: PlanChoice | null,
): Promise<{ docs: Doc[]; plan: QueryPlan; docsExamined: number }> {
  const matcher = opts === SIMPLE ? compileFilter(filter) : compileFilter(filter, opts);
  const plan = store.plan(coll, filter, opts.collation, choice);
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
  requireNotView(ctx.store.getCollection(ctx.db, name));
  const ordered = ctx.body.ordered === undefined ? true : toBool(ctx.body.ordered);
  const checkSizes = ctx.conn.request.largestDocumentSize > MAX_DOCUMENT_SIZE;
  const writeErrors: Doc[] = [];
  let n = 0;
  // An object, not a `let`: the flag is set inside the write callback, where control-flow narrowing cannot see it.
  const progress = { stop: false };
  for (let start = 0; start < docs.length && !progress.stop; start += WRITE_CHUNK) {
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
            progress.stop = true;
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

function arrayFiltersOption(raw: unknown, field: string): Doc[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) {
    throw new MongoServerError(
      14,
      'TypeMismatch',
      `BSON field '${field}.arrayFilters' is the wrong type '${typeof raw}', expected type 'array'`,
    );
  }
  for (const f of raw) {
    if (!isDoc(f)) {
      throw new MongoServerError(
        14,
        'TypeMismatch',
        `BSON field '${field}.arrayFilters' is the wrong type, expected an array of objects`,
      );
    }
  }
  return raw as Doc[];
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
  const arrayFilters = arrayFiltersOption(stmt.arrayFilters, 'update.updates');
  if (arrayFilters) validateArrayFilters(u, arrayFilters);
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
  query: Doc,
  vars?: Record<string, unknown>,
  collation: Collation | null = null,
): Doc | null {
  const result = applyUpdate(current, u, {
    isUpsertInsert: false,
    now: new Date(),
    clusterTime: ctx.store.clock.current,
    query,
    ...(vars ? { vars } : {}),
    ...(collation ? { collation } : {}),
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

function upsertDocument(
  ctx: CommandContext,
  q: Doc,
  u: Doc | Doc[],
  arrayFilters: Doc[] | undefined,
  vars?: Record<string, unknown>,
): Doc {
  const seed = upsertSeed(q);
  const result = applyUpdate(seed, u, {
    isUpsertInsert: true,
    now: new Date(),
    clusterTime: ctx.store.clock.current,
    query: q,
    ...(vars ? { vars } : {}),
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

async function runUpdateStatement(
  ctx: CommandContext,
  name: string,
  stmt: Doc,
  letVars: Record<string, unknown> | undefined,
): Promise<UpdateOutcome> {
  const { q, u, upsert, multi, arrayFilters } = updateStatement(stmt);
  const coll = ctx.store.getCollection(ctx.db, name);
  const opts = withTextSearch(queryOptions(stmt.collation, letVars, coll), coll, q);
  const { docs } = await findMatches(coll, ctx.store, q, multi ? Infinity : 1, opts);
  if (docs.length === 0) {
    if (!upsert) return { matched: 0, modified: 0 };
    const doc = upsertDocument(ctx, q, u, arrayFilters, letVars);
    write(ctx, (batch) => ctx.store.insert(batch, ctx.store.ensureCollection(batch, ctx.db, name), doc));
    return { matched: 0, modified: 0, upsertedId: doc._id };
  }
  const matcher = opts === SIMPLE ? compileFilter(q) : compileFilter(q, opts);
  let matched = 0;
  let modified = 0;
  for (let i = 0; i < docs.length; i++) {
    if (i > 0 && i % WRITE_CHUNK === 0) await yieldToEventLoop();
    // Another connection may have changed the document while this one yielded: re-read and re-check it.
    const live = coll?.getById(docs[i]!._id);
    if (!live || !coll) continue;
    if (live !== docs[i] && !matcher(live)) continue;
    matched++;
    if (updateOne(ctx, coll, live, u, arrayFilters, q, letVars, opts.collation)) modified++;
  }
  return { matched, modified };
}

/** `update`: each statement may upsert, be multi, replace, or use a pipeline. */
export async function update(ctx: CommandContext): Promise<Doc> {
  const name = collectionName(ctx);
  const statements = docArray(ctx, 'updates');
  requireNotView(ctx.store.getCollection(ctx.db, name));
  const letVars = readLet(ctx.body.let, 'update');
  // `sort` on update statements arrived with 8.0; the 7.0 this engine advertises fails the whole command on it.
  for (const stmt of statements) {
    if (stmt.sort !== undefined) {
      throw new MongoServerError(40415, 'Location40415', "BSON field 'update.updates.sort' is an unknown field.");
    }
    arrayFiltersOption(stmt.arrayFilters, 'update.updates');
  }
  const ordered = ctx.body.ordered === undefined ? true : toBool(ctx.body.ordered);
  let n = 0;
  let nModified = 0;
  const upserted: Doc[] = [];
  const writeErrors: Doc[] = [];
  for (let index = 0; index < statements.length; index++) {
    try {
      const outcome = await runUpdateStatement(ctx, name, statements[index]!, letVars);
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
  requireNotView(ctx.store.getCollection(ctx.db, name));
  const letVars = readLet(ctx.body.let, 'delete');
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
      const opts = withTextSearch(queryOptions(stmt.collation, letVars, coll), coll, q);
      const { docs } = await findMatches(coll, ctx.store, q, limit === 1 ? 1 : Infinity, opts);
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
  const arrayFilters = arrayFiltersOption(body.arrayFilters, 'findAndModify');
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
  if (arrayFilters) {
    if (isRemove) throw new MongoServerError(9, 'FailedToParse', 'Cannot specify arrayFilters and remove=true');
    validateArrayFilters(upd as Doc | Doc[], arrayFilters);
  }
  const project = fields && Object.keys(fields).length > 0 ? compileProjection(fields, { query }) : (d: Doc) => d;
  const coll = ctx.store.getCollection(ctx.db, name);
  requireNotView(coll);
  const letVars = readLet(body.let, 'findAndModify');
  const opts = queryOptions(body.collation, letVars, coll);
  const { docs } = await findMatches(coll, ctx.store, query, sort ? Infinity : 1, opts);
  if (sort && Object.keys(sort).length > 0) docs.sort(compileSort(sort, opts.collation));
  const found = docs[0] && coll ? coll.getById(docs[0]._id) : undefined;

  if (isRemove) {
    if (!found || !coll) return { lastErrorObject: { n: 0 }, value: null };
    write(ctx, (batch) => ctx.store.delete(batch, coll, found));
    return { lastErrorObject: { n: 1 }, value: project(found) };
  }
  const u = upd as Doc | Doc[];
  if (found && coll) {
    const after = updateOne(ctx, coll, found, u, arrayFilters, query, letVars, opts.collation) ?? found;
    return { lastErrorObject: { n: 1, updatedExisting: true }, value: project(returnNew ? after : found) };
  }
  if (!upsert) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null };
  const doc = upsertDocument(ctx, query, u, arrayFilters, letVars);
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
  collation?: unknown;
  vars?: Record<string, unknown> | undefined;
}

function findSpec(body: Doc): FindSpec {
  const limitRaw = toNumber(body.limit);
  const vars = readLet(body.let, 'find');
  return {
    ...(body.collation !== undefined ? { collation: body.collation } : {}),
    ...(vars ? { vars } : {}),
    filter: optionalDoc(body, 'filter') ?? {},
    ...(optionalDoc(body, 'sort') ? { sort: optionalDoc(body, 'sort') } : {}),
    ...(optionalDoc(body, 'projection') ? { projection: optionalDoc(body, 'projection') } : {}),
    skip: optionalNonNegative(body, 'skip') ?? 0,
    limit: limitRaw === undefined ? 0 : Math.abs(Math.trunc(limitRaw)),
  };
}

/** What a find returned and what it cost (for explain). */
interface FindOutcome {
  docs: Doc[];
  plan: QueryPlan;
  docsExamined: number;
  /** Whether the matches were sorted after the plan ran (not read in order from an index). */
  sortedInMemory?: boolean;
}

/** Runs a find; returns the full result list and what it cost (for explain). */
export async function executeFind(ctx: CommandContext, name: string, spec: FindSpec): Promise<FindOutcome> {
  const coll = ctx.store.getCollection(ctx.db, name);
  if (coll && isView(coll)) return findThroughView(ctx, coll, spec);
  const opts = withTextSearch(queryOptions(spec.collation, spec.vars, coll), coll, spec.filter);
  const scores = opts.text?.scores;
  const hasSort = spec.sort !== undefined && Object.keys(spec.sort).length > 0;
  const project =
    spec.projection && Object.keys(spec.projection).length > 0
      ? compileProjection(spec.projection, { vars: spec.vars, textScores: scores, query: spec.filter })
      : null;
  const comparator = hasSort ? compileSort(spec.sort!, opts.collation, scores) : null;
  const stopAfter = !hasSort && spec.limit > 0 ? spec.skip + spec.limit : Infinity;
  // Under a collation or with $text the order is not the index's binary order: those sort the matches.
  const walk =
    hasSort && spec.limit > 0 && opts === SIMPLE ? ctx.store.sortedScan(coll, spec.filter, spec.sort!) : null;
  // Weighed once: when the walk loses, the same plan runs below.
  const choice = walk && coll ? ctx.store.choosePlan(coll, spec.filter, null) : undefined;
  const sorted = walk && choice !== undefined && walkBeatsBoundedPlan(choice, spec, walk) ? walk : null;
  if (sorted) {
    // A limited sort that an index already holds in order reads only as far as the limit (the newest page of a
    // large collection costs a page, not a sort of the collection).
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
  const result = await findMatches(coll, ctx.store, spec.filter, stopAfter, opts, choice);
  let docs = result.docs;
  if (comparator) docs.sort(comparator);
  if (spec.skip > 0 || spec.limit > 0)
    docs = docs.slice(spec.skip, spec.limit > 0 ? spec.skip + spec.limit : undefined);
  if (project) docs = docs.map(project);
  return { docs, plan: result.plan, docsExamined: result.docsExamined, sortedInMemory: comparator !== null };
}

/**
 * A key of a bounded plan, fetched and then sorted with the other matches, costs about this many entries of an
 * ordered walk, which fetches its document and stops as soon as it has enough. Measured on a book of 1,000,000
 * orders: a search whose rarer word has 22,000 keys took 190 ms as a plan and 57 ms as a walk of about 23,000
 * entries (8.6 against 2.5 µs each).
 */
const PLAN_KEY_COST = 4;

/**
 * Whether a limited sort should walk the index that holds the sort order rather than run the filter's own best
 * plan and sort its matches. The walk stops after `wanted` matches: if the plan's k keys were all matches spread
 * evenly over the walk's n entries, it reads about wanted·n/k entries, so the plan wins when
 * PLAN_KEY_COST·k·k < wanted·n. A search matching a few hundred of a million orders reads those few hundred instead
 * of walking the whole index; the newest page of a broad filter (a status most orders have, a word most orders
 * share) still reads about a page. A plan on the sort's own index is its walk.
 */
function walkBeatsBoundedPlan(
  plan: PlanChoice | null,
  spec: FindSpec,
  walk: { indexName: string; keys: number },
): boolean {
  if (!plan || (plan.kind === 'index' && plan.index.name === walk.indexName)) return true;
  const wanted = spec.skip + spec.limit;
  return PLAN_KEY_COST * plan.keys * plan.keys >= wanted * walk.keys;
}

/** A find on a view: the view's pipeline, then the find's filter, sort, skip, limit and projection as stages. */
async function findThroughView(ctx: CommandContext, view: Collection, spec: FindSpec): Promise<FindOutcome> {
  const stages: Doc[] = [];
  if (Object.keys(spec.filter).length > 0) stages.push({ $match: spec.filter });
  if (spec.sort && Object.keys(spec.sort).length > 0) stages.push({ $sort: spec.sort });
  if (spec.skip > 0) stages.push({ $skip: spec.skip });
  if (spec.limit > 0) stages.push({ $limit: spec.limit });
  if (spec.projection && Object.keys(spec.projection).length > 0) stages.push({ $project: spec.projection });
  const docs = await runAggregation(ctx, view.name, stages, spec.collation, spec.vars);
  return { docs, plan: { indexName: null, keysExamined: 0, candidates: [] }, docsExamined: docs.length };
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
  if (isView(coll)) n = (await runAggregation(ctx, name, [{ $match: query }], ctx.body.collation, undefined)).length;
  else if (Object.keys(query).length === 0) n = coll.docs.size;
  else {
    const opts = withTextSearch(queryOptions(ctx.body.collation, undefined, coll), coll, query);
    n =
      (opts === SIMPLE ? ctx.store.countByIndex(coll, query) : null) ??
      (await findMatches(coll, ctx.store, query, limit > 0 ? skip + limit : Infinity, opts)).docs.length;
  }
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
  const opts = queryOptions(ctx.body.collation, undefined, coll);
  const docs = isView(coll)
    ? await runAggregation(ctx, name, [{ $match: query }], ctx.body.collation, undefined)
    : (await findMatches(coll, ctx.store, query, Infinity, opts)).docs;
  const collation = opts.collation;
  const seen = new Set<string>();
  const values: unknown[] = [];
  const add = (v: unknown): void => {
    if (v === undefined) return;
    // Strings equal under the collation are one distinct value (the first one met is reported).
    const k = collation && typeof v === 'string' ? `c:${collation.key(v)}` : canonicalKey(v);
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

/**
 * Runs a pipeline over a collection, a view (its pipeline first) or, with `name` null, over no input
 * (`aggregate: 1`, which must start with `$documents`). A leading `$match` on a collection uses its indexes.
 */
export async function runAggregation(
  ctx: CommandContext,
  name: string | null,
  pipeline: Doc[],
  collationRaw: unknown,
  vars: Record<string, unknown> | undefined,
): Promise<Doc[]> {
  let coll = name === null ? undefined : ctx.store.getCollection(ctx.db, name);
  const collation = effectiveCollation(collationRaw, coll);
  if (coll && isView(coll)) {
    const resolved = resolveView((n) => ctx.store.getCollection(ctx.db, n), coll);
    pipeline = [...resolved.pipeline, ...pipeline];
    coll = ctx.store.getCollection(ctx.db, resolved.source);
  }
  let input: Doc[];
  let textScores: TextScores | undefined;
  const first = pipeline[0];
  if (name === null) {
    if (!first || first.$documents === undefined) {
      throw new MongoServerError(
        73,
        'InvalidNamespace',
        `{aggregate: 1} is not valid for '${first ? (Object.keys(first)[0] ?? '') : ''}'; a collection is required.`,
      );
    }
    const listed = evaluateExpression(first.$documents, {}, { now: new Date(), ...(vars ? { vars } : {}) });
    if (!Array.isArray(listed) || !listed.every(isDoc)) {
      throw new MongoServerError(5858203, 'Location5858203', 'an array is expected');
    }
    input = listed;
    pipeline = pipeline.slice(1);
  } else if (first && isDoc(first.$match)) {
    const opts = withTextSearch({ collation, vars }, coll, first.$match);
    textScores = opts.text?.scores;
    input = (await findMatches(coll, ctx.store, first.$match, Infinity, opts)).docs;
    pipeline = pipeline.slice(1);
  } else {
    input = coll ? [...coll.docs.values()] : [];
  }
  return runPipeline(input, pipeline, {
    now: new Date(),
    collation,
    ...(textScores ? { textScores } : {}),
    ...(vars ? { vars } : {}),
    resolveCollection: (from) => lookupSource(ctx, from),
  });
}

/** The documents `$lookup` reads from a collection or view of the command's database. */
function lookupSource(ctx: CommandContext, name: string): Doc[] {
  const coll = ctx.store.getCollection(ctx.db, name);
  if (!coll) return [];
  if (!isView(coll)) return [...coll.docs.values()];
  const resolved = resolveView((n) => ctx.store.getCollection(ctx.db, n), coll);
  const source = ctx.store.getCollection(ctx.db, resolved.source);
  return runPipeline(source ? [...source.docs.values()] : [], resolved.pipeline, { now: new Date() });
}

function isNumericWrapper(value: unknown): boolean {
  const type = typeof value === 'object' && value !== null ? (value as { _bsontype?: unknown })._bsontype : undefined;
  return type === 'Int32' || type === 'Double' || type === 'Long';
}

/** `[{ $match }, { $group: { _id: <number or null>, <field>: { $sum: 1 } } }]`: a count, as drivers send it. */
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

/**
 * The drivers' countDocuments (`$match`, then a `$group` counting everything) on a collection, answered by an index
 * alone when one can (see `Store.countByIndex`); null when the pipeline must run.
 */
function countedByIndex(ctx: CommandContext, name: string | null, pipeline: Doc[]): Doc[] | null {
  const counted = countPipeline(pipeline);
  if (!counted || name === null || ctx.body.let !== undefined) return null;
  const coll = ctx.store.getCollection(ctx.db, name);
  if (coll && isView(coll)) return null;
  if (effectiveCollation(ctx.body.collation, coll) !== null) return null;
  const n = ctx.store.countByIndex(coll, counted.filter);
  if (n === null) return null;
  return n === 0 ? [] : [{ _id: counted.id, [counted.field]: n }];
}

/** Plain (non-change-stream) aggregation: a collection, a view or `aggregate: 1`; a final `$out`/`$merge` writes. */
export async function aggregateCollection(ctx: CommandContext, name: string | null, pipeline: Doc[]): Promise<Doc> {
  const counted = countedByIndex(ctx, name, pipeline);
  if (counted) {
    const cursorOpts = optionalDoc(ctx.body, 'cursor') ?? {};
    return cursorReply(ctx, `${ctx.db}.${name ?? '$cmd.aggregate'}`, counted, cursorOpts.batchSize, false);
  }
  const vars = readLet(ctx.body.let, 'aggregate');
  const last = pipeline[pipeline.length - 1];
  const lastName = last ? Object.keys(last)[0] : undefined;
  const writeStage = lastName === '$out' || lastName === '$merge' ? (last as Doc) : null;
  const stages = writeStage ? pipeline.slice(0, -1) : pipeline;
  const docs = await runAggregation(ctx, name, stages, ctx.body.collation, vars);
  const cursorOpts = optionalDoc(ctx.body, 'cursor') ?? {};
  const ns = `${ctx.db}.${name ?? '$cmd.aggregate'}`;
  if (writeStage) {
    writeAggregationOutput(ctx, writeStage, docs);
    return cursorReply(ctx, ns, [], cursorOpts.batchSize, false);
  }
  return cursorReply(ctx, ns, docs, cursorOpts.batchSize, false);
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
  const { docs, plan, docsExamined, sortedInMemory } = await executeFind(ctx, collName, spec);
  const stages = explainStages(plan, { docsExamined, nReturned: docs.length, sortedInMemory: sortedInMemory === true });
  return {
    explainVersion: '1',
    queryPlanner: {
      namespace: `${ctx.db}.${collName}`,
      parsedQuery: spec.filter,
      winningPlan: stages.winningPlan,
      rejectedPlans: [],
    },
    executionStats: {
      executionSuccess: true,
      nReturned: docs.length,
      totalKeysExamined: plan.keysExamined,
      totalDocsExamined: docsExamined,
      executionStages: stages.executionStages,
    },
    command: inner,
    serverInfo: { host: ctx.info.host, port: ctx.info.port, version: '7.0.14' },
  };
}

export { errorFields };

/**
 * A plan as mongod's explain shows it: COLLSCAN; FETCH over one IXSCAN; or FETCH over an OR of IXSCANs, one per
 * branch; with SORT on top when the matches were sorted in memory. `winningPlan` has the shape, `executionStages`
 * the same stages with what each examined and returned.
 */
export function explainStages(
  plan: QueryPlan,
  run: { docsExamined: number; nReturned: number; sortedInMemory: boolean },
): { winningPlan: Doc; executionStages: Doc } {
  const ixscan = (indexName: string): Doc => ({ stage: 'IXSCAN', indexName });
  let winningPlan: Doc;
  let executionStages: Doc;
  if (plan.orScans) {
    winningPlan = {
      stage: 'FETCH',
      inputStage: { stage: 'OR', inputStages: plan.orScans.map((s) => ixscan(s.indexName)) },
    };
    executionStages = {
      stage: 'FETCH',
      nReturned: run.nReturned,
      docsExamined: run.docsExamined,
      inputStage: {
        stage: 'OR',
        inputStages: plan.orScans.map((s) => ({ ...ixscan(s.indexName), keysExamined: s.keysExamined })),
      },
    };
  } else if (plan.indexName) {
    winningPlan = { stage: 'FETCH', inputStage: ixscan(plan.indexName) };
    executionStages = {
      stage: 'FETCH',
      nReturned: run.nReturned,
      docsExamined: run.docsExamined,
      inputStage: { ...ixscan(plan.indexName), keysExamined: plan.keysExamined },
    };
  } else {
    winningPlan = { stage: 'COLLSCAN' };
    executionStages = { stage: 'COLLSCAN', docsExamined: run.docsExamined, nReturned: run.nReturned };
  }
  if (!run.sortedInMemory) return { winningPlan, executionStages };
  return {
    winningPlan: { stage: 'SORT', inputStage: winningPlan },
    executionStages: { stage: 'SORT', nReturned: run.nReturned, inputStage: executionStages },
  };
}

function outputNamespace(ctx: CommandContext, spec: unknown, stage: string): { db: string; coll: string } {
  if (typeof spec === 'string') return { db: ctx.db, coll: spec };
  if (isDoc(spec) && typeof spec.coll === 'string') {
    return { db: typeof spec.db === 'string' ? spec.db : ctx.db, coll: spec.coll };
  }
  throw new MongoServerError(
    9,
    'FailedToParse',
    `${stage} expects a string or an object with 'db' and 'coll' fields for its target namespace`,
  );
}

/** The `on` fields of a document: the key `$merge` matches target documents by. */
function mergeKey(doc: Doc, on: string[]): Doc {
  const key: Doc = {};
  for (const field of on) {
    const values = getPathValues(doc, field);
    if (values.length !== 1 || Array.isArray(values[0]) || values[0] === null) {
      throw new MongoServerError(
        51132,
        'Location51132',
        `$merge write error: 'on' field '${field}' cannot be missing, null or an array`,
      );
    }
    key[field] = values[0];
  }
  return key;
}

/** Writes the result of a pipeline ending in `$out` (replace the target's documents) or `$merge`. */
function writeAggregationOutput(ctx: CommandContext, stage: Doc, docs: Doc[]): void {
  const isOut = '$out' in stage;
  const spec = isOut ? stage.$out : stage.$merge;
  const mergeSpec = !isOut && isDoc(spec) && 'into' in spec ? spec : null;
  const target = outputNamespace(ctx, isOut ? spec : (mergeSpec?.into ?? spec), isOut ? '$out' : '$merge');
  requireNotView(ctx.store.getCollection(target.db, target.coll));
  if (isOut) {
    const ids = new Set<string>();
    const prepared = docs.map((d) => {
      const doc = withIdFirst(d);
      const key = canonicalKey(doc._id);
      if (ids.has(key)) {
        throw new MongoServerError(
          11000,
          'DuplicateKey',
          `E11000 duplicate key error collection: ${target.db}.${target.coll} index: _id_`,
        );
      }
      ids.add(key);
      return doc;
    });
    write(ctx, (batch) => {
      const coll = ctx.store.ensureCollection(batch, target.db, target.coll);
      for (const old of [...coll.docs.values()]) ctx.store.delete(batch, coll, old);
      for (const doc of prepared) ctx.store.insert(batch, coll, doc);
    });
    return;
  }
  const on = mergeSpec?.on === undefined ? ['_id'] : typeof mergeSpec.on === 'string' ? [mergeSpec.on] : mergeSpec.on;
  if (!Array.isArray(on) || on.length === 0 || !on.every((f) => typeof f === 'string')) {
    throw new MongoServerError(51186, 'Location51186', "$merge 'on' field must be a string or an array of strings");
  }
  const onFields = on;
  const whenMatched: unknown = mergeSpec?.whenMatched ?? 'merge';
  const whenNotMatched: unknown = mergeSpec?.whenNotMatched ?? 'insert';
  if (!(Array.isArray(whenMatched) || (typeof whenMatched === 'string' && MERGE_WHEN_MATCHED.has(whenMatched)))) {
    throw new MongoServerError(
      2,
      'BadValue',
      `Enumeration value '${JSON.stringify(whenMatched)}' for field '$merge.whenMatched' is not a valid value.`,
    );
  }
  if (!(typeof whenNotMatched === 'string' && MERGE_WHEN_NOT_MATCHED.has(whenNotMatched))) {
    throw new MongoServerError(
      2,
      'BadValue',
      `Enumeration value '${JSON.stringify(whenNotMatched)}' for field '$merge.whenNotMatched' is not a valid value.`,
    );
  }
  const existing = ctx.store.getCollection(target.db, target.coll);
  const byId = onFields.length === 1 && onFields[0] === '_id';
  if (!byId && existing && !existing.indexes.some((i) => i.unique && sameFieldSet(i.fields, onFields))) {
    throw new MongoServerError(51183, 'Location51183', 'Cannot find index to verify that join fields will be unique');
  }
  write(ctx, (batch) => {
    const coll = ctx.store.ensureCollection(batch, target.db, target.coll);
    for (const raw of docs) {
      const doc = byId ? withIdFirst(raw) : raw;
      const key = mergeKey(doc, onFields);
      const current = byId ? coll.getById(key._id) : [...coll.docs.values()].find((d) => compileFilter(key)(d));
      if (!current) {
        if (whenNotMatched === 'discard') continue;
        if (whenNotMatched === 'fail') {
          throw new MongoServerError(
            13113,
            'MergeStageNoMatchingDocument',
            '$merge could not find a matching document in the target collection for at least one document in the source collection',
          );
        }
        ctx.store.insert(batch, coll, withIdFirst(doc));
        continue;
      }
      if (whenMatched === 'keepExisting') continue;
      if (whenMatched === 'fail') {
        throw new MongoServerError(
          11000,
          'DuplicateKey',
          `E11000 duplicate key error collection: ${coll.ns} index: _id_`,
        );
      }
      let after: Doc;
      if (Array.isArray(whenMatched)) {
        const mergeVars = isDoc(mergeSpec?.let) ? mergeSpec.let : { new: '$$ROOT' };
        const vars: Record<string, unknown> = {};
        for (const [k, expr] of Object.entries(mergeVars)) vars[k] = evaluateExpression(expr, doc) ?? null;
        after = applyUpdate(current, whenMatched as Doc[], {
          isUpsertInsert: false,
          now: new Date(),
          clusterTime: ctx.store.clock.current,
          vars,
        }).doc;
      } else if (whenMatched === 'replace') {
        const { _id: _unused, ...rest } = doc;
        after = { _id: current._id, ...rest };
      } else {
        after = { ...current, ...doc, _id: current._id };
      }
      after = withIdFirst(after);
      checkSize(after);
      const description = diffDocuments(current, after);
      ctx.store.replace(batch, coll, current, after, whenMatched === 'replace' ? 'replace' : 'update', description);
    }
  });
}

const MERGE_WHEN_MATCHED = new Set(['replace', 'keepExisting', 'merge', 'fail']);
const MERGE_WHEN_NOT_MATCHED = new Set(['insert', 'discard', 'fail']);

function sameFieldSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((f) => b.includes(f));
}
