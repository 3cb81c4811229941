import { Decimal128, Double, Int32, Long, MongoBulkWriteError, MongoServerError, ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { runCommand, uniqueDbName, useEngine, type CursorReply, type TestDoc } from '../test-support/harness.js';

const engine = useEngine('crud');
const { freshDb } = engine;

describe('insert', () => {
  it('generates an ObjectId _id and keeps explicit ones, including null', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc<ObjectId | string | null>>('c');
    const reply = await db.command({ insert: 'c', documents: [{ a: 1 }, { _id: null, a: 2 }, { _id: 'x', a: 3 }] });
    expect(reply).toMatchObject({ n: 3, ok: 1 });
    const docs = await coll.find().toArray();
    expect(docs).toHaveLength(3);
    expect(docs[0]?._id).toBeInstanceOf(ObjectId);
    expect(docs.map((d) => d._id).slice(1)).toEqual([null, 'x']);
    // The server puts _id first even when the client sent it last.
    await db.command({ insert: 'c', documents: [{ b: 1, _id: 'late' }] });
    const raw = await coll.findOne({ _id: 'late' });
    expect(Object.keys(raw!)).toEqual(['_id', 'b']);
  });

  it('ordered inserts stop at the first duplicate; unordered report every failing index', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: number }>('c');
    await coll.insertOne({ _id: 1 });
    const ordered = await runCommand<{ n: number; writeErrors: object[] }>(db, {
      insert: 'c',
      documents: [{ _id: 2 }, { _id: 1 }, { _id: 3 }],
      ordered: true,
    });
    expect(ordered.n).toBe(1);
    expect(ordered.writeErrors).toHaveLength(1);
    expect(ordered.writeErrors[0]).toMatchObject({
      index: 1,
      code: 11000,
      keyPattern: { _id: 1 },
      keyValue: { _id: 1 },
    });
    expect(await coll.countDocuments()).toBe(2);

    const err = await coll
      .insertMany([{ _id: 4 }, { _id: 1 }, { _id: 5 }, { _id: 2 }], { ordered: false })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    const bulk = err as MongoBulkWriteError;
    expect(bulk.insertedCount).toBe(2);
    expect(bulk.writeErrors).toHaveLength(2);
    expect([bulk.writeErrors].flat().map((e) => e.index)).toEqual([1, 3]);
    expect((await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2, 4, 5]);
  });

  it('insertOne surfaces a duplicate key as a MongoServerError with keyPattern and keyValue', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc<string>>('orders');
    await coll.insertOne({ _id: 'dup' });
    const err = await coll.insertOne({ _id: 'dup' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect(err).toMatchObject({
      code: 11000,
      keyPattern: { _id: 1 },
      keyValue: { _id: 'dup' },
      message: `E11000 duplicate key error collection: ${db.databaseName}.orders index: _id_ dup key: { _id: "dup" }`,
    });
  });

  it('sends large insertMany batches (OP_MSG document sequences) and keeps them all', async () => {
    const db = freshDb();
    const coll = db.collection('big');
    const docs = Array.from({ length: 5000 }, (_, i) => ({ i, pad: 'x'.repeat(100) }));
    const res = await coll.insertMany(docs);
    expect(res.insertedCount).toBe(5000);
    expect(await coll.countDocuments({ i: { $gte: 4990 } })).toBe(10);
  });
});

