import { Double, Int32, Long, ObjectId, type Collection } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { indexNames, runCommand, useEngine, type CursorReply, type TestDoc } from '../test-support/harness.js';
import { IndexData } from './indexes.js';

const engine = useEngine('idx');
const { freshDb } = engine;

interface ExplainReply {
  queryPlanner: { winningPlan: { stage: string; inputStage?: { stage: string; indexName?: string } } };
  executionStats: { nReturned: number; totalDocsExamined: number; totalKeysExamined: number };
}

describe('createIndexes / listIndexes / dropIndexes', () => {
  it('creates indexes with generated names and lists them after _id_', async () => {
    const db = freshDb();
    const coll = db.collection('c');
    expect(await coll.createIndex({ a: 1, b: -1 })).toBe('a_1_b_-1');
    expect(await coll.createIndex({ sku: 1 }, { unique: true }, undefined)).toBe('sku_1');
    expect(await coll.createIndex({ opt: 1 }, { sparse: true, name: 'opt_sparse' }, undefined)).toBe('opt_sparse');
    const indexes = await coll.listIndexes().toArray();
    expect(indexes).toEqual([
      { v: 2, key: { _id: 1 }, name: '_id_' },
      { v: 2, key: { a: 1, b: -1 }, name: 'a_1_b_-1' },
      { v: 2, key: { sku: 1 }, name: 'sku_1', unique: true },
      { v: 2, key: { opt: 1 }, name: 'opt_sparse', sparse: true },
    ]);
    const reply = await runCommand<{
      numIndexesBefore: number;
      numIndexesAfter: number;
      createdCollectionAutomatically: boolean;
      note?: string;
    }>(db, {
      createIndexes: 'c',
      indexes: [{ key: { sku: 1 }, name: 'sku_1', unique: true }],
    });
    expect(reply).toMatchObject({
      numIndexesBefore: 4,
      numIndexesAfter: 4,
      createdCollectionAutomatically: false,
      note: 'all indexes already exist',
    });
  });

  it('creates the collection automatically and reports it', async () => {
    const db = freshDb();
    const reply = await runCommand<{
      createdCollectionAutomatically: boolean;
      numIndexesBefore: number;
      numIndexesAfter: number;
    }>(db, {
      createIndexes: 'fresh',
      indexes: [{ key: { x: 1 }, name: 'x_1' }],
    });
    expect(reply).toMatchObject({ createdCollectionAutomatically: true, numIndexesBefore: 1, numIndexesAfter: 2 });
    expect((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)).toEqual(['fresh']);
  });

  it('refuses conflicting specs with 85 and 86', async () => {
    const coll = freshDb().collection('c');
    await coll.createIndex({ a: 1 }, { name: 'my_a' }, undefined);
    await expect(coll.createIndex({ b: 1 }, { name: 'my_a' }, undefined)).rejects.toMatchObject({
      code: 86,
      codeName: 'IndexKeySpecsConflict',
    });
    await expect(coll.createIndex({ a: 1 }, { name: 'my_a', unique: true }, undefined)).rejects.toMatchObject({
      code: 85,
      codeName: 'IndexOptionsConflict',
    });
    await expect(coll.createIndex({ a: 1 }, { name: 'other_a' }, undefined)).rejects.toMatchObject({ code: 85 });
  });

  it('drops by name, by key and all; refuses _id_ and unknown names', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('c');
    await coll.createIndexes([{ key: { a: 1 } }, { key: { b: 1 } }, { key: { c: 1 } }]);
    await coll.dropIndex('a_1');
    // The driver's dropIndex takes only a name; the server also accepts the key pattern.
    await db.command({ dropIndexes: 'c', index: { b: 1 } });
    expect(await indexNames(coll)).toEqual(['_id_', 'c_1']);
    await expect(coll.dropIndex('nope')).rejects.toMatchObject({ code: 27, codeName: 'IndexNotFound' });
    await expect(coll.dropIndex('_id_')).rejects.toMatchObject({ code: 72 });
    await coll.dropIndexes();
    expect(await indexNames(coll)).toEqual(['_id_']);
    await expect(db.collection('missing').listIndexes().toArray()).rejects.toMatchObject({
      code: 26,
      codeName: 'NamespaceNotFound',
    });
  });

  it('refuses a unique index over existing duplicates', async () => {
    const coll = freshDb().collection('c');
    await coll.insertMany([{ e: 'x' }, { e: 'x' }]);
    await expect(coll.createIndex({ e: 1 }, { unique: true }, undefined)).rejects.toMatchObject({ code: 11000 });
    expect(await indexNames(coll)).toEqual(['_id_']);
  });
});

