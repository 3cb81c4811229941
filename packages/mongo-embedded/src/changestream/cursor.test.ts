import { Int32, Timestamp } from 'bson';
import { afterEach, describe, expect, it } from 'vitest';
import { MongoServerError, type Doc } from '../query/index.js';
import { openChangeStream, type ChangeStreamCursor, type ChangeStreamSpec } from './cursor.js';
import type { ChangeRecord } from '../storage/changelog.js';
import { MemoryChangeLog } from './memory-change-log.js';
import { decodeResumeToken, encodeResumeToken } from './token.js';

const DB = 'app';
const COLL = 'orders';
const open: ChangeStreamCursor[] = [];
const never = new AbortController().signal;

function watch(log: MemoryChangeLog, stage: Doc = {}, pipeline: Doc[] = [], coll: string | null = COLL) {
  const spec: ChangeStreamSpec = { db: DB, coll, stage, pipeline };
  const cursor = openChangeStream(log, spec);
  open.push(cursor);
  return cursor;
}

afterEach(() => {
  for (const cursor of open.splice(0)) cursor.close();
});

/** Reads everything currently available, in batches, without waiting. */
async function drain(cursor: ChangeStreamCursor, batchSize = 1000) {
  const events: Doc[] = [];
  const tokens: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const batch = await cursor.next(batchSize, 0, never);
    events.push(...batch.events);
    tokens.push(dataOf(batch.postBatchResumeToken));
    if (batch.events.length === 0 || batch.invalidated) return { events, tokens, invalidated: batch.invalidated };
  }
  throw new Error('stream did not drain');
}

function dataOf(token: unknown): string {
  return (token as { _data: string })._data;
}

function upd(fields: Doc) {
  return { updatedFields: fields, removedFields: [], truncatedArrays: [] };
}

function expectServerError(fn: () => unknown, code: number, labels?: string[]) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(MongoServerError);
  const error = caught as MongoServerError;
  expect(error.code).toBe(code);
  if (labels) expect(error.extra?.errorLabels).toEqual(labels);
  return error;
}

async function expectNextError(cursor: ChangeStreamCursor, code: number, labels?: string[]) {
  const error = await cursor.next(100, 0, never).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MongoServerError);
  expect((error as MongoServerError).code).toBe(code);
  if (labels) expect((error as MongoServerError).extra?.errorLabels).toEqual(labels);
}

/** What every change event of log entry `entry` carries: its resume token, times and namespace. */
function eventOf(entry: ChangeRecord, operationType: string) {
  return {
    _id: encodeResumeToken({ clusterTime: entry.clusterTime, seq: entry.seq, kind: 'event' }),
    operationType,
    clusterTime: entry.clusterTime,
    wallTime: entry.wallTime,
    ns: { db: DB, coll: COLL },
  };
}

