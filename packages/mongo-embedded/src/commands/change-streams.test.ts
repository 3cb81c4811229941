import { Long, type ChangeStreamDocument, type Db } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, uniqueDbName, type Harness } from '../test-support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
  await h.client.db('admin').command({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode: 'off' });
});
afterAll(async () => {
  await h.close();
});

function freshDb(): Db {
  return h.client.db(uniqueDbName('cs'));
}

type Event = ChangeStreamDocument;

describe('change streams through the command layer', () => {
  it('sees inserts, updates, replaces and deletes made by another client, in order', async () => {
    const db = freshDb();
    const writer = await h.newClient();
    const stream = db.collection('c').watch([], { maxAwaitTimeMS: 200 });
    try {
      expect(await stream.tryNext()).toBeNull();
      const coll = writer.db(db.databaseName).collection('c');
      await coll.insertOne({ _id: 1, s: 'new' } as never);
      await coll.updateOne({ _id: 1 } as never, { $set: { s: 'paid' } });
      await coll.updateOne({ _id: 1 } as never, { $set: { s: 'paid' } }); // no-op: no event
      await coll.replaceOne({ _id: 1 } as never, { s: 'replaced' });
      await coll.deleteOne({ _id: 1 } as never);
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
    const client = await h.newClient();
    const session = client.startSession();
    try {
      await stream.tryNext();
      await db.collection('c').insertMany([
        { _id: 1, g: 1 },
        { _id: 2, g: 1 },
        { _id: 3, g: 2 },
      ] as never);
      await db.collection('c').updateMany({ g: 1 }, { $inc: { v: 1 } });
      const cmd = { insert: 'c', documents: [{ _id: 'retried' }], txnNumber: Long.fromNumber(1) };
      await client.db(db.databaseName).command(cmd, { session });
      await client.db(db.databaseName).command(cmd, { session });
      await db.collection('c').insertOne({ _id: 'last' } as never);
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
    const coll = db.collection('c');
    await coll.insertOne({ _id: 1, v: 1 } as never);
    const stream = coll.watch([], {
      fullDocument: 'required',
      fullDocumentBeforeChange: 'required',
      maxAwaitTimeMS: 200,
    });
    try {
      await stream.tryNext();
      await coll.updateOne({ _id: 1 } as never, { $inc: { v: 1 } });
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
      await db.collection('a').insertOne({ _id: 'a' } as never);
      await db.collection('b').insertOne({ _id: 'b' } as never);
      const [x, y] = [await stream.next(), await stream.next()];
      expect([x, y].map((e) => (e as { ns: { coll: string } }).ns.coll)).toEqual(['a', 'b']);
    } finally {
      await stream.close();
    }
  });

  it('resumes without losing or repeating events when the connection drops during getMore', async () => {
    const db = freshDb();
    const coll = db.collection('c');
    const stream = coll.watch([], { maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext();
      await coll.insertOne({ _id: 1 } as never);
      expect(await stream.next()).toMatchObject({ documentKey: { _id: 1 } });
      await h.client.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['getMore'], closeConnection: true },
      });
      await coll.insertOne({ _id: 2 } as never);
      await coll.insertOne({ _id: 3 } as never);
      expect(await stream.next()).toMatchObject({ documentKey: { _id: 2 } });
      expect(await stream.next()).toMatchObject({ documentKey: { _id: 3 } });
    } finally {
      await stream.close();
    }
  });

  it('resumes after its server cursor is killed (CursorNotFound) and after a labelled error', async () => {
    const db = freshDb();
    const coll = db.collection('c');
    const stream = coll.watch([], { maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext();
      await coll.insertOne({ _id: 1 } as never);
      expect(await stream.next()).toMatchObject({ documentKey: { _id: 1 } });
      await h.client
        .db('admin')
        .command({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode: { times: 1 }, data: { errorCode: 43 } });
      await coll.insertOne({ _id: 2 } as never);
      expect(await stream.next()).toMatchObject({ documentKey: { _id: 2 } });
      await h.client.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['getMore'], errorCode: 11601, errorLabels: ['ResumableChangeStreamError'] },
      });
      await coll.insertOne({ _id: 3 } as never);
      expect(await stream.next()).toMatchObject({ documentKey: { _id: 3 } });
    } finally {
      await stream.close();
    }
  });

  it('surfaces a getMore error without the resumable label', async () => {
    const db = freshDb();
    const stream = db.collection('c').watch([], { maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext();
      await h.client.db('admin').command({
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
