import { BSON, type Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { errorOf, runCommand, useEngine } from '../test-support/harness.js';

// mongosh's helpers, through the commands they send: rs.conf(), db.coll.stats(), explain() of an aggregate,
// db.serverStatus().opcounters and `show dbs`.

const engine = useEngine('shell');
const { freshDb } = engine;

describe('rs.conf()', () => {
  it('replSetGetConfig describes the one member that hello reports', async () => {
    const admin = engine.client.db('admin');
    const hello = await runCommand<{ setName: string; me: string }>(admin, { hello: 1 });
    const { config } = await runCommand<{
      config: { _id: string; version: number; members: { _id: number; host: string; votes: number }[] };
    }>(admin, { replSetGetConfig: 1 });
    expect(config._id).toBe(hello.setName);
    expect(config.members).toHaveLength(1);
    expect(config.members[0]).toMatchObject({ _id: 0, host: hello.me, votes: 1 });
    const elsewhere = await errorOf(freshDb().command({ replSetGetConfig: 1 }));
    expect(elsewhere).toMatchObject({ code: 13, codeName: 'Unauthorized' });
  });
});

describe('db.coll.stats()', () => {
  interface StorageStats {
    size: number;
    count: number;
    avgObjSize: number;
    nindexes: number;
    indexSizes: Record<string, number>;
    totalIndexSize: number;
    scaleFactor: number;
  }

  it('$collStats storageStats reports the documents, their BSON size and the indexes', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: number; sku: string; lines: { qty: number }[] }>('orders');
    const docs = Array.from({ length: 20 }, (_, i) => ({ _id: i, sku: `sku-${i}`, lines: [{ qty: i }] }));
    await coll.insertMany(docs);
    await coll.createIndex({ sku: 1 });
    const [stats] = await coll
      .aggregate<{ ns: string; storageStats: StorageStats }>([{ $collStats: { storageStats: {} } }])
      .toArray();
    const bytes = docs.reduce((n, d) => n + BSON.calculateObjectSize(d), 0);
    expect(stats?.ns).toBe(`${db.databaseName}.orders`);
    expect(stats?.storageStats).toMatchObject({
      count: 20,
      size: bytes,
      avgObjSize: Math.trunc(bytes / 20),
      nindexes: 2,
      scaleFactor: 1,
    });
    expect(Object.keys(stats?.storageStats.indexSizes ?? {})).toEqual(['_id_', 'sku_1']);
    expect(stats?.storageStats.totalIndexSize).toBeGreaterThan(0);

    const [scaled] = await coll
      .aggregate<{ storageStats: StorageStats }>([{ $collStats: { storageStats: { scale: 1024 } } }])
      .toArray();
    expect(scaled?.storageStats).toMatchObject({ size: Math.trunc(bytes / 1024), scaleFactor: 1024 });

    const [counted] = await coll
      .aggregate<{ count: number }>([{ $collStats: { count: {} } }, { $project: { _id: 0, count: 1 } }])
      .toArray();
    expect(counted).toEqual({ count: 20 });

    const command = await runCommand<{ ns: string; count: number; size: number }>(db, { collStats: 'orders' });
    expect(command).toMatchObject({ ns: `${db.databaseName}.orders`, count: 20, size: bytes });
  });

  it('reports zeros for a missing collection and refuses what it does not track', async () => {
    const coll = freshDb().collection('missing');
    const [stats] = await coll
      .aggregate<{ storageStats: StorageStats }>([{ $collStats: { storageStats: {} } }])
      .toArray();
    expect(stats?.storageStats).toMatchObject({ count: 0, size: 0, nindexes: 0 });
    expect(await errorOf(coll.aggregate([{ $collStats: { latencyStats: {} } }]).toArray())).toMatchObject({
      code: 115,
    });
    expect(await errorOf(coll.aggregate([{ $collStats: { bogus: {} } }]).toArray())).toMatchObject({ code: 40415 });
    expect(await errorOf(coll.aggregate([{ $collStats: { storageStats: { scale: 0 } } }]).toArray())).toMatchObject({
      code: 51024,
    });
  });
});