describe('event shapes', () => {
  it('reports insert, update, replace and delete of the watched collection only', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    const ins = log.insert(DB, COLL, { _id: 1, s: 'new' });
    log.insert(DB, 'other', { _id: 9 });
    log.insert('otherdb', COLL, { _id: 9 });
    const up = log.update(DB, COLL, { _id: 1, s: 'paid' }, upd({ s: 'paid' }));
    log.replace(DB, COLL, { _id: 1, x: 1 });
    log.delete(DB, COLL, 1);
    const { events } = await drain(cursor);
    expect(events.map((e) => e.operationType)).toEqual(['insert', 'update', 'replace', 'delete']);
    expect(events[0]).toEqual({
      ...eventOf(ins, 'insert'),
      fullDocument: { _id: 1, s: 'new' },
      documentKey: { _id: 1 },
    });
    expect(Object.keys(events[0]!)).toEqual([
      '_id',
      'operationType',
      'clusterTime',
      'wallTime',
      'fullDocument',
      'ns',
      'documentKey',
    ]);
    expect(events[1]).toEqual({
      ...eventOf(up, 'update'),
      documentKey: { _id: 1 },
      updateDescription: { updatedFields: { s: 'paid' }, removedFields: [], truncatedArrays: [] },
    });
    expect(events[2]).toMatchObject({
      operationType: 'replace',
      fullDocument: { _id: 1, x: 1 },
      documentKey: { _id: 1 },
    });
    expect(events[3]).toMatchObject({ operationType: 'delete', documentKey: { _id: 1 } });
    expect(events[3]).not.toHaveProperty('fullDocument');
    expect(events[3]).not.toHaveProperty('fullDocumentBeforeChange');
    expect(events[0]!.clusterTime).toBeInstanceOf(Timestamp);
    expect(events[0]!.wallTime).toBeInstanceOf(Date);
  });

  it('does not show lsid/txnNumber of retryable writes (mongod shows them only inside transactions)', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    log.append({ db: DB, coll: COLL, op: 'insert', documentKey: { _id: 1 }, postImage: { _id: 1 }, lsid: { id: 1 } });
    const { events } = await drain(cursor);
    expect(events[0]).not.toHaveProperty('lsid');
    expect(events[0]).not.toHaveProperty('txnNumber');
  });

  it('a database stream reports every collection of its database, drops and renames, and ends at dropDatabase', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log, {}, [], null);
    log.insert(DB, 'a', { _id: 1 });
    log.insert(DB, 'b', { _id: 2 });
    log.insert('elsewhere', 'a', { _id: 3 });
    log.rename(DB, 'a', { db: DB, coll: 'c' });
    log.drop(DB, 'b');
    const [, dropDb] = log.dropDatabase(DB);
    log.insert(DB, 'a', { _id: 4 });
    const { events, invalidated } = await drain(cursor);
    expect(events.map((e) => [e.operationType, e.ns])).toEqual([
      ['insert', { db: DB, coll: 'a' }],
      ['insert', { db: DB, coll: 'b' }],
      ['rename', { db: DB, coll: 'a' }],
      ['drop', { db: DB, coll: 'b' }],
      ['drop', { db: DB, coll: 'c' }],
      ['dropDatabase', { db: DB }],
      ['invalidate', undefined],
    ]);
    expect(events[2]!.to).toEqual({ db: DB, coll: 'c' });
    expect(events[6]).toEqual({
      _id: encodeResumeToken({ clusterTime: dropDb!.clusterTime, seq: dropDb!.seq, kind: 'invalidate' }),
      operationType: 'invalidate',
      clusterTime: dropDb!.clusterTime,
      wallTime: dropDb!.wallTime,
    });
    expect(invalidated).toBe(true);
  });
});

describe('invalidate', () => {
  it('drop of the watched collection gives drop then invalidate, and the cursor ends', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    log.insert(DB, COLL, { _id: 1 });
    const drop = log.drop(DB, COLL);
    log.insert(DB, COLL, { _id: 2 });
    const { events, invalidated } = await drain(cursor);
    expect(events.map((e) => e.operationType)).toEqual(['insert', 'drop', 'invalidate']);
    expect(events[1]).toEqual({
      ...eventOf(drop, 'drop'),
    });
    expect(dataOf(events[2]!._id) > dataOf(events[1]!._id)).toBe(true);
    expect(invalidated).toBe(true);
    const after = await cursor.next(10, 0, never);
    expect(after).toMatchObject({ events: [], invalidated: true });
  });

  it('a batch that fills at the drop carries the invalidate in the next batch', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    log.drop(DB, COLL);
    const first = await cursor.next(1, 0, never);
    expect(first.events.map((e) => e.operationType)).toEqual(['drop']);
    expect(first.invalidated).toBe(false);
    expect(first.postBatchResumeToken).toEqual(first.events[0]!._id);
    const second = await cursor.next(1, 0, never);
    expect(second.events.map((e) => e.operationType)).toEqual(['invalidate']);
    expect(second.invalidated).toBe(true);
    expect(second.postBatchResumeToken).toEqual(second.events[0]!._id);
  });

  it('rename from or onto the watched collection invalidates it', async () => {
    const log = new MemoryChangeLog();
    const source = watch(log, {}, [], 'a');
    const target = watch(log, {}, [], 'b');
    const bystander = watch(log, {}, [], 'z');
    log.insert(DB, 'a', { _id: 1 });
    log.rename(DB, 'a', { db: DB, coll: 'b' });
    for (const cursor of [source, target]) {
      const { events, invalidated } = await drain(cursor);
      expect(events.map((e) => e.operationType)).toEqual(
        cursor === source ? ['insert', 'rename', 'invalidate'] : ['rename', 'invalidate'],
      );
      expect(events.find((e) => e.operationType === 'rename')).toMatchObject({
        ns: { db: DB, coll: 'a' },
        to: { db: DB, coll: 'b' },
      });
      expect(invalidated).toBe(true);
    }
    expect((await drain(bystander)).events).toEqual([]);
  });

  it('closes the stream even when a user $match filters the invalidate out', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log, {}, [{ $match: { operationType: 'insert' } }]);
    log.insert(DB, COLL, { _id: 1 });
    log.drop(DB, COLL);
    const batch = await cursor.next(100, 0, never);
    expect(batch.events.map((e) => e.operationType)).toEqual(['insert']);
    expect(batch.invalidated).toBe(true);
  });

  it('resumeAfter the drop yields the invalidate; resumeAfter the invalidate is 260; startAfter it starts anew', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    log.drop(DB, COLL);
    log.insert(DB, COLL, { _id: 'later' });
    const { events } = await drain(cursor);
    const [drop, invalidate] = events;

    const resumed = await drain(watch(log, { resumeAfter: drop!._id }));
    expect(resumed.events).toEqual([invalidate]);
    expect(resumed.invalidated).toBe(true);
    // An empty first batch (batchSize 0) must not move the resume point past the pending invalidate.
    const zero = await watch(log, { resumeAfter: drop!._id }).next(0, 0, never);
    expect(zero.postBatchResumeToken).toEqual(drop!._id);

    const error = expectServerError(() => watch(log, { resumeAfter: invalidate!._id }), 260);
    expect(error.message).toContain("'resumeAfter' is not allowed from an invalidate");

    const fresh = await drain(watch(log, { startAfter: invalidate!._id }));
    expect(fresh.events.map((e) => [e.operationType, e.documentKey])).toEqual([['insert', { _id: 'later' }]]);
    expect(fresh.invalidated).toBe(false);
  });
});

