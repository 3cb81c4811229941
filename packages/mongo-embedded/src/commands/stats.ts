import { BSON, Int32, Long } from 'bson';
import { compileFilter, MongoServerError, runPipeline, type Doc } from '../query/index.js';
import type { Collection } from '../storage/store.js';
import { SERVER_VERSION } from './admin.js';
import type { CommandContext } from './context.js';
import { cursorReply, explainStages } from './crud.js';
import { isDoc, toNumber, YIELD_EVERY, yieldToEventLoop } from './util.js';

/** What an index entry costs in these figures: the engine keeps a key array and an id string per entry. */
const INDEX_ENTRY_BYTES = 32;

/**
 * The operation counters of `serverStatus().opcounters`, counted as mongod counts them: one per inserted document
 * and per update or delete statement, one per find and getMore, and one per any other command.
 */
export class OpCounters {
  insert = 0;
  query = 0;
  update = 0;
  delete = 0;
  getmore = 0;
  command = 0;

  /** Counts a command as it arrives (a failing command counts too, as in mongod). */
  record(name: string, body: Doc): void {
    switch (name) {
      case 'insert':
        this.insert += arrayLength(body.documents);
        return;
      case 'update':
        this.update += arrayLength(body.updates);
        return;
      case 'delete':
        this.delete += arrayLength(body.deletes);
        return;
      case 'find':
        this.query += 1;
        return;
      case 'getMore':
        this.getmore += 1;
        return;
      default:
        this.command += 1;
    }
  }

  toDoc(): Doc {
    return {
      insert: Long.fromNumber(this.insert),
      query: Long.fromNumber(this.query),
      update: Long.fromNumber(this.update),
      delete: Long.fromNumber(this.delete),
      getmore: Long.fromNumber(this.getmore),
      command: Long.fromNumber(this.command),
    };
  }
}

function arrayLength(v: unknown): number {
  return Array.isArray(v) ? v.length : 0;
}

/** `scale` of collStats/$collStats: a positive integer, 1 by default. */
function readScale(raw: unknown, field: string): number {
  if (raw === undefined) return 1;
  const n = toNumber(raw);
  if (n === undefined) {
    throw new MongoServerError(14, 'TypeMismatch', `BSON field '${field}' is the wrong type, expected a number`);
  }
  if (n < 1) {
    throw new MongoServerError(51024, 'Location51024', `BSON field '${field}' value must be >= 1, actual value '${n}'`);
  }
  return Math.trunc(n);
}

/**
 * The storage figures mongod reports for a collection (`storageStats`, and the collStats command). `size` is the
 * exact BSON size of the documents; an index costs a fixed estimate per entry. A missing collection reports zeros,
 * as mongod 7.0 does.
 */
export async function storageStats(coll: Collection | undefined, scale: number): Promise<Doc> {
  let size = 0;
  let seen = 0;
  for (const doc of coll?.docs.values() ?? []) {
    size += BSON.calculateObjectSize(doc);
    if (++seen % YIELD_EVERY === 0) await yieldToEventLoop();
  }
  const count = coll?.docs.size ?? 0;
  const indexSizes: Doc = {};
  let totalIndexSize = 0;
  for (const index of coll?.indexes ?? []) {
    const bytes = index.size * INDEX_ENTRY_BYTES;
    totalIndexSize += bytes;
    indexSizes[index.name] = Math.trunc(bytes / scale);
  }
  return {
    size: Math.trunc(size / scale),
    count,
    ...(count > 0 ? { avgObjSize: Math.trunc(size / count) } : {}),
    numOrphanDocs: 0,
    storageSize: Math.trunc(size / scale),
    freeStorageSize: 0,
    capped: coll?.options.capped === true,
    nindexes: coll?.indexes.length ?? 0,
    indexBuilds: [],
    totalIndexSize: Math.trunc(totalIndexSize / scale),
    totalSize: Math.trunc((size + totalIndexSize) / scale),
    indexSizes,
    scaleFactor: new Int32(scale),
  };
}

/** The `collStats` command (deprecated in mongod 6.2, still answered by 7.0). */
export async function collStats(ctx: CommandContext): Promise<Doc> {
  const name = ctx.body.collStats;
  if (typeof name !== 'string' || name.length === 0) {
    throw new MongoServerError(73, 'InvalidNamespace', `Invalid namespace specified '${ctx.db}.${String(name)}'`);
  }
  const scale = readScale(ctx.body.scale, 'scale');
  return { ns: `${ctx.db}.${name}`, ...(await storageStats(ctx.store.getCollection(ctx.db, name), scale)) };
}

const COLL_STATS_FIELDS = new Set(['storageStats', 'count', 'latencyStats', 'queryExecStats']);

/**
 * `aggregate` whose first stage is `$collStats` (what mongosh's `db.coll.stats()` sends): one document with the
 * requested sections, then the rest of the pipeline. latencyStats and queryExecStats are not tracked by this
 * engine and answer CommandNotSupported rather than made-up figures.
 */