describe('explain() of an aggregate', () => {
  it('shows the index the leading $match uses and what it examined', async () => {
    const coll = freshDb().collection<{ _id: number; a: number; tags: string[] }>('c');
    await coll.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i, a: i % 10, tags: ['x', 'y'] })));
    await coll.createIndex({ a: 1 });
    const pipeline = [{ $match: { a: 3 } }, { $unwind: '$tags' }];
    const explained = (await coll.aggregate(pipeline).explain('executionStats')) as {
      stages: { $cursor?: { queryPlanner: Document; executionStats: { totalKeysExamined: number } } }[];
    };
    const cursor = explained.stages[0]?.$cursor;
    expect(cursor?.queryPlanner.winningPlan).toMatchObject({ stage: 'FETCH', inputStage: { indexName: 'a_1' } });
    expect(cursor?.executionStats).toMatchObject({ nReturned: 3, totalDocsExamined: 3 });
    expect(cursor?.executionStats.totalKeysExamined).toBeGreaterThanOrEqual(3);
    expect(explained.stages[1]).toEqual({ $unwind: '$tags' });

    // Only a $match: explained like the find it runs as.
    const unindexed = (await coll.aggregate([{ $match: { b: 1 } }]).explain('queryPlanner')) as {
      queryPlanner: { winningPlan: Document };
      executionStats?: Document;
    };
    expect(unindexed.queryPlanner.winningPlan).toMatchObject({ stage: 'COLLSCAN' });
    expect(unindexed.executionStats).toBeUndefined();

    // `aggregate` with `explain: true`, as `db.coll.aggregate(pipeline, { explain: true })` sends it.
    const inline = await runCommand<{ stages: Document[] }>(coll.db, {
      aggregate: 'c',
      pipeline,
      explain: true,
    });
    expect(inline.stages).toHaveLength(2);
  });
});

describe('db.serverStatus()', () => {
  it('counts inserted documents, update and delete statements, finds and getMores', async () => {
    const admin = engine.client.db('admin');
    const coll = freshDb().collection<{ _id: number; x?: number }>('c');
    const before = (await admin.command({ serverStatus: 1 })).opcounters as Record<string, unknown>;
    await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    await coll.find({}, { batchSize: 1 }).toArray();
    await coll.findOne({ _id: 1 });
    await coll.updateOne({ _id: 1 }, { $set: { x: 1 } });
    await coll.deleteOne({ _id: 2 });
    const after = (await admin.command({ serverStatus: 1 })).opcounters as Record<string, unknown>;
    const delta = (field: string): number => Number(after[field]) - Number(before[field]);
    expect(delta('insert')).toBe(3);
    expect(delta('query')).toBe(2);
    expect(delta('getmore')).toBe(2);
    expect(delta('update')).toBe(1);
    expect(delta('delete')).toBe(1);
    expect(delta('command')).toBeGreaterThanOrEqual(1);
  });
});

describe('show dbs', () => {
  it('lists admin, config and local beside the databases that hold data', async () => {
    const db = freshDb();
    await db.collection('c').insertOne({ a: 1 });
    const { databases } = await engine.client.db('admin').admin().listDatabases();
    const names = databases.map((d) => d.name);
    expect(names).toEqual(expect.arrayContaining(['admin', 'config', 'local', db.databaseName]));
    for (const d of databases) expect(d.sizeOnDisk).toBeGreaterThan(0);
    const onlyInternal = await engine.client
      .db('admin')
      .admin()
      .listDatabases({ filter: { name: { $in: ['admin', 'local'] } }, nameOnly: true });
    expect(onlyInternal.databases.map((d) => d.name)).toEqual(['admin', 'local']);
  });
});
