import { Long } from 'bson';
import { MongoServerError, type Doc } from '../query/index.js';
import type { CommandContext } from './context.js';
import { takeBatch } from './cursors.js';
import { aggregateCollection } from './crud.js';
import { isDoc, toNumber } from './util.js';

/** Default wait of a change-stream getMore without maxTimeMS (tailable awaitData). */
const DEFAULT_AWAIT_MS = 1000;
const DEFAULT_STREAM_BATCH = 101;

/** `aggregate`: change streams go to the change-stream module, other pipelines to runPipeline. */
export async function aggregate(ctx: CommandContext): Promise<Doc> {
  const target = ctx.body.aggregate;
  const pipeline = ctx.body.pipeline;
  if (!Array.isArray(pipeline) || !pipeline.every(isDoc)) {
    throw new MongoServerError(14, 'TypeMismatch', "'pipeline' option must be specified as an array");
  }
  if (!isDoc(ctx.body.cursor) && ctx.body.explain === undefined) {
    throw new MongoServerError(
      9,
      'FailedToParse',
      "The 'cursor' option is required, except for aggregate with the explain argument",
    );
  }
  const stages = pipeline;
  const changeStreamAt = stages.findIndex((s) => Object.keys(s)[0] === '$changeStream');
  if (changeStreamAt > 0) {
    throw new MongoServerError(40602, 'Location40602', '$changeStream is only valid as the first stage in a pipeline');
  }
  if (changeStreamAt === 0) return openStream(ctx, target, stages);
  if (typeof target === 'string') return aggregateCollection(ctx, target, stages);
  if (toNumber(target) !== 1) {
    throw new MongoServerError(
      14,
      'TypeMismatch',
      "Invalid command format: the 'aggregate' field must specify a collection name or 1",
    );
  }
  return aggregateCollection(ctx, null, stages);
}

async function openStream(ctx: CommandContext, target: unknown, stages: Doc[]): Promise<Doc> {
  if (!ctx.openChangeStream) {
    throw new MongoServerError(115, 'CommandNotSupported', 'change streams are not available in this build');
  }
  const coll = typeof target === 'string' ? target : null;
  if (coll === null && toNumber(target) !== 1) {
    throw new MongoServerError(73, 'InvalidNamespace', 'aggregate must name a collection or be 1');
  }
  const stage = stages[0]!.$changeStream;
  if (!isDoc(stage))
    throw new MongoServerError(50808, 'Location50808', '$changeStream stage expects a document as argument');
  const stream = ctx.openChangeStream(ctx.store.changeLog, { db: ctx.db, coll, stage, pipeline: stages.slice(1) });
  const ns = `${ctx.db}.${coll ?? '$cmd.aggregate'}`;
  const cursor = ctx.cursors.registerStream(ns, stream);
  // The initial aggregate never waits: it returns what already qualifies.
  const batchSize = toNumber(isDoc(ctx.body.cursor) ? ctx.body.cursor.batchSize : undefined) ?? DEFAULT_STREAM_BATCH;
  return streamBatch(ctx, cursor.id, batchSize, 0, 'firstBatch');
}

async function streamBatch(
  ctx: CommandContext,
  id: Long,
  batchSize: number,
  maxAwaitMs: number,
  field: 'firstBatch' | 'nextBatch',
): Promise<Doc> {
  const cursor = ctx.cursors.get(id);
  if (!cursor || cursor.kind !== 'stream')
    throw new MongoServerError(43, 'CursorNotFound', `cursor id ${id.toString()} not found`);
  const waiting = new AbortController();
  const onDisconnect = (): void => waiting.abort();
  ctx.conn.signal.addEventListener('abort', onDisconnect, { once: true });
  cursor.waiting = waiting;
  try {
    const result = await cursor.stream.next(batchSize, maxAwaitMs, waiting.signal);
    if (ctx.cursors.get(id) !== cursor) {
      throw new MongoServerError(237, 'CursorKilled', `cursor id ${id.toString()} was killed`);
    }
    let replyId = cursor.id;
    if (result.invalidated) {
      ctx.cursors.kill(cursor.id);
      replyId = Long.ZERO;
    }
    return {
      cursor: { [field]: result.events, postBatchResumeToken: result.postBatchResumeToken, id: replyId, ns: cursor.ns },
    };
  } catch (err) {
    // mongod kills a cursor whose getMore failed.
    ctx.cursors.kill(cursor.id);
    throw err;
  } finally {
    cursor.waiting = null;
    ctx.conn.signal.removeEventListener('abort', onDisconnect);
  }
}

export async function getMore(ctx: CommandContext): Promise<Doc> {
  const rawId = ctx.body.getMore;
  if (!(rawId instanceof Long)) {
    throw new MongoServerError(
      14,
      'TypeMismatch',
      "BSON field 'getMore.getMore' is the wrong type, expected type 'long'",
    );
  }
  const collection = ctx.body.collection;
  if (typeof collection !== 'string') {
    throw new MongoServerError(
      14,
      'TypeMismatch',
      "BSON field 'getMore.collection' is the wrong type, expected type 'string'",
    );
  }
  const cursor = ctx.cursors.get(rawId);
  if (!cursor) throw new MongoServerError(43, 'CursorNotFound', `cursor id ${rawId.toString()} not found`);
  if (cursor.ns !== `${ctx.db}.${collection}`) {
    throw new MongoServerError(
      13,
      'Unauthorized',
      `Requested getMore on namespace '${ctx.db}.${collection}', but cursor belongs to a different namespace ${cursor.ns}`,
    );
  }
  const batchSizeRaw = toNumber(ctx.body.batchSize);
  const failure = ctx.failPoints.failGetMore();
  if (failure) {
    if (cursor.kind === 'stream') {
      ctx.cursors.kill(cursor.id);
      throw new MongoServerError(failure.code, failure.codeName, failure.message, {
        errorLabels: ['ResumableChangeStreamError'],
      });
    }
    ctx.cursors.kill(cursor.id);
    throw failure;
  }
  if (cursor.kind === 'stream') {
    const maxTimeMS = toNumber(ctx.body.maxTimeMS);
    return streamBatch(
      ctx,
      cursor.id,
      batchSizeRaw && batchSizeRaw > 0 ? batchSizeRaw : DEFAULT_STREAM_BATCH,
      maxTimeMS ?? DEFAULT_AWAIT_MS,
      'nextBatch',
    );
  }
  const batch = takeBatch(
    cursor.docs,
    cursor.position,
    batchSizeRaw && batchSizeRaw > 0 ? batchSizeRaw : Number.MAX_SAFE_INTEGER,
  );
  cursor.position += batch.length;
  let id = cursor.id;
  if (cursor.position >= cursor.docs.length) {
    ctx.cursors.kill(cursor.id);
    id = Long.ZERO;
  }
  return { cursor: { nextBatch: batch, id, ns: cursor.ns } };
}

export function killCursors(ctx: CommandContext): Doc {
  const ids = ctx.body.cursors;
  if (!Array.isArray(ids))
    throw new MongoServerError(14, 'TypeMismatch', "BSON field 'killCursors.cursors' must be an array");
  const cursorsKilled: Long[] = [];
  const cursorsNotFound: Long[] = [];
  for (const raw of ids) {
    if (!(raw instanceof Long)) continue;
    if (ctx.cursors.kill(raw)) cursorsKilled.push(raw);
    else cursorsNotFound.push(raw);
  }
  return { cursorsKilled, cursorsNotFound, cursorsAlive: [], cursorsUnknown: [] };
}
