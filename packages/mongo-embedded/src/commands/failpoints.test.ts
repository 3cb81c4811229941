import { Long, MongoServerError, type Document } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueDbName, useEngine, type TestDoc } from '../test-support/harness.js';

const engine = useEngine('fp');
const { freshDb } = engine;

afterEach(async () => {
  await engine.client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
});
async function failCommand(mode: unknown, data: Document): Promise<void> {
  await engine.client.db('admin').command({ configureFailPoint: 'failCommand', mode, data });
}

/** Makes the next `times` runs of `command` fail with InterruptedDueToReplStateChange (11602), labelled RetryableWriteError. */
function failRetryably(command: string, times: number): Promise<void> {
  return failCommand({ times }, { failCommands: [command], errorCode: 11602, errorLabels: ['RetryableWriteError'] });
}

describe('retryable writes', () => {
  // These tests set txnNumber by hand, so they use their own client: its pooled server sessions must not be reused
  // by other tests whose driver-managed txnNumbers would then be older than ours.
  it('a retried write with the same lsid and txnNumber returns the original result and is applied once', async () => {
    const client = await engine.newClient();
    const db = client.db(uniqueDbName('fp'));
    const session = client.startSession();
    try {
      const cmd = { insert: 'c', documents: [{ _id: 1, v: 'first' }], txnNumber: Long.fromNumber(7) };
      const first = await db.command(cmd, { session });
      const retry = await db.command({ ...cmd, documents: [{ _id: 1, v: 'first' }] }, { session });
      expect(first).toMatchObject({ n: 1, ok: 1 });
      expect(retry).toMatchObject({ n: 1, ok: 1 });
      expect(retry).not.toHaveProperty('writeErrors');
      expect(await db.collection('c').countDocuments()).toBe(1);
      // A new txnNumber is a new statement: the duplicate is now reported.
      const next = await db.command({ ...cmd, txnNumber: Long.fromNumber(8) }, { session });
      expect(next).toMatchObject({ n: 0, writeErrors: [{ index: 0, code: 11000 }] });
      // An older txnNumber than the session's latest is refused.
      await expect(db.command({ ...cmd, txnNumber: Long.fromNumber(3) }, { session })).rejects.toMatchObject({
        code: 225,
      });
    } finally {
      await session.endSession();
      await client.close();
    }
  });

  it('a retried update is not applied twice', async () => {
    const client = await engine.newClient();
    const db = client.db(uniqueDbName('fp'));
    await db.collection<TestDoc>('c').insertOne({ _id: 1, n: 0 });
    const session = client.startSession();
    try {
      const cmd = { update: 'c', updates: [{ q: { _id: 1 }, u: { $inc: { n: 1 } } }], txnNumber: Long.fromNumber(100) };
      await db.command(cmd, { session });
      const retry = await db.command(cmd, { session });
      expect(retry).toMatchObject({ n: 1, nModified: 1 });
      expect(await db.collection<TestDoc>('c').findOne({ _id: 1 })).toEqual({ _id: 1, n: 1 });
    } finally {
      await session.endSession();
      await client.close();
    }
  });
});

describe('failCommand', () => {
  it('closeConnection: the driver retries the insert once and it is applied once', async () => {
    const coll = freshDb().collection<TestDoc<string>>('c');
    await failCommand({ times: 1 }, { failCommands: ['insert'], closeConnection: true });
    const res = await coll.insertOne({ _id: 'once' });
    expect(res.insertedId).toBe('once');
    expect(await coll.countDocuments()).toBe(1);
  });

  it('errorLabels RetryableWriteError: the driver retries and succeeds', async () => {
    const coll = freshDb().collection<TestDoc>('c');
    await failRetryably('update', 1);
    await coll.insertOne({ _id: 1, n: 0 });
    const res = await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } });
    expect(res.modifiedCount).toBe(1);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 1 });
  });

  it('labels a retryable code on a retryable write by itself, like mongod', async () => {
    const coll = freshDb().collection<TestDoc>('c');
    await failCommand({ times: 1 }, { failCommands: ['insert'], errorCode: 91 });
    await coll.insertOne({ _id: 1 });
    expect(await coll.countDocuments()).toBe(1);
  });

  it('a non-retryable error reaches the application and nothing is written', async () => {
    const coll = freshDb().collection<TestDoc>('c');
    await failCommand({ times: 1 }, { failCommands: ['insert'], errorCode: 2 });
    const err = await coll.insertOne({ _id: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect(err).toMatchObject({ code: 2, message: "Failing command via 'failCommand' failpoint" });
    expect((err as MongoServerError).errorLabels).toEqual([]);
    expect(await coll.countDocuments()).toBe(0);
  });

  it('a second failure on the retry surfaces the error (the driver retries only once)', async () => {
    const coll = freshDb().collection<TestDoc>('c');
    await failRetryably('insert', 2);
    await expect(coll.insertOne({ _id: 1 })).rejects.toMatchObject({ code: 11602 });
    await coll.insertOne({ _id: 2 });
    expect(await coll.countDocuments()).toBe(1);
  });

  it('skip lets the first matching commands through; alwaysOn fails until off', async () => {
    const db = freshDb();
    await failCommand({ skip: 1 }, { failCommands: ['find'], errorCode: 50 });
    await db.collection('c').findOne({});
    await expect(db.collection('c').findOne({})).rejects.toMatchObject({ code: 50 });
    await expect(db.collection('c').findOne({})).rejects.toMatchObject({ code: 50 });
    await failCommand('off', {});
    await failCommand('alwaysOn', { failCommands: ['count'], errorCode: 8000 });
    await expect(db.collection('c').estimatedDocumentCount()).rejects.toMatchObject({ code: 8000 });
    await expect(db.collection('c').estimatedDocumentCount()).rejects.toMatchObject({ code: 8000 });
    await failCommand('off', {});
    expect(await db.collection('c').estimatedDocumentCount()).toBe(0);
  });

  it('blockConnection delays only the blocked command; other connections keep working', async () => {
    const db = freshDb();
    await db.collection('c').insertOne({ a: 1 });
    const blockedClient = await engine.newClient({ appName: 'blocked-app' });
    await failCommand(
      { times: 1 },
      { failCommands: ['find'], blockConnection: true, blockTimeMS: 300, appName: 'blocked-app' },
    );
    const order: string[] = [];
    const blocked = blockedClient
      .db(db.databaseName)
      .collection('c')
      .findOne({})
      .then((d) => {
        order.push('blocked');
        return d;
      });
    await engine.client.db('admin').command({ ping: 1 });
    await db.collection('c').findOne({});
    order.push('other');
    expect(await blocked).toMatchObject({ a: 1 });
    expect(order).toEqual(['other', 'blocked']);
  });

  it('rejects unknown fail points and modes', async () => {
    const admin = engine.client.db('admin');
    await expect(admin.command({ configureFailPoint: 'noSuchPoint', mode: 'alwaysOn' })).rejects.toMatchObject({
      code: 2,
    });
    await expect(admin.command({ configureFailPoint: 'failCommand', mode: 'sometimes' })).rejects.toMatchObject({
      code: 2,
    });
  });
});
