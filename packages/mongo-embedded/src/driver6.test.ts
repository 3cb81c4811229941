import { MongoClient } from 'mongodb6';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedServer, type EmbeddedServer } from './index.js';

describe('driver 6.22 smoke set', () => {
  let server: EmbeddedServer;
  let client: MongoClient;
  beforeAll(async () => {
    server = await startEmbeddedServer({ port: 0 });
    client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
    await client.connect();
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('runs CRUD, findOneAndUpdate and unique indexes', async () => {
    const coll = client.db('v6').collection<{ _id: number; sku: string; qty: number }>('items');
    await coll.createIndex({ sku: 1 }, { unique: true });
    await coll.insertMany([
      { _id: 1, sku: 'a', qty: 1 },
      { _id: 2, sku: 'b', qty: 2 },
    ]);
    await expect(coll.insertOne({ _id: 3, sku: 'a', qty: 0 })).rejects.toMatchObject({
      code: 11000,
      keyValue: { sku: 'a' },
    });
    const after = await coll.findOneAndUpdate({ sku: 'b' }, { $inc: { qty: 5 } }, { returnDocument: 'after' });
    expect(after).toEqual({ _id: 2, sku: 'b', qty: 7 });
    expect(await coll.distinct('sku')).toEqual(['a', 'b']);
    expect(await coll.countDocuments({ qty: { $gt: 1 } })).toBe(1);
    const page = await coll.find({}, { batchSize: 1 }).sort({ _id: -1 }).toArray();
    expect(page.map((d) => d._id)).toEqual([2, 1]);
  });

  it('follows a change stream and retries a write after a dropped connection', async () => {
    const coll = client.db('v6').collection<{ _id: string }>('feed');
    const stream = coll.watch([], { maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext();
      await client.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['insert'], closeConnection: true },
      });
      await coll.insertOne({ _id: 'x' });
      const event = await stream.next();
      expect(event).toMatchObject({ operationType: 'insert', documentKey: { _id: 'x' } });
      expect(await coll.countDocuments()).toBe(1);
    } finally {
      await stream.close();
    }
  });

  it('runs withTransaction: both writes commit together, and a conflicting transaction is retried', async () => {
    const coll = client.db('v6').collection<{ _id: string; n: number }>('txn');
    await coll.insertOne({ _id: 'counter', n: 0 });
    const increment = async (): Promise<void> => {
      const session = client.startSession();
      try {
        await session.withTransaction(async () => {
          const doc = await coll.findOne({ _id: 'counter' }, { session });
          await new Promise((resolve) => setImmediate(resolve));
          await coll.updateOne({ _id: 'counter' }, { $set: { n: (doc?.n ?? 0) + 1 } }, { session });
          await coll.insertOne({ _id: `log-${String(doc?.n ?? 0)}`, n: 1 }, { session });
        });
      } finally {
        await session.endSession();
      }
    };
    await Promise.all([increment(), increment(), increment()]);
    expect(await coll.findOne({ _id: 'counter' })).toEqual({ _id: 'counter', n: 3 });
    expect(await coll.countDocuments({ _id: { $regex: /^log-/ } })).toBe(3);
  });
});