describe('find and getMore', () => {
  it('applies filter, sort, skip, limit and projection', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('c');
    await coll.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, n: i % 5, s: `s${i}` })));
    const docs = await coll
      .find({ n: { $gte: 3 } }, { projection: { s: 1 } })
      .sort({ n: -1, _id: 1 })
      .skip(1)
      .limit(4)
      .toArray();
    expect(docs).toEqual([
      { _id: 9, s: 's9' },
      { _id: 14, s: 's14' },
      { _id: 19, s: 's19' },
      { _id: 3, s: 's3' },
    ]);
    const excluded = await coll.findOne({ _id: 7 }, { projection: { s: 0 } });
    expect(excluded).toEqual({ _id: 7, n: 2 });
  });

  it('pages through a server cursor with batchSize, returning an int64 cursor id', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('c');
    await coll.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i })));
    const first = await runCommand<CursorReply>(db, { find: 'c', filter: {}, sort: { _id: 1 }, batchSize: 100 });
    expect(first.cursor.firstBatch).toHaveLength(100);
    expect(first.cursor.id).toBeInstanceOf(Long);
    expect(Number(first.cursor.id)).not.toBe(0);
    expect(first.cursor.ns).toBe(`${db.databaseName}.c`);
    const more = await runCommand<CursorReply>(db, { getMore: first.cursor.id, collection: 'c', batchSize: 100 });
    expect(more.cursor.nextBatch?.[0]?._id).toBe(100);
    const last = await runCommand<CursorReply>(db, { getMore: first.cursor.id, collection: 'c', batchSize: 100 });
    expect(last.cursor.nextBatch).toHaveLength(50);
    expect(Number(last.cursor.id)).toBe(0);
    await expect(db.command({ getMore: first.cursor.id, collection: 'c' })).rejects.toMatchObject({ code: 43 });
    // The driver iterates the same cursor transparently.
    const all = await coll.find({}, { batchSize: 7 }).toArray();
    expect(all).toHaveLength(250);
  });

  it('singleBatch closes the cursor; killCursors reports what it killed', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('c');
    await coll.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i })));
    const single = await runCommand<CursorReply>(db, { find: 'c', batchSize: 2, singleBatch: true });
    expect(single.cursor.firstBatch).toHaveLength(2);
    expect(Number(single.cursor.id)).toBe(0);
    const open = await runCommand<CursorReply>(db, { find: 'c', batchSize: 2 });
    const killed = await runCommand<{ cursorsKilled: unknown[]; cursorsNotFound: unknown[] }>(db, {
      killCursors: 'c',
      cursors: [open.cursor.id, Long.fromNumber(12345)],
    });
    expect(killed.cursorsKilled).toEqual([open.cursor.id]);
    expect(killed.cursorsNotFound.map(Number)).toEqual([12345]);
  });

  it('refuses getMore on another namespace', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('c');
    await coll.insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i })));
    const open = await runCommand<CursorReply>(db, { find: 'c', batchSize: 1 });
    await expect(db.command({ getMore: open.cursor.id, collection: 'other' })).rejects.toMatchObject({ code: 13 });
  });

  it('supports query operators through find', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('q');
    await coll.insertMany([
      { _id: 1, n: new Int32(1), tags: ['a', 'b'], sub: { x: 1 }, s: 'apple' },
      { _id: 2, n: new Double(2.5), tags: ['b'], sub: { x: 2 }, s: 'banana' },
      { _id: 3, n: Long.fromNumber(3), tags: [], s: 'cherry' },
      {
        _id: 4,
        n: 'four',
        items: [
          { k: 'a', q: 1 },
          { k: 'b', q: 5 },
        ],
      },
    ]);
    const ids = async (filter: object): Promise<unknown[]> =>
      (await coll.find(filter).sort({ _id: 1 }).toArray()).map((d) => d._id);
    expect(await ids({ n: { $gt: 1 } })).toEqual([2, 3]);
    expect(await ids({ n: { $in: [1, 3] } })).toEqual([1, 3]);
    expect(await ids({ n: { $type: 'string' } })).toEqual([4]);
    expect(await ids({ tags: 'b' })).toEqual([1, 2]);
    expect(await ids({ tags: { $all: ['a', 'b'] } })).toEqual([1]);
    expect(await ids({ tags: { $size: 0 } })).toEqual([3]);
    expect(await ids({ 'sub.x': { $exists: true, $ne: 1 } })).toEqual([2]);
    expect(await ids({ s: { $regex: '^b' } })).toEqual([2]);
    expect(await ids({ items: { $elemMatch: { k: 'b', q: { $gt: 3 } } } })).toEqual([4]);
    expect(await ids({ $or: [{ _id: 1 }, { s: 'cherry' }] })).toEqual([1, 3]);
    expect(await ids({ $nor: [{ _id: 1 }, { _id: 2 }] })).toEqual([3, 4]);
    expect(await ids({ n: { $not: { $gt: 1 } } })).toEqual([1, 4]);
  });

  it('rejects an invalid filter with a server error', async () => {
    const db = freshDb();
    const coll = db.collection('c');
    await coll.insertOne({ a: 1 });
    await expect(coll.find({ a: { $bogus: 1 } }).toArray()).rejects.toMatchObject({ code: 2 });
  });
});