describe('unique indexes', () => {
  it('enforces uniqueness on insert and update with mongod error fields', async () => {
    const db = freshDb();
    const coll = db.collection('orders');
    await coll.createIndex({ orderNo: 1 }, { unique: true }, undefined);
    await coll.insertOne({ orderNo: 'A-1' });
    const err = await coll.insertOne({ orderNo: 'A-1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 11000,
      keyPattern: { orderNo: 1 },
      keyValue: { orderNo: 'A-1' },
      message: `E11000 duplicate key error collection: ${db.databaseName}.orders index: orderNo_1 dup key: { orderNo: "A-1" }`,
    });
    await coll.insertOne({ orderNo: 'A-2' });
    await expect(coll.updateOne({ orderNo: 'A-2' }, { $set: { orderNo: 'A-1' } })).rejects.toMatchObject({
      code: 11000,
    });
    // The failed update changed nothing and the index still allows freeing and reusing a key.
    await coll.updateOne({ orderNo: 'A-1' }, { $set: { orderNo: 'A-3' } });
    await coll.updateOne({ orderNo: 'A-2' }, { $set: { orderNo: 'A-1' } });
    expect(
      (
        await coll
          .find({}, { projection: { _id: 0 } })
          .sort({ orderNo: 1 })
          .toArray()
      ).map((d) => d.orderNo as string),
    ).toEqual(['A-1', 'A-3']);
  });

  it('compares numbers by value, treats missing as null unless sparse, and indexes array elements', async () => {
    const db = freshDb();
    const nums = db.collection('nums');
    await nums.createIndex({ n: 1 }, { unique: true }, undefined);
    await nums.insertOne({ n: 1 });
    await expect(nums.insertOne({ n: 1.0 })).rejects.toMatchObject({ code: 11000 });
    await nums.insertOne({ other: 1 });
    await expect(nums.insertOne({ other: 2 })).rejects.toMatchObject({ code: 11000, keyValue: { n: null } });

    const sparse = db.collection('sparse');
    await sparse.createIndex({ s: 1 }, { unique: true, sparse: true }, undefined);
    await sparse.insertMany([{ a: 1 }, { a: 2 }, { s: 'x' }]);
    await expect(sparse.insertOne({ s: 'x' })).rejects.toMatchObject({ code: 11000 });

    const tags = db.collection('tags');
    await tags.createIndex({ t: 1 }, { unique: true }, undefined);
    await tags.insertOne({ t: ['a', 'b'] });
    await expect(tags.insertOne({ t: ['c', 'b'] })).rejects.toMatchObject({ code: 11000, keyValue: { t: 'b' } });
    await tags.insertOne({ t: ['c', 'c'] });
  });

  it('enforces compound unique keys on the combination', async () => {
    const coll = freshDb().collection('c');
    await coll.createIndex({ a: 1, b: 1 }, { unique: true }, undefined);
    await coll.insertMany([
      { a: 1, b: 1 },
      { a: 1, b: 2 },
      { a: 2, b: 1 },
    ]);
    await expect(coll.insertOne({ a: 1, b: 2 })).rejects.toMatchObject({
      code: 11000,
      keyPattern: { a: 1, b: 1 },
      keyValue: { a: 1, b: 2 },
    });
  });
});