describe('resume tokens', () => {
  function busyLog(n: number) {
    const log = new MemoryChangeLog();
    for (let i = 0; i < n; i++) {
      const coll = i % 3 === 0 ? 'other' : COLL;
      switch (i % 5) {
        case 0:
        case 1:
          log.insert(DB, coll, { _id: i, n: new Int32(i) });
          break;
        case 2:
          log.update(DB, coll, { _id: i - 1, n: new Int32(i) }, upd({ n: new Int32(i) }));
          break;
        case 3:
          log.tick();
          log.replace(DB, coll, { _id: i - 2, r: true });
          break;
        default:
          log.delete(DB, coll, i - 4);
      }
    }
    return log;
  }

  it('are uppercase hex whose string order is commit order across thousands of events', async () => {
    const log = busyLog(3000);
    const cursor = watch(log, { startAtOperationTime: new Timestamp({ t: 0, i: 0 }) }, [], null);
    const { events, tokens } = await drain(cursor, 7);
    expect(events).toHaveLength(3000);
    const ids = events.map((e) => dataOf(e._id));
    for (const id of ids) expect(id).toMatch(/^[0-9A-F]+$/);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    // Tokens also order as their cluster times do.
    for (let i = 1; i < events.length; i++) {
      const a = events[i - 1]!.clusterTime as Timestamp;
      const b = events[i]!.clusterTime as Timestamp;
      expect(a.lessThan(b)).toBe(true);
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! >= tokens[i - 1]!).toBe(true);
  });

  it('resuming after any event yields exactly the events after it', async () => {
    const log = busyLog(400);
    const all = (await drain(watch(log, { startAtOperationTime: new Timestamp({ t: 0, i: 0 }) }))).events;
    expect(all.length).toBeGreaterThan(200);
    for (let i = 0; i < all.length; i++) {
      const cursor = watch(log, { resumeAfter: all[i]!._id });
      const { events } = await drain(cursor, 50);
      expect(events.map((e) => dataOf(e._id))).toEqual(all.slice(i + 1).map((e) => dataOf(e._id)));
      cursor.close();
    }
  });

  it('resuming from any postBatchResumeToken neither replays nor skips, including past filtered events', async () => {
    const log = busyLog(300);
    const filter = [{ $match: { operationType: { $in: ['insert', 'delete'] } } }];
    const all = (await drain(watch(log, { startAtOperationTime: new Timestamp({ t: 0, i: 0 }) }, filter))).events;
    const ids = all.map((e) => dataOf(e._id));
    // Walk the log in small batches; at each reply resume from its PBRT and compare with what remains.
    const cursor = watch(log, { startAtOperationTime: new Timestamp({ t: 0, i: 0 }) }, filter);
    let delivered = 0;
    for (let round = 0; round < 1000; round++) {
      const batch = await cursor.next(3, 0, never);
      delivered += batch.events.length;
      const rest = await drain(watch(log, { resumeAfter: batch.postBatchResumeToken }, filter));
      expect(rest.events.map((e) => dataOf(e._id))).toEqual(ids.slice(delivered));
      if (batch.events.length > 0) {
        expect(dataOf(batch.postBatchResumeToken) >= dataOf(batch.events.at(-1)!._id)).toBe(true);
      } else {
        break;
      }
    }
    expect(delivered).toBe(ids.length);
  });

  it('PBRT: a high-water mark when nothing new was returned, the last event when the batch ended on it', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log, {}, [{ $match: { 'fullDocument.keep': true } }]);
    const empty = await cursor.next(10, 0, never);
    expect(empty.events).toEqual([]);
    expect(decodeResumeToken(empty.postBatchResumeToken).kind).toBe('highWaterMark');

    log.insert(DB, COLL, { _id: 1, keep: true });
    const one = await cursor.next(10, 0, never);
    expect(one.events).toHaveLength(1);
    expect(one.postBatchResumeToken).toEqual(one.events[0]!._id);

    log.insert(DB, COLL, { _id: 2, keep: true });
    log.insert(DB, COLL, { _id: 3, keep: false });
    log.insert(DB, 'other', { _id: 4, keep: true });
    const filteredTail = await cursor.next(10, 0, never);
    expect(filteredTail.events.map((e) => e.documentKey)).toEqual([{ _id: 2 }]);
    const pbrt = dataOf(filteredTail.postBatchResumeToken);
    expect(pbrt > dataOf(filteredTail.events[0]!._id)).toBe(true);
    expect(decodeResumeToken(filteredTail.postBatchResumeToken)).toMatchObject({
      kind: 'highWaterMark',
      seq: log.lastSeq,
    });

    const idle = await cursor.next(10, 0, never);
    expect(dataOf(idle.postBatchResumeToken) >= pbrt).toBe(true);
    log.insert(DB, COLL, { _id: 5, keep: true });
    const resumed = await drain(watch(log, { resumeAfter: idle.postBatchResumeToken }));
    expect(resumed.events.map((e) => e.documentKey)).toEqual([{ _id: 5 }]);
  });

  it('a fresh stream starts after the latest write and its first PBRT resumes there', async () => {
    const log = new MemoryChangeLog();
    log.insert(DB, COLL, { _id: 'before' });
    const cursor = watch(log);
    const first = await cursor.next(101, 0, never);
    expect(first.events).toEqual([]);
    log.insert(DB, COLL, { _id: 'after' });
    const resumed = await drain(watch(log, { resumeAfter: first.postBatchResumeToken }));
    expect(resumed.events.map((e) => e.documentKey)).toEqual([{ _id: 'after' }]);
  });

  it('startAtOperationTime is inclusive and startAfter an event resumes after it', async () => {
    const log = new MemoryChangeLog();
    log.insert(DB, COLL, { _id: 1 });
    const second = log.insert(DB, COLL, { _id: 2 });
    log.insert(DB, COLL, { _id: 3 });
    const fromTime = await drain(watch(log, { startAtOperationTime: second.clusterTime }));
    expect(fromTime.events.map((e) => e.documentKey)).toEqual([{ _id: 2 }, { _id: 3 }]);
    const future = watch(log, { startAtOperationTime: new Timestamp({ t: 2_000_000_000, i: 1 }) });
    log.insert(DB, COLL, { _id: 'still before the start time' });
    expect((await drain(future)).events).toEqual([]);
    // Its high-water mark carries the start time: a stream resumed from it keeps skipping earlier records.
    const idle = await future.next(10, 0, never);
    log.insert(DB, COLL, { _id: 'also before the start time' });
    expect((await drain(watch(log, { resumeAfter: idle.postBatchResumeToken }))).events).toEqual([]);
    const after = await drain(watch(log, { startAfter: fromTime.events[0]!._id }));
    expect(after.events.map((e) => e.documentKey)).toEqual([
      { _id: 3 },
      { _id: 'still before the start time' },
      { _id: 'also before the start time' },
    ]);
  });
});