describe('update', () => {
  it('reports n, nModified and upserted like mongod', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('c');
    await coll.insertMany([
      { _id: 1, s: 'new' },
      { _id: 2, s: 'new' },
      { _id: 3, s: 'paid' },
    ]);
    const many = await coll.updateMany({ s: 'new' }, { $set: { s: 'paid' } });
    expect(many).toMatchObject({ matchedCount: 2, modifiedCount: 2, upsertedCount: 0 });
    const noop = await coll.updateOne({ _id: 3 }, { $set: { s: 'paid' } });
    expect(noop).toMatchObject({ matchedCount: 1, modifiedCount: 0 });
    const raw = await db.command({
      update: 'c',
      updates: [
        { q: { _id: 9 }, u: { $set: { s: 'x' } }, upsert: true },
        { q: { _id: 1 }, u: { $set: { s: 'y' } } },
      ],
    });
    expect(raw).toMatchObject({ n: 2, nModified: 1, upserted: [{ index: 0, _id: 9 }] });
    const upsert = await coll.updateOne(
      { k: 'seed' },
      { $set: { v: 1 }, $setOnInsert: { created: true } },
      { upsert: true },
    );
    expect(upsert.upsertedId).toBeInstanceOf(ObjectId);
    expect(await coll.findOne({ k: 'seed' }, { projection: { _id: 0 } })).toEqual({ k: 'seed', v: 1, created: true });
  });

  it('replaces whole documents and keeps the _id', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('c');
    await coll.insertOne({ _id: 1, a: 1, b: 2 });
    const res = await coll.replaceOne({ _id: 1 }, { c: 3 });
    expect(res).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, c: 3 });
    await expect(coll.replaceOne({ _id: 1 }, { _id: 2, c: 4 })).rejects.toMatchObject({ code: 66 });
  });

  it('applies update operators', async () => {
    interface Target {
      _id: number;
      n: number;
      arr: number[];
      old?: string;
      renamed?: string;
      gone?: boolean;
      at?: Date;
      items: { k: string; q: number }[];
    }
    const db = freshDb();
    const coll = db.collection<Target>('c');
    await coll.insertOne({
      _id: 1,
      n: 1,
      arr: [1, 2, 3],
      old: 'x',
      gone: true,
      items: [
        { k: 'a', q: 1 },
        { k: 'b', q: 2 },
      ],
    });
    await coll.updateOne(
      { _id: 1 },
      {
        $inc: { n: 2 },
        $push: { arr: { $each: [4, 5] } },
        $rename: { old: 'renamed' },
        $unset: { gone: '' },
        $currentDate: { at: true },
        $set: { 'items.1.q': 9 },
      },
    );
    const doc = await coll.findOne({ _id: 1 });
    expect(doc).toMatchObject({
      n: 3,
      arr: [1, 2, 3, 4, 5],
      renamed: 'x',
      items: [
        { k: 'a', q: 1 },
        { k: 'b', q: 9 },
      ],
    });
    expect(doc).not.toHaveProperty('gone');
    expect(doc!.at).toBeInstanceOf(Date);
    await coll.updateOne({ _id: 1 }, { $pull: { arr: { $gte: 4 } }, $max: { n: 10 } });
    await coll.updateOne({ _id: 1 }, { $addToSet: { arr: { $each: [1, 6] } }, $mul: { n: 2 } });
    expect(await coll.findOne({ _id: 1 }, { projection: { arr: 1, n: 1 } })).toEqual({
      _id: 1,
      n: 20,
      arr: [1, 2, 3, 6],
    });
    const typeMismatch = await runCommand<{ n: number; writeErrors: object[] }>(db, {
      update: 'c',
      updates: [{ q: { _id: 1 }, u: { $inc: { renamed: 1 } } }],
    });
    expect(typeMismatch.writeErrors[0]).toMatchObject({ index: 0, code: 14 });
    await expect(coll.updateOne({ _id: 1 }, { $set: { n: 1 }, $inc: { n: 1 } })).rejects.toMatchObject({ code: 40 });
  });
});

describe('delete', () => {
  it('deletes one or all matches', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('c');
    await coll.insertMany(Array.from({ length: 6 }, (_, i) => ({ _id: i, even: i % 2 === 0 })));
    expect((await coll.deleteOne({ even: true })).deletedCount).toBe(1);
    expect((await coll.deleteMany({ even: true })).deletedCount).toBe(2);
    expect((await coll.deleteMany({ nothing: 1 })).deletedCount).toBe(0);
    expect(await coll.countDocuments()).toBe(3);
    expect((await engine.client.db(uniqueDbName()).collection('missing').deleteMany({})).deletedCount).toBe(0);
  });
});

describe('findAndModify', () => {
  it('returns the document before or after, with fields and sort', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('c');
    await coll.insertMany([
      { _id: 1, q: 5, s: 'a' },
      { _id: 2, q: 5, s: 'b' },
    ]);
    const before = await coll.findOneAndUpdate(
      { q: 5 },
      { $set: { s: 'z' } },
      { sort: { _id: -1 }, returnDocument: 'before' },
    );
    expect(before).toEqual({ _id: 2, q: 5, s: 'b' });
    const after = await coll.findOneAndUpdate(
      { _id: 1 },
      { $inc: { q: 1 } },
      { returnDocument: 'after', projection: { q: 1, _id: 0 } },
    );
    expect(after).toEqual({ q: 6 });
    const meta = await coll.findOneAndUpdate(
      { _id: 7 },
      { $set: { s: 'new' } },
      { upsert: true, returnDocument: 'after', includeResultMetadata: true },
    );
    expect(meta.value).toEqual({ _id: 7, s: 'new' });
    expect(meta.lastErrorObject).toEqual({ n: 1, updatedExisting: false, upserted: 7 });
    const replaced = await coll.findOneAndReplace({ _id: 7 }, { s: 'replaced' }, { returnDocument: 'after' });
    expect(replaced).toEqual({ _id: 7, s: 'replaced' });
    const removed = await coll.findOneAndDelete({ _id: 7 });
    expect(removed).toEqual({ _id: 7, s: 'replaced' });
    expect(await coll.findOneAndDelete({ _id: 7 })).toBeNull();
    const none = await coll.findOneAndUpdate({ _id: 99 }, { $set: { a: 1 } }, { includeResultMetadata: true });
    expect(none.lastErrorObject).toEqual({ n: 0, updatedExisting: false });
  });

  it('raises duplicate keys as top-level errors', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('c');
    await coll.createIndex({ s: 1 }, { unique: true }, undefined);
    await coll.insertMany([
      { _id: 1, s: 'a' },
      { _id: 2, s: 'b' },
    ]);
    await expect(coll.findOneAndUpdate({ _id: 2 }, { $set: { s: 'a' } })).rejects.toMatchObject({
      code: 11000,
      keyValue: { s: 'a' },
    });
  });
});