describe('index use', () => {
  it('answers equality and range queries through the index without scanning the collection', async () => {
    const db = freshDb();
    const coll = db.collection('c');
    await coll.insertMany(
      Array.from({ length: 2000 }, (_, i) => ({ i, bucket: i % 100, s: `k${String(i).padStart(5, '0')}` })),
    );
    await coll.createIndex({ i: 1 });
    await coll.createIndex({ s: 1 });

    const eq = (await coll.find({ i: 1234 }).explain('executionStats')) as unknown as ExplainReply;
    expect(eq.queryPlanner.winningPlan.inputStage).toMatchObject({ stage: 'IXSCAN', indexName: 'i_1' });
    expect(eq.executionStats.nReturned).toBe(1);
    expect(eq.executionStats.totalDocsExamined).toBe(1);

    const range = (await coll
      .find({ i: { $gte: 100, $lt: 110 } })
      .explain('executionStats')) as unknown as ExplainReply;
    expect(range.executionStats.nReturned).toBe(10);
    expect(range.executionStats.totalDocsExamined).toBe(10);

    const str = (await coll
      .find({ s: { $in: ['k00005', 'k01999', 'nope'] } })
      .explain('executionStats')) as unknown as ExplainReply;
    expect(str.executionStats.nReturned).toBe(2);
    expect(str.executionStats.totalDocsExamined).toBe(2);

    const unindexed = (await coll.find({ bucket: 7 }).explain('executionStats')) as unknown as ExplainReply;
    expect(unindexed.queryPlanner.winningPlan.stage).toBe('COLLSCAN');
    expect(unindexed.executionStats.totalDocsExamined).toBe(2000);
    expect(unindexed.executionStats.nReturned).toBe(20);

    // The index answers the same as a scan would.
    expect(await coll.countDocuments({ i: { $gte: 100, $lt: 110 } })).toBe(10);
    expect(
      (
        await coll
          .find({ i: { $gt: 1995 } })
          .sort({ i: 1 })
          .toArray()
      ).map((d) => d.i as number),
    ).toEqual([1996, 1997, 1998, 1999]);
  });

  it('keeps indexes correct through updates and deletes', async () => {
    const coll = freshDb().collection<TestDoc>('c');
    await coll.createIndex({ k: 1 });
    await coll.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, k: i })));
    await coll.updateMany({ k: { $lt: 10 } }, { $inc: { k: 100 } });
    await coll.deleteMany({ k: { $gte: 40, $lt: 50 } });
    expect(await coll.countDocuments({ k: { $lt: 10 } })).toBe(0);
    expect(await coll.countDocuments({ k: { $gte: 100 } })).toBe(10);
    expect(await coll.countDocuments({ k: { $gte: 40, $lt: 50 } })).toBe(0);
    expect(await coll.countDocuments()).toBe(40);
  });

  it('does not use a sparse index to answer a null query (which must also match missing fields)', async () => {
    const coll = freshDb().collection<TestDoc>('c');
    await coll.createIndex({ s: 1 }, { sparse: true }, undefined);
    await coll.insertMany([{ _id: 1, s: 'a' }, { _id: 2 }, { _id: 3, s: null }]);
    expect((await coll.find({ s: null }).sort({ _id: 1 }).toArray()).map((d) => d._id as unknown)).toEqual([2, 3]);
    expect((await coll.find({ s: 'a' }).toArray()).map((d) => d._id as unknown)).toEqual([1]);
  });

  it('answers a point read by _id from the _id index alone, with numbers equal across types', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc<number | Int32 | Double | Long | string | ObjectId | { a: number }>>('c');
    const oid = new ObjectId();
    await coll.insertMany([
      { _id: 7, v: 'int' },
      { _id: 'k', v: 'string' },
      { _id: oid, v: 'oid' },
      { _id: 2.5, v: 'double' },
      { _id: { a: 1 }, v: 'doc' },
    ]);
    await coll.insertMany(Array.from({ length: 500 }, (_, i) => ({ _id: 1000 + i, v: i })));
    for (const id of [7, new Int32(7), new Double(7), Long.fromNumber(7)]) {
      expect((await coll.findOne({ _id: id }))?.v).toBe('int');
    }
    expect((await coll.findOne({ _id: 'k' }))?.v).toBe('string');
    expect((await coll.findOne({ _id: oid }))?.v).toBe('oid');
    expect((await coll.findOne({ _id: 2.5 }))?.v).toBe('double');
    expect((await coll.findOne({ _id: { a: 1 } }))?.v).toBe('doc');
    expect(await coll.findOne({ _id: 8 })).toBeNull();
    expect(await coll.findOne({ _id: '7' })).toBeNull();
    // A projection and the other clauses still apply to the one candidate.
    expect(await coll.findOne({ _id: 7 }, { projection: { _id: 0 } })).toEqual({ v: 'int' });
    expect(await coll.find({ _id: 7 }).skip(1).toArray()).toEqual([]);

    const hit = await runCommand<ExplainReply>(db, {
      explain: { find: 'c', filter: { _id: 1200 } },
      verbosity: 'executionStats',
    });
    expect(hit.queryPlanner.winningPlan.inputStage).toMatchObject({ stage: 'IXSCAN', indexName: '_id_' });
    expect(hit.executionStats).toMatchObject({ nReturned: 1, totalDocsExamined: 1, totalKeysExamined: 1 });
    const miss = await runCommand<ExplainReply>(db, {
      explain: { find: 'c', filter: { _id: 99 } },
      verbosity: 'executionStats',
    });
    expect(miss.executionStats).toMatchObject({ nReturned: 0, totalDocsExamined: 0 });
  });

  it('uses the _id index for range queries on _id', async () => {
    const db = freshDb();
    await db.collection<TestDoc>('c').insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: i })));
    const r = await runCommand<ExplainReply>(db, {
      explain: { find: 'c', filter: { _id: { $gte: 10, $lte: 12 } } },
      verbosity: 'executionStats',
    });
    expect(r.executionStats.totalDocsExamined).toBe(3);
    const page = await runCommand<CursorReply>(db, { find: 'c', filter: { _id: { $gte: 290 } }, sort: { _id: 1 } });
    expect(page.cursor.firstBatch?.map((d) => d._id)).toEqual([290, 291, 292, 293, 294, 295, 296, 297, 298, 299]);
  });
});

