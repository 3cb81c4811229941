import { MongoClient, Timestamp, type Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { startEmbeddedServer, type EmbeddedServer } from './index.js';
import { useDataDirs, type DiskEngine } from './test-support/data-dir.js';
import { indexNames, type TestDoc } from './test-support/harness.js';

const { tempDir, open: openDir } = useDataDirs();

function open(dbPath: string, changeHistoryMaxRecords?: number): Promise<DiskEngine> {
  return openDir(dbPath, changeHistoryMaxRecords ? { changeHistoryMaxRecords } : {});
}

async function shut(server: EmbeddedServer, client: MongoClient): Promise<void> {
  await client.close();
  await server.close();
}

describe('restart from the data directory', () => {
  it('keeps documents, indexes, collection options and DDL effects', async () => {
    const dir = tempDir();
    const first = await open(dir);
    const db = first.client.db('app');
    await db.createCollection('orders', { changeStreamPreAndPostImages: { enabled: true } });
    const orders = db.collection<TestDoc>('orders');
    await orders.createIndex({ orderNo: 1 }, { unique: true }, undefined);
    await orders.insertMany(Array.from({ length: 100 }, (_, i) => ({ _id: i, orderNo: `N${i}`, qty: i })));
    await orders.updateMany({ qty: { $lt: 10 } }, { $set: { status: 'small' } });
    await orders.deleteMany({ qty: { $gte: 90 } });
    await db.collection('tmp').insertOne({ a: 1 });
    await db.collection('tmp').drop();
    await db.collection<TestDoc<string>>('old').insertOne({ _id: 'moved' });
    await db.renameCollection('old', 'renamed');
    const before = (await db.command({ ping: 1 })) as { operationTime: Timestamp };
    await shut(first.server, first.client);

    const second = await open(dir);
    const db2 = second.client.db('app');
    const orders2 = db2.collection<TestDoc>('orders');
    expect(await orders2.countDocuments()).toBe(90);
    expect(await orders2.countDocuments({ status: 'small' })).toBe(10);
    expect(await orders2.findOne({ _id: 42 })).toEqual({ _id: 42, orderNo: 'N42', qty: 42 });
    expect(await indexNames(orders2)).toEqual(['_id_', 'orderNo_1']);
    await expect(orders2.insertOne({ orderNo: 'N1' })).rejects.toMatchObject({ code: 11000 });
    const names = (await db2.listCollections({}, { nameOnly: true }).toArray())
      .map((c: Document) => c.name as string)
      .sort();
    expect(names).toEqual(['orders', 'renamed']);
    const [info] = (await db2.listCollections({ name: 'orders' }).toArray()) as { options: Document }[];
    expect(info?.options).toEqual({ changeStreamPreAndPostImages: { enabled: true } });
    // Cluster time never goes backwards across a restart.
    const after = (await db2.command({ ping: 1 })) as { operationTime: Timestamp };
    expect(after.operationTime.greaterThanOrEqual(before.operationTime)).toBe(true);
    const write = (await db2.command({ insert: 'orders', documents: [{ _id: 'new', orderNo: 'X' }] })) as {
      operationTime: Timestamp;
    };
    expect(write.operationTime.greaterThan(before.operationTime)).toBe(true);
  });

  it('resumes a change stream across a restart without losing or repeating events', async () => {
    const dir = tempDir();
    const first = await open(dir);
    const coll = first.client.db('app').collection<TestDoc>('events');
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    await stream.tryNext();
    await coll.insertOne({ _id: 1 });
    const firstEvent = await stream.next();
    expect(firstEvent).toMatchObject({ operationType: 'insert', documentKey: { _id: 1 } });
    const token = stream.resumeToken;
    await stream.close();
    await coll.insertOne({ _id: 2 });
    await coll.updateOne({ _id: 2 }, { $set: { x: 1 } });
    await shut(first.server, first.client);

    const second = await open(dir);
    const coll2 = second.client.db('app').collection<TestDoc>('events');
    const resumed = coll2.watch([], { resumeAfter: token, maxAwaitTimeMS: 100 });
    try {
      const a = await resumed.next();
      const b = await resumed.next();
      expect([a.operationType, b.operationType]).toEqual(['insert', 'update']);
      expect(a).toMatchObject({ documentKey: { _id: 2 } });
      await coll2.deleteOne({ _id: 1 });
      expect(await resumed.next()).toMatchObject({ operationType: 'delete', documentKey: { _id: 1 } });
    } finally {
      await resumed.close();
    }
  });

  it('answers 286 when resuming from before the retained change history', async () => {
    const dir = tempDir();
    const first = await open(dir, 5);
    const coll = first.client.db('app').collection<TestDoc>('h');
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    await stream.tryNext();
    await coll.insertOne({ _id: 0 });
    await stream.next();
    const token = stream.resumeToken;
    await stream.close();
    for (let i = 1; i <= 10; i++) await coll.insertOne({ _id: i });
    await shut(first.server, first.client);

    const second = await open(dir, 5);
    const resumed = second.client.db('app').collection('h').watch([], { resumeAfter: token, maxAwaitTimeMS: 100 });
    try {
      await expect(resumed.next()).rejects.toMatchObject({ code: 286 });
    } finally {
      await resumed.close();
    }
  });

  it('refuses to open a data directory another running engine holds', async () => {
    const dir = tempDir();
    await open(dir);
    await expect(startEmbeddedServer({ port: 0, dbPath: dir })).rejects.toThrow();
  });
});