export async function collStatsAggregate(ctx: CommandContext, name: string, pipeline: Doc[]): Promise<Doc> {
  const spec = pipeline[0]?.$collStats;
  if (!isDoc(spec)) {
    throw new MongoServerError(
      5447000,
      'Location5447000',
      '$collStats must take a nested object but found: ' + typeof spec,
    );
  }
  for (const key of Object.keys(spec)) {
    if (!COLL_STATS_FIELDS.has(key)) {
      throw new MongoServerError(40415, 'Location40415', `BSON field '$collStats.${key}' is an unknown field.`);
    }
    if (key === 'latencyStats' || key === 'queryExecStats') {
      throw new MongoServerError(115, 'CommandNotSupported', `$collStats ${key} is not tracked by the embedded engine`);
    }
  }
  const coll = ctx.store.getCollection(ctx.db, name);
  const doc: Doc = { ns: `${ctx.db}.${name}`, host: ctx.info.address, localTime: new Date() };
  if (spec.storageStats !== undefined) {
    const options = spec.storageStats;
    if (!isDoc(options)) {
      throw new MongoServerError(
        14,
        'TypeMismatch',
        "BSON field '$collStats.storageStats' is the wrong type, expected type 'object'",
      );
    }
    doc.storageStats = await storageStats(coll, readScale(options.scale, '$collStats.storageStats.scale'));
  }
  if (spec.count !== undefined) doc.count = coll?.docs.size ?? 0;
  const rest = pipeline.slice(1);
  if (rest.some((stage) => '$collStats' in stage)) {
    throw new MongoServerError(40602, 'Location40602', '$collStats is only valid as the first stage in a pipeline');
  }
  const docs = rest.length > 0 ? runPipeline([doc], rest, { now: new Date() }) : [doc];
  const cursor = isDoc(ctx.body.cursor) ? ctx.body.cursor : {};
  return cursorReply(ctx, `${ctx.db}.${name}`, docs, cursor.batchSize, false);
}

type Verbosity = 'queryPlanner' | 'executionStats' | 'allPlansExecution';

function readVerbosity(raw: unknown): Verbosity {
  if (raw === undefined || raw === true) return 'allPlansExecution';
  if (raw === 'queryPlanner' || raw === 'executionStats' || raw === 'allPlansExecution') return raw;
  throw new MongoServerError(
    2,
    'BadValue',
    `verbosity string must be one of {'queryPlanner', 'executionStats', 'allPlansExecution'}`,
  );
}

/**
 * `explain` of an aggregate (the explain command wrapping `aggregate`, or `aggregate` with `explain: true`) in
 * mongod's shapes: `stages[0].$cursor` holding the plan of the leading `$match` (the index it uses, what it
 * examined) followed by the other stages, or that plan at the top level when the pipeline is only a `$match`.
 */
export async function explainAggregate(ctx: CommandContext, command: Doc, verbosityRaw: unknown): Promise<Doc> {
  const name = command.aggregate;
  const pipeline = command.pipeline;
  if (typeof name !== 'string') {
    throw new MongoServerError(
      115,
      'CommandNotSupported',
      'explain of aggregate: 1 is not supported by the embedded engine',
    );
  }
  if (!Array.isArray(pipeline) || !pipeline.every(isDoc)) {
    throw new MongoServerError(14, 'TypeMismatch', "'pipeline' option must be specified as an array");
  }
  const verbosity = readVerbosity(verbosityRaw);
  const first = pipeline[0];
  const filter = first && isDoc(first.$match) ? first.$match : {};
  const rest = first && isDoc(first.$match) ? pipeline.slice(1) : pipeline;
  const coll = ctx.store.getCollection(ctx.db, name);
  const matcher = compileFilter(filter);
  const plan = ctx.store.plan(coll, filter);
  const { winningPlan } = explainStages(plan, { docsExamined: 0, nReturned: 0, sortedInMemory: false });
  const cursorStage: Doc = {
    queryPlanner: {
      namespace: `${ctx.db}.${name}`,
      parsedQuery: filter,
      winningPlan,
      rejectedPlans: [],
    },
  };
  if (verbosity !== 'queryPlanner') {
    let examined = 0;
    let returned = 0;
    for (const doc of plan.candidates) {
      if (++examined % YIELD_EVERY === 0) await yieldToEventLoop();
      if (matcher(doc)) returned++;
    }
    cursorStage.executionStats = {
      executionSuccess: true,
      nReturned: returned,
      totalKeysExamined: plan.keysExamined,
      totalDocsExamined: examined,
    };
  }
  // A pipeline that is only a $match runs as a find, and mongod explains it as one.
  if (rest.length === 0) {
    return {
      explainVersion: '1',
      ...cursorStage,
      serverInfo: { host: ctx.info.host, port: ctx.info.port, version: SERVER_VERSION },
      command,
    };
  }
  return {
    explainVersion: '1',
    stages: [{ $cursor: cursorStage }, ...rest],
    serverInfo: { host: ctx.info.host, port: ctx.info.port, version: SERVER_VERSION },
    command,
  };
}

/** `replSetGetConfig` (mongosh's `rs.conf()`): the one-member configuration hello describes. */
export function replSetGetConfig(ctx: CommandContext): Doc {
  if (ctx.db !== 'admin') {
    throw new MongoServerError(13, 'Unauthorized', 'replSetGetConfig may only be run against the admin database.');
  }
  return {
    config: {
      _id: ctx.info.setName,
      version: 1,
      term: 1,
      members: [
        {
          _id: 0,
          host: ctx.info.address,
          arbiterOnly: false,
          buildIndexes: true,
          hidden: false,
          priority: 1,
          tags: {},
          secondaryDelaySecs: Long.ZERO,
          votes: 1,
        },
      ],
      protocolVersion: Long.fromNumber(1),
      writeConcernMajorityJournalDefault: true,
      settings: {
        chainingAllowed: true,
        heartbeatIntervalMillis: 2000,
        heartbeatTimeoutSecs: 10,
        electionTimeoutMillis: 10000,
        catchUpTimeoutMillis: -1,
        catchUpTakeoverDelayMillis: 30000,
        getLastErrorModes: {},
        getLastErrorDefaults: { w: 1, wtimeout: 0 },
      },
    },
  };
}