describe('IndexData unique ownership', () => {
  it('tracks which document owns a key through add, remove and re-add', () => {
    const index = new IndexData({ v: 2, key: { k: 1 }, name: 'k_1', unique: true });
    index.add({ _id: 1, k: 'a' }, 'A');
    index.add({ _id: 2, k: ['b', 'c'] }, 'B');
    expect(index.findConflict({ _id: 3, k: 'a' }, 'C')).toEqual(['a']);
    expect(index.findConflict({ _id: 3, k: ['x', 'c'] }, 'C')).toEqual(['c']);
    // A document never conflicts with itself, nor with the id being replaced.
    expect(index.findConflict({ _id: 1, k: 'a' }, 'A')).toBeNull();
    expect(index.findConflict({ _id: 3, k: 'a' }, 'C', 'A')).toBeNull();
    index.remove({ _id: 1, k: 'a' }, 'A');
    expect(index.findConflict({ _id: 3, k: 'a' }, 'C')).toBeNull();
    index.add({ _id: 3, k: 'a' }, 'C');
    expect(index.findConflict({ _id: 1, k: 'a' }, 'A')).toEqual(['a']);
    expect(
      index.build([
        ['A', { _id: 1, k: 'z' }],
        ['C', { _id: 3, k: 'z' }],
      ]),
    ).toEqual({ duplicate: ['z'], id: 'C' });
    expect(
      index.build([
        ['A', { _id: 1, k: ['z', 'z'] }],
        ['C', { _id: 3, k: 'y' }],
      ]),
    ).toBeNull();
    expect(index.findConflict({ _id: 4, k: 'z' }, 'D')).toEqual(['z']);
  });
});