describe('errors', () => {
  it('286 with NonResumableChangeStreamError when resuming from before the retained history', async () => {
    const log = new MemoryChangeLog(5);
    const early = log.insert(DB, COLL, { _id: 0 });
    const cursor = watch(log);
    const hwm = (await cursor.next(10, 0, never)).postBatchResumeToken;
    for (let i = 1; i <= 10; i++) log.insert(DB, COLL, { _id: i });
    const labels = ['NonResumableChangeStreamError'];
    const token = encodeResumeToken({ clusterTime: early.clusterTime, seq: early.seq, kind: 'event' });
    expectServerError(() => watch(log, { resumeAfter: token }), 286, labels);
    expectServerError(() => watch(log, { resumeAfter: hwm }), 286, labels);
    expectServerError(() => watch(log, { startAtOperationTime: early.clusterTime }), 286, labels);
    // A stream that fell behind the retention window fails the same way rather than skipping.
    await expectNextError(cursor, 286, labels);
  });

  it('286 for a high-water mark from another history (a later position, or a different time at its position)', () => {
    const log = new MemoryChangeLog();
    const rec = log.insert(DB, COLL, { _id: 1 });
    log.insert(DB, COLL, { _id: 2 });
    const ahead = encodeResumeToken({ clusterTime: rec.clusterTime, seq: 50n, kind: 'highWaterMark' });
    expectServerError(() => watch(log, { resumeAfter: ahead }), 286, ['NonResumableChangeStreamError']);
    const older = encodeResumeToken({
      clusterTime: new Timestamp({ t: 5, i: 0 }),
      seq: rec.seq,
      kind: 'highWaterMark',
    });
    expectServerError(() => watch(log, { resumeAfter: older }), 286, ['NonResumableChangeStreamError']);
  });

  it('280 for an event token this history never produced', () => {
    const log = new MemoryChangeLog();
    const rec = log.insert(DB, COLL, { _id: 1 });
    const labels = ['NonResumableChangeStreamError'];
    const future = encodeResumeToken({ clusterTime: rec.clusterTime, seq: rec.seq + 5n, kind: 'event' });
    expectServerError(() => watch(log, { resumeAfter: future }), 280, labels);
    const wrongTime = encodeResumeToken({ clusterTime: new Timestamp({ t: 1, i: 1 }), seq: rec.seq, kind: 'event' });
    const error = expectServerError(() => watch(log, { resumeAfter: wrongTime }), 280, labels);
    expect(error.message).toContain('the resume token was not found');
    const otherColl = log.insert(DB, 'other', { _id: 2 });
    const foreign = encodeResumeToken({ clusterTime: otherColl.clusterTime, seq: otherColl.seq, kind: 'event' });
    expectServerError(() => watch(log, { resumeAfter: foreign }), 280, labels);
  });

  it('rejects malformed tokens with mongod codes', () => {
    const log = new MemoryChangeLog();
    log.insert(DB, COLL, { _id: 1 });
    expectServerError(() => watch(log, { resumeAfter: {} }), 40647);
    expectServerError(() => watch(log, { resumeAfter: { _data: 7 } }), 40647);
    expectServerError(() => watch(log, { resumeAfter: { _data: '' } }), 40649);
    expectServerError(() => watch(log, { resumeAfter: { _data: 'not hex!' } }), 260);
    expectServerError(() => watch(log, { resumeAfter: { _data: '8263A0B1C2' } }), 260);
    expectServerError(() => watch(log, { resumeAfter: 'x' }), 14);
  });

  it('validates stage options', () => {
    const log = new MemoryChangeLog();
    const token = encodeResumeToken({ clusterTime: log.lastClusterTime, seq: 0n, kind: 'highWaterMark' });
    expectServerError(() => watch(log, { fullDocument: 'sometimes' }), 2);
    expectServerError(() => watch(log, { fullDocumentBeforeChange: 'always' }), 2);
    expectServerError(() => watch(log, { fullDocument: 1 }), 14);
    expectServerError(() => watch(log, { showExpandedEvents: 'yes' }), 14);
    expectServerError(() => watch(log, { startAtOperationTime: 5 }), 14);
    expectServerError(() => watch(log, { batchSize: 5 }), 40415);
    expectServerError(() => watch(log, { resumeAfter: token, startAfter: token }), 50865);
    expectServerError(() => watch(log, { resumeAfter: token, startAtOperationTime: log.lastClusterTime }), 40674);
    expectServerError(() => watch(log, { allChangesForCluster: true }), 72);
    expectServerError(() => openChangeStream(log, { db: 'local', coll: 'oplog.rs', stage: {}, pipeline: [] }), 73);
    expectServerError(() => openChangeStream(log, { db: 'admin', coll: 'x', stage: {}, pipeline: [] }), 73);
    expectServerError(() => openChangeStream(log, { db: DB, coll: 'system.views', stage: {}, pipeline: [] }), 73);
    expectServerError(
      () => openChangeStream(log, { db: DB, coll: COLL, stage: 1 as unknown as Doc, pipeline: [] }),
      50808,
    );
  });

  it('validates user stages: disallowed 20, unknown 40324, misplaced $changeStream 40602', () => {
    const log = new MemoryChangeLog();
    for (const stage of [{ $group: { _id: null } }, { $sort: { x: 1 } }, { $lookup: {} }, { $limit: 1 }]) {
      const error = expectServerError(() => watch(log, {}, [stage]), 20);
      expect(error.message).toBe(`${Object.keys(stage)[0]} is not permitted in a $changeStream pipeline`);
    }
    expectServerError(() => watch(log, {}, [{ $frobnicate: {} }]), 40324);
    expectServerError(() => watch(log, {}, [{ $changeStream: {} }]), 40602);
    expectServerError(() => watch(log, {}, [{ $match: {}, $project: {} }]), 40323);
    expectServerError(() => watch(log, {}, [{ $changeStreamSplitLargeEvent: {} }, { $match: {} }]), 7182802);
  });

  it('280 at the event when a user stage changes or removes _id; the cursor is then closed', async () => {
    const log = new MemoryChangeLog();
    const pipelines: Doc[][] = [
      [{ $project: { _id: 0 } }],
      [{ $set: { _id: 'mine' } }],
      [{ $replaceRoot: { newRoot: '$fullDocument' } }],
    ];
    const cursors = pipelines.map((p) => watch(log, {}, p));
    log.insert(DB, COLL, { _id: 1 });
    for (const cursor of cursors) {
      await expectNextError(cursor, 280, ['NonResumableChangeStreamError']);
      expect((await cursor.next(10, 0, never)).events).toEqual([]);
    }
  });
});

