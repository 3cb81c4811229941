import { Long, type ChangeStream, type ChangeStreamDocument, type Collection } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { useEngine, type TestDoc } from '../test-support/harness.js';

const engine = useEngine('cs');
const { freshDb } = engine;

afterEach(async () => {
  await engine.client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
  await engine.client.db('admin').command({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode: 'off' });
});

type Event = ChangeStreamDocument;

const openStreams: ChangeStream[] = [];
afterEach(async () => {
  await Promise.all(openStreams.splice(0).map((s) => s.close()));
});

/** A stream on a fresh collection that has already delivered the insert of `{ _id: 1 }`; closed after the test. */
async function streamPastFirstInsert(): Promise<{ coll: Collection<TestDoc>; stream: ChangeStream<TestDoc> }> {
  const coll = freshDb().collection<TestDoc>('c');
  const stream = coll.watch([], { maxAwaitTimeMS: 200 });
  openStreams.push(stream);
  await stream.tryNext();
  await coll.insertOne({ _id: 1 });
  expect(await stream.next()).toMatchObject({ documentKey: { _id: 1 } });
  return { coll, stream };
}

describe('change streams through the command layer', () => {
  it('sees inserts, updates, replaces and deletes made by another client, in order', async () => {
    const db = freshDb();
    const writer = await engine.newClient();
    const stream = db.collection<TestDoc>('c').watch([], { maxAwaitTimeMS: 200 });
    try {
      expect(await stream.tryNext()).toBeNull();
      const coll = writer.db(db.databaseName).collection<TestDoc>('c');
      await coll.insertOne({ _id: 1, s: 'new' });
      await coll.updateOne({ _id: 1 }, { $set: { s: 'paid' } });
      await coll.updateOne({ _id: 1 }, { $set: { s: 'paid' } }); // no-op: no event
      await coll.replaceOne({ _id: 1 }, { s: 'replaced' });
      await coll.deleteOne({ _id: 1 });
      const events: Event[] = [];
      for (let i = 0; i < 4; i++) events.push(await stream.next());
      expect(events.map((e) => e.operationType)).toEqual(['insert', 'update', 'replace', 'delete']);
      expect(events[0]).toMatchObject({
        fullDocument: { _id: 1, s: 'new' },
        ns: { db: db.databaseName, coll: 'c' },
        documentKey: { _id: 1 },
      });
      expect(events[1]).toMatchObject({ updateDescription: { updatedFields: { s: 'paid' }, removedFields: [] } });
      expect(await stream.tryNext()).toBeNull();
    } finally {
      await stream.close();
    }
  });

  it('reports one event per document of a multi-document write and none for a retried write', async () => {
    const db = freshDb();
    const stream = db.collection('c').watch([], { maxAwaitTimeMS: 200 });
    const client = await engine.newClient();
    const session = client.startSession();
    try {
      await stream.tryNext();
      await db.collection<TestDoc>('c').insertMany([
        { _id: 1, g: 1 },
        { _id: 2, g: 1 },
        { _id: 3, g: 2 },
      ]);
      await db.collection('c').updateMany({ g: 1 }, { $inc: { v: 1 } });
      const cmd = { insert: 'c', documents: [{ _id: 'retried' }], txnNumber: Long.fromNumber(1) };
      await client.db(db.databaseName).command(cmd, { session });
      await client.db(db.databaseName).command(cmd, { session });
      await db.collection<TestDoc<string>>('c').insertOne({ _id: 'last' });
      const seen: string[] = [];
      for (let i = 0; i < 7; i++) {
        const e = await stream.next();
        seen.push(`${e.operationType}:${String((e as { documentKey?: { _id: unknown } }).documentKey?._id)}`);
      }
      expect(seen).toEqual([
        'insert:1',
        'insert:2',
        'insert:3',
        'update:1',
        'update:2',
        'insert:retried',
        'insert:last',
      ]);
    } finally {
      await session.endSession();
      await client.close();
      await stream.close();
    }
  });

  it('delivers pre- and post-images when the collection has them enabled', async () => {
    const db = freshDb();
    await db.createCollection('c', { changeStreamPreAndPostImages: { enabled: true } });
    const coll = db.collection<TestDoc>('c');
    await coll.insertOne({ _id: 1, v: 1 });
    const stream = coll.watch([], {
      fullDocument: 'required',
      fullDocumentBeforeChange: 'required',
      maxAwaitTimeMS: 200,
    });
    try {
      await stream.tryNext();
      await coll.updateOne({ _id: 1 }, { $inc: { v: 1 } });
      const e = await stream.next();
      expect(e).toMatchObject({
        operationType: 'update',
        fullDocument: { _id: 1, v: 2 },
        fullDocumentBeforeChange: { _id: 1, v: 1 },
      });
    } finally {
      await stream.close();
    }
  });

  it('invalidates a collection stream when the collection is dropped', async () => {
    const db = freshDb();
    const coll = db.collection('c');
    await coll.insertOne({ a: 1 });
    const stream = coll.watch([], { maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext();
      await coll.drop();
      expect((await stream.next()).operationType).toBe('drop');
      expect((await stream.next()).operationType).toBe('invalidate');
      expect(stream.closed).toBe(true);
    } finally {
      await stream.close();
    }
  });

  it('watches a whole database', async () => {
    const db = freshDb();
    const stream = db.watch([], { maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext();
      await db.collection<TestDoc<string>>('a').insertOne({ _id: 'a' });
      await db.collection<TestDoc<string>>('b').insertOne({ _id: 'b' });
      const [x, y] = [await stream.next(), await stream.next()];
      expect([x, y].map((e) => (e as { ns: { coll: string } }).ns.coll)).toEqual(['a', 'b']);
    } finally {
      await stream.close();
    }
  });

  it('resumes without losing or repeating events when the connection drops during getMore', async () => {
    const { coll, stream } = await streamPastFirstInsert();
    await engine.client.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['getMore'], closeConnection: true },
    });
    await coll.insertOne({ _id: 2 });
    await coll.insertOne({ _id: 3 });
    expect(await stream.next()).toMatchObject({ documentKey: { _id: 2 } });
    expect(await stream.next()).toMatchObject({ documentKey: { _id: 3 } });
  });

  it('resumes after its server cursor is killed (CursorNotFound) and after a labelled error', async () => {
    const { coll, stream } = await streamPastFirstInsert();
    await engine.client
      .db('admin')
      .command({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode: { times: 1 }, data: { errorCode: 43 } });
    await coll.insertOne({ _id: 2 });
    expect(await stream.next()).toMatchObject({ documentKey: { _id: 2 } });
    await engine.client.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['getMore'], errorCode: 11601, errorLabels: ['ResumableChangeStreamError'] },
    });
    await coll.insertOne({ _id: 3 });
    expect(await stream.next()).toMatchObject({ documentKey: { _id: 3 } });
  });

  it('surfaces a getMore error without the resumable label', async () => {
    const db = freshDb();
    const stream = db.collection('c').watch([], { maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext();
      await engine.client.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['getMore'], errorCode: 6 },
      });
      await expect(stream.next()).rejects.toMatchObject({ code: 6 });
    } finally {
      await stream.close();
    }
  });
});