describe('sorts and counts answered by an index', () => {
  interface Row {
    _id: number;
    at: Date | string | null;
    status?: string | number | null;
  }

  /** The same rows in two collections, one with the indexes a list and its counts use, one without any. */
  async function twins(): Promise<{
    indexed: Collection<Row>;
    plain: Collection<Row>;
  }> {
    const db = freshDb();
    const rows: Row[] = [];
    for (let id = 1; id <= 300; id++) {
      const at =
        id % 50 === 0 ? (id % 100 === 0 ? null : 'not a date') : new Date(Date.UTC(2026, 0, 1, 0, 0, id % 120));
      const row: Row = { _id: id, at };
      if (id % 7 !== 0) row.status = id % 11 === 0 ? 3 : ['pending', 'shipped', 'delivered'][id % 3]!;
      rows.push(row);
    }
    const indexed = db.collection<Row>('indexed');
    const plain = db.collection<Row>('plain');
    await indexed.createIndex({ at: -1, _id: -1 }, { name: 'at_desc_id_desc' }, {});
    await indexed.createIndex({ status: 1 }, { name: 'status' }, {});
    await indexed.insertMany(rows);
    await plain.insertMany(rows);
    return { indexed, plain };
  }

  it('pages through a sort the index holds exactly as a full sort would, with filters, bounds and skip', async () => {
    const { indexed, plain } = await twins();
    const cutoff = new Date(Date.UTC(2026, 0, 1, 0, 1, 0));
    const queries: Array<{ filter: object; sort: Record<string, 1 | -1>; skip: number; limit: number }> = [
      { filter: {}, sort: { at: -1, _id: -1 }, skip: 0, limit: 25 },
      { filter: {}, sort: { at: 1, _id: 1 }, skip: 10, limit: 40 },
      { filter: { status: { $in: ['pending', 'shipped'] } }, sort: { at: -1, _id: -1 }, skip: 0, limit: 30 },
      {
        filter: {
          $and: [{ $or: [{ at: { $lt: cutoff } }, { at: cutoff, _id: { $lt: 200 } }] }, { at: { $lte: cutoff } }],
        },
        sort: { at: -1, _id: -1 },
        skip: 0,
        limit: 50,
      },
      { filter: { at: { $gt: cutoff } }, sort: { at: -1, _id: -1 }, skip: 0, limit: 500 },
    ];
    for (const query of queries) {
      const read = (coll: typeof indexed) =>
        coll.find(query.filter).sort(query.sort).skip(query.skip).limit(query.limit).toArray();
      const [fromIndex, fromSort] = await Promise.all([read(indexed), read(plain)]);
      expect(fromIndex.length, JSON.stringify(query)).toBeGreaterThan(0);
      expect(fromIndex, JSON.stringify(query)).toEqual(fromSort);
    }
  });

  it('counts an equality on an indexed field exactly as a scan does, missing fields and other types included', async () => {
    const { indexed, plain } = await twins();
    for (const filter of [
      { status: 'pending' },
      { status: 'shipped' },
      { status: { $eq: 'delivered' } },
      { status: 3 },
      { status: 'lost' },
      { status: null },
      { status: { $in: ['pending', 'shipped'] } },
    ]) {
      const [fromIndex, fromScan] = await Promise.all([indexed.countDocuments(filter), plain.countDocuments(filter)]);
      expect(fromIndex, JSON.stringify(filter)).toBe(fromScan);
      const reply = await runCommand<{ n: number }>(indexed.db, { count: 'indexed', query: filter });
      expect(reply.n, JSON.stringify(filter)).toBe(fromScan);
    }
    expect(await indexed.countDocuments({ status: 'pending' })).toBeGreaterThan(0);
  });

  it('reads the same through the index as by a scan after updates and deletes reshuffle thousands of keys', async () => {
    const db = freshDb();
    const indexed = db.collection<Row>('indexed');
    const plain = db.collection<Row>('plain');
    await indexed.createIndex({ at: -1, _id: -1 }, { name: 'at_desc_id_desc' }, {});
    await indexed.createIndex({ status: 1 }, { name: 'status' }, {});
    const statuses = ['pending', 'shipped', 'delivered'];
    const rows: Row[] = [];
    // Enough entries for the index's tree to split into many leaves and an inner level.
    for (let id = 1; id <= 3000; id++) {
      rows.push({ _id: id, at: new Date(Date.UTC(2026, 0, 1, 0, 0, id % 700)), status: statuses[id % 3]! });
    }
    for (const coll of [indexed, plain]) {
      await coll.insertMany(rows);
      // Moves a third of the keys (leaves split where they land, merge where they left), then empties a range.
      await coll.updateMany({ _id: { $mod: [3, 0] } }, [{ $set: { at: { $add: ['$at', 86_400_000] } } }]);
      await coll.updateMany({ _id: { $mod: [5, 0] } }, { $set: { status: 'delivered' } });
      await coll.deleteMany({ _id: { $gte: 1000, $lt: 2200 } });
    }
    const cutoff = new Date(Date.UTC(2026, 0, 1, 0, 5, 0));
    const sorted: Array<{ filter: object; sort: Record<string, 1 | -1> }> = [
      { filter: {}, sort: { at: -1, _id: -1 } },
      { filter: {}, sort: { at: 1, _id: 1 } },
      { filter: { at: { $lte: cutoff } }, sort: { at: -1, _id: -1 } },
      { filter: { at: { $gt: cutoff } }, sort: { at: 1, _id: 1 } },
    ];
    for (const query of sorted) {
      for (const limit of [1, 77, 5000]) {
        const read = (coll: Collection<Row>) => coll.find(query.filter).sort(query.sort).limit(limit).toArray();
        const [fromIndex, fromSort] = await Promise.all([read(indexed), read(plain)]);
        expect(fromIndex.length, JSON.stringify(query)).toBeGreaterThan(0);
        expect(fromIndex, JSON.stringify({ query, limit })).toEqual(fromSort);
      }
    }
    for (const filter of [
      { status: 'delivered' },
      { status: { $in: ['pending', 'shipped'] } },
      { status: { $gt: 'pending' } },
      { at: { $gte: cutoff, $lt: new Date(Date.UTC(2026, 0, 2, 0, 1, 0)) } },
      { _id: { $gt: 900, $lte: 2300 } },
    ]) {
      const read = (coll: Collection<Row>) => coll.find(filter).sort({ _id: 1 }).toArray();
      const [fromIndex, fromScan] = await Promise.all([read(indexed), read(plain)]);
      expect(fromIndex.length, JSON.stringify(filter)).toBeGreaterThan(0);
      expect(fromIndex, JSON.stringify(filter)).toEqual(fromScan);
      expect(await indexed.countDocuments(filter), JSON.stringify(filter)).toBe(fromScan.length);
    }
  });
});