describe('fullDocument and fullDocumentBeforeChange', () => {
  function eventsFor(images: boolean, stage: Doc) {
    const log = new MemoryChangeLog();
    log.setImages(DB, COLL, images);
    log.insert(DB, COLL, { _id: 1, v: 1 });
    const cursor = watch(log, stage);
    log.update(DB, COLL, { _id: 1, v: 2 }, upd({ v: 2 }));
    log.update(DB, COLL, { _id: 1, v: 3 }, upd({ v: 3 }));
    log.replace(DB, COLL, { _id: 1, r: 1 });
    log.delete(DB, COLL, 1);
    log.insert(DB, COLL, { _id: 2 });
    return { log, cursor };
  }

  it('default: updates carry no fullDocument; no pre-images', async () => {
    const { cursor } = eventsFor(true, {});
    const { events } = await drain(cursor);
    expect(events[0]).not.toHaveProperty('fullDocument');
    expect(events.some((e) => 'fullDocumentBeforeChange' in e)).toBe(false);
  });

  it('updateLookup: the current document when the event is returned, null once deleted', async () => {
    const log = new MemoryChangeLog();
    log.insert(DB, COLL, { _id: 1, v: 1 });
    const cursor = watch(log, { fullDocument: 'updateLookup' });
    log.update(DB, COLL, { _id: 1, v: 2 }, upd({ v: 2 }));
    const first = await cursor.next(10, 0, never);
    expect(first.events[0]).toMatchObject({ operationType: 'update', fullDocument: { _id: 1, v: 2 } });
    log.update(DB, COLL, { _id: 1, v: 3 }, upd({ v: 3 }));
    log.update(DB, COLL, { _id: 1, v: 4 }, upd({ v: 4 }));
    const second = await cursor.next(10, 0, never);
    expect(second.events.map((e) => e.fullDocument)).toEqual([
      { _id: 1, v: 4 },
      { _id: 1, v: 4 },
    ]);
    log.update(DB, COLL, { _id: 1, v: 5 }, upd({ v: 5 }));
    log.delete(DB, COLL, 1);
    const third = await cursor.next(10, 0, never);
    expect(third.events[0]).toMatchObject({ operationType: 'update', fullDocument: null });
  });

  it('whenAvailable: stored images with changeStreamPreAndPostImages, null without', async () => {
    const withImages = await drain(
      eventsFor(true, { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' }).cursor,
    );
    expect(withImages.events.map((e) => [e.operationType, e.fullDocument, e.fullDocumentBeforeChange])).toEqual([
      ['update', { _id: 1, v: 2 }, { _id: 1, v: 1 }],
      ['update', { _id: 1, v: 3 }, { _id: 1, v: 2 }],
      ['replace', { _id: 1, r: 1 }, { _id: 1, v: 3 }],
      ['delete', undefined, { _id: 1, r: 1 }],
      ['insert', { _id: 2 }, undefined],
    ]);
    expect(withImages.events[4]).not.toHaveProperty('fullDocumentBeforeChange');
    const without = await drain(
      eventsFor(false, { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' }).cursor,
    );
    expect(without.events.map((e) => [e.operationType, e.fullDocument, e.fullDocumentBeforeChange])).toEqual([
      ['update', null, null],
      ['update', null, null],
      ['replace', { _id: 1, r: 1 }, null],
      ['delete', undefined, null],
      ['insert', { _id: 2 }, undefined],
    ]);
  });

  it('required: images when available, 47 NoMatchingDocument at the event when not', async () => {
    const ok = await drain(eventsFor(true, { fullDocument: 'required', fullDocumentBeforeChange: 'required' }).cursor);
    expect(ok.events.map((e) => e.operationType)).toEqual(['update', 'update', 'replace', 'delete', 'insert']);

    const post = eventsFor(false, { fullDocument: 'required' });
    const postError = await post.cursor.next(10, 0, never).catch((e: unknown) => e);
    expect(postError).toMatchObject({ code: 47, codeName: 'NoMatchingDocument' });
    expect((postError as Error).message).toContain('require a post-image for all update events');

    const pre = eventsFor(false, { fullDocumentBeforeChange: 'required' });
    const preError = await pre.cursor.next(10, 0, never).catch((e: unknown) => e);
    expect(preError).toMatchObject({ code: 47 });
    expect((preError as Error).message).toContain('require a pre-image for all update, delete and replace events');
    expect((preError as MongoServerError).extra?.errorLabels).toBeUndefined();
  });

  it('required images are not demanded for events a user $match drops', async () => {
    const log = new MemoryChangeLog();
    const onlyInserts = watch(log, { fullDocumentBeforeChange: 'required' }, [{ $match: { operationType: 'insert' } }]);
    log.insert(DB, COLL, { _id: 1 });
    log.delete(DB, COLL, 1);
    log.insert(DB, COLL, { _id: 2 });
    expect((await drain(onlyInserts)).events.map((e) => e.documentKey)).toEqual([{ _id: 1 }, { _id: 2 }]);
  });
});

describe('user stages', () => {
  it('applies $match $project $addFields $set $unset $replaceRoot $replaceWith per event', async () => {
    const log = new MemoryChangeLog();
    const match = watch(log, {}, [{ $match: { 'fullDocument.status': 'paid' } }]);
    const project = watch(log, {}, [{ $project: { operationType: 1, 'fullDocument.status': 1 } }]);
    const add = watch(log, {}, [{ $addFields: { tag: 'x' } }, { $set: { tag2: '$operationType' } }, { $unset: 'ns' }]);
    const root = watch(log, {}, [{ $replaceRoot: { newRoot: { _id: '$_id', doc: '$fullDocument' } } }]);
    const withStage = watch(log, {}, [{ $replaceWith: { _id: '$_id', key: '$documentKey' } }]);
    log.insert(DB, COLL, { _id: 1, status: 'new' });
    log.insert(DB, COLL, { _id: 2, status: 'paid' });

    expect((await drain(match)).events.map((e) => e.documentKey)).toEqual([{ _id: 2 }]);
    const projected = (await drain(project)).events;
    expect(Object.keys(projected[0]!).sort()).toEqual(['_id', 'fullDocument', 'operationType']);
    expect(projected[0]!.fullDocument).toEqual({ status: 'new' });
    const added = (await drain(add)).events;
    expect(added[0]).toMatchObject({ tag: 'x', tag2: 'insert' });
    expect(added[0]).not.toHaveProperty('ns');
    expect((await drain(root)).events[1]).toEqual({
      _id: expect.anything() as unknown,
      doc: { _id: 2, status: 'paid' },
    });
    expect((await drain(withStage)).events.map((e) => e.key)).toEqual([{ _id: 1 }, { _id: 2 }]);
  });
});

describe('$redact', () => {
  it('keeps, prunes and descends as its expression decides', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log, {}, [
      {
        $redact: {
          $cond: {
            if: { $eq: ['$secret', true] },
            then: '$$PRUNE',
            else: { $cond: { if: { $eq: ['$level', 'top'] }, then: '$$KEEP', else: '$$DESCEND' } },
          },
        },
      },
    ]);
    const bad = watch(log, {}, [{ $redact: 'yes' }]);
    log.insert(DB, COLL, {
      _id: 1,
      public: { a: 1 },
      hidden: { secret: true, b: 2 },
      list: [{ secret: true }, { c: 3 }],
    });
    log.insert(DB, COLL, { _id: 2, secret: true });
    const { events } = await drain(cursor);
    expect(events.map((e) => e.fullDocument)).toEqual([{ _id: 1, public: { a: 1 }, list: [{ c: 3 }] }, undefined]);
    expect(events[1]).toMatchObject({ operationType: 'insert', documentKey: { _id: 2 } });
    expect(events[1]).not.toHaveProperty('fullDocument');
    await expectNextError(bad, 17053);
  });
});

describe('waiting', () => {
  it('returns as soon as an event is appended while waiting', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    const pending = cursor.next(10, 60_000, never);
    setTimeout(() => log.insert(DB, COLL, { _id: 'late' }), 5);
    const batch = await pending;
    expect(batch.events.map((e) => e.documentKey)).toEqual([{ _id: 'late' }]);
    expect(log.listenerCount).toBe(0);
  });

  it('keeps waiting through writes it filters out, and returns an empty batch when the wait ends', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    const pending = cursor.next(10, 30, never);
    setTimeout(() => log.insert(DB, 'other', { _id: 1 }), 1);
    const batch = await pending;
    expect(batch.events).toEqual([]);
    expect(decodeResumeToken(batch.postBatchResumeToken)).toMatchObject({ kind: 'highWaterMark', seq: 1n });
  });

  it('honours batchSize and keeps the rest for the next call', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    for (let i = 0; i < 10; i++) log.insert(DB, COLL, { _id: i });
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) sizes.push((await cursor.next(4, 0, never)).events.length);
    expect(sizes).toEqual([4, 4, 2, 0, 0]);
    expect((await cursor.next(0, 0, never)).events).toEqual([]);
  });

  it('treats a NaN wait as no wait and a NaN batch size as the default', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    expect((await cursor.next(Number.NaN, Number.NaN, never)).events).toEqual([]);
    for (let i = 0; i < 150; i++) log.insert(DB, COLL, { _id: i });
    expect((await cursor.next(Number.NaN, 0, never)).events).toHaveLength(101);
    expect((await cursor.next(Number.POSITIVE_INFINITY, 0, never)).events).toHaveLength(49);
  });

  it('an abort or close ends the wait with an empty batch and leaves no listener or timer', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    const controller = new AbortController();
    const aborted = cursor.next(10, 60_000, controller.signal);
    expect(log.listenerCount).toBe(1);
    controller.abort();
    expect((await aborted).events).toEqual([]);
    expect(log.listenerCount).toBe(0);

    const closed = cursor.next(10, 60_000, never);
    expect(log.listenerCount).toBe(1);
    cursor.close();
    expect((await closed).events).toEqual([]);
    expect(log.listenerCount).toBe(0);
    log.insert(DB, COLL, { _id: 1 });
    expect((await cursor.next(10, 0, never)).events).toEqual([]);
  });

  it('refuses a second concurrent next on the same cursor', async () => {
    const log = new MemoryChangeLog();
    const cursor = watch(log);
    const first = cursor.next(10, 60_000, never);
    await expect(cursor.next(10, 0, never)).rejects.toMatchObject({ code: 292 });
    log.insert(DB, COLL, { _id: 1 });
    expect((await first).events).toHaveLength(1);
  });

  it('scans a long run of non-matching records in bounded slices, yielding to the event loop', async () => {
    const log = new MemoryChangeLog();
    const cursor = openChangeStream(log, { db: DB, coll: COLL, stage: {}, pipeline: [] }, { scanBudget: 500 });
    open.push(cursor);
    for (let i = 0; i < 20_000; i++) log.insert(DB, 'noise', { _id: i });
    log.insert(DB, COLL, { _id: 'needle' });
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns += 1;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const batch = await cursor.next(10, 60_000, never);
    spinning = false;
    expect(batch.events.map((e) => e.documentKey)).toEqual([{ _id: 'needle' }]);
    // Other work ran between slices: 20,000 records in slices of 500 means many turns.
    expect(turns).toBeGreaterThan(10);

    // Without waiting (the initial aggregate), one slice is scanned and the PBRT records the progress.
    for (let i = 0; i < 2_000; i++) log.insert(DB, 'noise', { _id: `n${i}` });
    const partial = await cursor.next(10, 0, never);
    expect(partial.events).toEqual([]);
    const progress = decodeResumeToken(partial.postBatchResumeToken);
    expect(progress.kind).toBe('highWaterMark');
    expect(progress.seq).toBeLessThan(log.lastSeq);
  });
});