describe('count, distinct and aggregate', () => {
  it('counts, including on a missing collection', async () => {
    const db = freshDb();
    const coll = db.collection('c');
    expect(await coll.estimatedDocumentCount()).toBe(0);
    await coll.insertMany(Array.from({ length: 10 }, (_, i) => ({ i })));
    expect(await coll.estimatedDocumentCount()).toBe(10);
    expect(await coll.countDocuments({ i: { $lt: 5 } }, { skip: 1, limit: 3 })).toBe(3);
    expect((await db.command({ count: 'c', query: { i: { $gte: 8 } } })).n).toBe(2);
  });

  it('returns distinct values, flattening arrays', async () => {
    const db = freshDb();
    const coll = db.collection('c');
    await coll.insertMany([{ s: 'a', t: [1, 2] }, { s: 'b', t: [2, 3] }, { s: 'a' }]);
    expect((await coll.distinct('s')).sort()).toEqual(['a', 'b']);
    expect((await coll.distinct('t')).sort()).toEqual([1, 2, 3]);
    expect(await coll.distinct('s', { t: 3 })).toEqual(['b']);
  });

  it('runs pipelines with a cursor', async () => {
    const db = freshDb();
    const coll = db.collection('c');
    await coll.insertMany([
      { s: 'a', v: 1 },
      { s: 'b', v: 2 },
      { s: 'a', v: 3 },
    ]);
    const grouped = await coll
      .aggregate([
        { $match: { v: { $gte: 1 } } },
        { $group: { _id: '$s', total: { $sum: '$v' } } },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    expect(grouped).toEqual([
      { _id: 'a', total: 4 },
      { _id: 'b', total: 2 },
    ]);
    const counted = await coll.aggregate([{ $match: { s: 'a' } }, { $count: 'n' }]).toArray();
    expect(counted).toEqual([{ n: 2 }]);
    await expect(coll.aggregate([{ $bogus: {} }]).toArray()).rejects.toMatchObject({ code: 40324 });
  });
});

describe('BSON type round-trip', () => {
  it('keeps int32, int64, double and decimal types', async () => {
    const db = freshDb();
    const coll = db.collection<TestDoc>('types');
    const doc = {
      _id: 1,
      i: new Int32(1),
      l: Long.fromNumber(2),
      d: new Double(1),
      dec: Decimal128.fromString('1.10'),
      date: new Date(0),
      oid: new ObjectId('64b000000000000000000001'),
      nested: { arr: [new Int32(5), new Double(5)] },
    };
    await coll.insertOne(doc);
    await coll.updateOne({ _id: 1 }, { $inc: { i: new Int32(1), l: new Int32(1), d: new Int32(1) } });
    interface RawTypes {
      i: Int32;
      l: Long;
      d: Double;
      dec: Decimal128;
      date: Date;
      nested: { arr: unknown[] };
    }
    const raw = await coll.findOne<RawTypes>({ _id: 1 }, { promoteValues: false });
    expect(raw!.i).toBeInstanceOf(Int32);
    expect(raw!.i.valueOf()).toBe(2);
    expect(raw!.l).toBeInstanceOf(Long);
    expect(raw!.l.toNumber()).toBe(3);
    expect(raw!.d).toBeInstanceOf(Double);
    expect(raw!.d.valueOf()).toBe(2);
    expect(raw!.dec.toString()).toBe('1.10');
    expect(raw!.date).toEqual(new Date(0));
    expect(raw!.nested.arr[0]).toBeInstanceOf(Int32);
    expect(raw!.nested.arr[1]).toBeInstanceOf(Double);
    // Numbers compare by value across types.
    expect(await coll.countDocuments({ d: 2, i: new Double(2), l: new Int32(3) })).toBe(1);
  });
});
