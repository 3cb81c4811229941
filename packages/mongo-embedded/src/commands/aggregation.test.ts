import { MongoServerError, type Db } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { errorOf, useEngine } from '../test-support/harness.js';

const engine = useEngine('agg');
const { freshDb } = engine;

interface Customer {
  _id: number;
  name: string;
}
interface Order {
  _id: number;
  customerId: number;
  total: number;
  status: string;
}

async function shop(db: Db) {
  const customers = db.collection<Customer>('customers');
  const orders = db.collection<Order>('orders');
  await customers.insertMany([
    { _id: 1, name: 'Ada' },
    { _id: 2, name: 'Grace' },
  ]);
  await orders.insertMany([
    { _id: 10, customerId: 1, total: 30, status: 'open' },
    { _id: 11, customerId: 1, total: 70, status: 'paid' },
    { _id: 12, customerId: 2, total: 5, status: 'open' },
    { _id: 13, customerId: 3, total: 1, status: 'open' },
  ]);
  return { customers, orders };
}

describe('let variables', () => {
  it('are visible as $$name in find, update, delete, findAndModify and aggregate', async () => {
    const { orders } = await shop(freshDb());
    const big = await orders.find({ $expr: { $gte: ['$total', '$$min'] } }, { let: { min: 30 } }).toArray();
    expect(big.map((o) => o._id)).toEqual([10, 11]);

    await orders.updateMany({ $expr: { $eq: ['$status', '$$s'] } }, [{ $set: { flagged: '$$mark' } }], {
      let: { s: 'open', mark: 'yes' },
    });
    expect((await orders.find({ flagged: 'yes' }).toArray()).map((o) => o._id)).toEqual([10, 12, 13]);

    const taken = await orders.findOneAndUpdate(
      { $expr: { $eq: ['$_id', '$$id'] } },
      { $set: { status: 'shipped' } },
      { let: { id: 11 }, returnDocument: 'after' },
    );
    expect(taken?.status).toBe('shipped');

    const removed = await orders.deleteMany({ $expr: { $lt: ['$total', '$$cut'] } }, { let: { cut: 10 } });
    expect(removed.deletedCount).toBe(2);

    const agg = await orders
      .aggregate([{ $project: { doubled: { $multiply: ['$total', '$$factor'] } } }], { let: { factor: 2 } })
      .toArray();
    expect(agg.map((d) => d.doubled as number)).toEqual([60, 140]);
  });

  it('an undefined variable still fails with 17276, and a bad name with 16867', async () => {
    const { orders } = await shop(freshDb());
    const undefinedVar = await errorOf(orders.find({ $expr: { $eq: ['$total', '$$nope'] } }).toArray());
    expect([undefinedVar.code, undefinedVar.message]).toEqual([17276, 'Use of undefined variable: nope']);
    const badName = await errorOf(orders.find({}, { let: { Upper: 1 } }).toArray());
    expect(badName.code).toBe(16867);
  });
});

describe('aggregation stages and expressions', () => {
  it('$lookup (equality and pipeline with let) followed by $unwind', async () => {
    const { customers } = await shop(freshDb());
    const joined = await customers
      .aggregate([
        { $lookup: { from: 'orders', localField: '_id', foreignField: 'customerId', as: 'orders' } },
        { $unwind: '$orders' },
        { $project: { name: 1, orderId: '$orders._id' } },
      ])
      .toArray();
    expect(joined.map((d) => [d.name as string, d.orderId as number])).toEqual([
      ['Ada', 10],
      ['Ada', 11],
      ['Grace', 12],
    ]);
    const open = await customers
      .aggregate([
        {
          $lookup: {
            from: 'orders',
            let: { cid: '$_id' },
            pipeline: [
              { $match: { $expr: { $and: [{ $eq: ['$customerId', '$$cid'] }, { $eq: ['$status', 'open'] }] } } },
              { $project: { _id: 1 } },
            ],
            as: 'open',
          },
        },
      ])
      .toArray();
    expect(open.map((d) => d.open as unknown)).toEqual([[{ _id: 10 }], [{ _id: 12 }]]);
    const missing = await customers
      .aggregate([{ $lookup: { from: 'nothing', localField: '_id', foreignField: 'x', as: 'none' } }])
      .toArray();
    expect(missing.map((d) => d.none as unknown)).toEqual([[], []]);
  });

  it('$facet gives a page and the total in one round trip', async () => {
    const { orders } = await shop(freshDb());
    const [result] = await orders
      .aggregate<{ page: Order[]; total: { n: number }[] }>([
        { $match: { status: 'open' } },
        { $facet: { page: [{ $sort: { total: -1 } }, { $skip: 1 }, { $limit: 1 }], total: [{ $count: 'n' }] } },
      ])
      .toArray();
    expect(result?.page.map((o) => o._id)).toEqual([12]);
    expect(result?.total).toEqual([{ n: 3 }]);
    const nested = await errorOf(orders.aggregate([{ $facet: { x: [{ $out: 'y' }] } }]).toArray());
    expect(nested.code).toBe(40600);
  });

  it('$setField and $getField handle field names a path cannot', async () => {
    const db = freshDb();
    await db.collection<{ _id: number; 'price.usd': number }>('c').insertOne({ _id: 1, 'price.usd': 5 });
    const [doc] = await db
      .collection('c')
      .aggregate([
        {
          $replaceWith: {
            $setField: { field: 'price.usd', input: '$$ROOT', value: { $multiply: [{ $getField: 'price.usd' }, 2] } },
          },
        },
        { $replaceWith: { $setField: { field: '$cost', input: '$$ROOT', value: 1 } } },
      ])
      .toArray()
      .catch((e: unknown) => [e]);
    expect(doc).toBeInstanceOf(MongoServerError);
    const [ok] = await db
      .collection('c')
      .aggregate([
        {
          $replaceWith: {
            $setField: { field: 'price.usd', input: '$$ROOT', value: { $multiply: [{ $getField: 'price.usd' }, 2] } },
          },
        },
        { $replaceWith: { $unsetField: { field: '_id', input: '$$ROOT' } } },
      ])
      .toArray();
    expect(ok).toEqual({ 'price.usd': 10 });
  });

  it('db.aggregate() runs $documents pipelines and refuses others with 73', async () => {
    const db = freshDb();
    const docs = await db
      .aggregate([{ $documents: [{ x: 1 }, { x: 2 }, { x: 3 }] }, { $match: { x: { $gte: 2 } } }])
      .toArray();
    expect(docs).toEqual([{ x: 2 }, { x: 3 }]);
    const err = await errorOf(db.aggregate([{ $match: {} }]).toArray());
    expect([err.code, err.message]).toEqual([
      73,
      "{aggregate: 1} is not valid for '$match'; a collection is required.",
    ]);
  });

  it('$out replaces the target; $merge merges, replaces, keeps or fails as asked', async () => {
    const db = freshDb();
    const { orders } = await shop(db);
    await orders
      .aggregate([{ $match: { status: 'open' } }, { $project: { total: 1 } }, { $out: 'openOrders' }])
      .toArray();
    expect(await db.collection('openOrders').find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 10, total: 30 },
      { _id: 12, total: 5 },
      { _id: 13, total: 1 },
    ]);
    await orders
      .aggregate([
        { $group: { _id: '$customerId', spent: { $sum: '$total' } } },
        { $merge: { into: 'totals', whenMatched: 'merge', whenNotMatched: 'insert' } },
      ])
      .toArray();
    await db.collection<{ _id: number }>('totals').updateOne({ _id: 1 }, { $set: { note: 'vip' } });
    await orders
      .aggregate([
        { $match: { customerId: 1 } },
        { $group: { _id: '$customerId', spent: { $sum: 1 } } },
        { $merge: { into: 'totals', whenMatched: 'merge' } },
      ])
      .toArray();
    expect(await db.collection<{ _id: number }>('totals').findOne({ _id: 1 })).toEqual({
      _id: 1,
      spent: 2,
      note: 'vip',
    });
    const fail = await errorOf(
      orders.aggregate([{ $match: { _id: 10 } }, { $merge: { into: 'openOrders', whenMatched: 'fail' } }]).toArray(),
    );
    expect(fail.code).toBe(11000);
    const notLast = await errorOf(orders.aggregate([{ $out: 'x' }, { $match: {} }]).toArray());
    expect(notLast.code).toBe(40601);
  });

  it('stages mongod has but this engine does not run answer 115; unknown stages 40324', async () => {
    const { orders } = await shop(freshDb());
    expect((await errorOf(orders.aggregate([{ $sample: { size: 1 } }]).toArray())).code).toBe(115);
    expect((await errorOf(orders.aggregate([{ $nope: {} }]).toArray())).code).toBe(40324);
  });
});

describe('views', () => {
  it('reads apply the view pipeline; writes fail with 166; listCollections says view', async () => {
    const db = freshDb();
    await shop(db);
    await db.createCollection('openOrders', { viewOn: 'orders', pipeline: [{ $match: { status: 'open' } }] });
    const view = db.collection<Order>('openOrders');
    expect(
      (
        await view
          .find({ total: { $gt: 2 } })
          .sort({ total: -1 })
          .toArray()
      ).map((o) => o._id),
    ).toEqual([10, 12]);
    expect(await view.countDocuments()).toBe(3);
    expect(await view.distinct('customerId')).toEqual([1, 2, 3]);
    const viaAgg = await view.aggregate([{ $group: { _id: null, sum: { $sum: '$total' } } }]).toArray();
    expect(viaAgg).toEqual([{ _id: null, sum: 36 }]);
    const writes = [
      () => view.insertOne({ _id: 99, customerId: 1, total: 1, status: 'open' }),
      () => view.updateOne({}, { $set: { total: 0 } }),
      () => view.deleteMany({}),
      () => view.findOneAndDelete({}),
      () => view.createIndexes([{ key: { total: 1 } }]),
      () => view.indexes(),
      () => view.dropIndexes(),
    ];
    for (const write of writes) {
      const err = await errorOf(write());
      expect([err.code, err.codeName]).toEqual([166, 'CommandNotSupportedOnView']);
    }
    const infos = await db.listCollections({ name: 'openOrders' }).toArray();
    expect(infos[0]).toMatchObject({ type: 'view', options: { viewOn: 'orders' }, info: { readOnly: true } });
    const bad = await errorOf(db.createCollection('v2', { viewOn: 'orders', pipeline: [{ $out: 'x' }] }));
    expect(bad.code).toBe(157);
  });
});

describe('error paths and $merge modes', () => {
  it('$merge with a pipeline sees $$new; keepExisting, replace and discard do what they say; bad modes fail', async () => {
    const db = freshDb();
    const target = db.collection<{ _id: number; n?: number; seen?: number; extra?: boolean }>('target');
    await target.insertMany([
      { _id: 1, n: 1, extra: true },
      { _id: 2, n: 2, extra: true },
    ]);
    const src = db.collection<{ _id: number; n: number }>('src');
    await src.insertMany([
      { _id: 1, n: 10 },
      { _id: 3, n: 30 },
    ]);
    await src
      .aggregate([
        { $merge: { into: 'target', whenMatched: [{ $set: { seen: '$$new.n' } }], whenNotMatched: 'discard' } },
      ])
      .toArray();
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, n: 1, extra: true, seen: 10 },
      { _id: 2, n: 2, extra: true },
    ]);
    await src.aggregate([{ $merge: { into: 'target', whenMatched: 'keepExisting' } }]).toArray();
    expect(await target.findOne({ _id: 1 })).toEqual({ _id: 1, n: 1, extra: true, seen: 10 });
    expect(await target.findOne({ _id: 3 })).toEqual({ _id: 3, n: 30 });
    await src.aggregate([{ $merge: { into: 'target', whenMatched: 'replace' } }]).toArray();
    expect(await target.findOne({ _id: 1 })).toEqual({ _id: 1, n: 10 });

    const noMatch = await errorOf(
      src
        .aggregate([
          { $match: { _id: 3 } },
          { $set: { _id: 99 } },
          { $merge: { into: 'target', whenNotMatched: 'fail' } },
        ])
        .toArray(),
    );
    expect(noMatch.code).toBe(13113);
    const badMode = await errorOf(src.aggregate([{ $merge: { into: 'target', whenMatched: 'explode' } }]).toArray());
    expect(badMode.code).toBe(2);
    const noIndex = await errorOf(src.aggregate([{ $merge: { into: 'target', on: 'n' } }]).toArray());
    expect(noIndex.code).toBe(51183);
    await target.createIndexes([{ key: { n: 1 }, unique: true }]);
    const missingOn = await errorOf(
      src.aggregate([{ $project: { _id: 1 } }, { $merge: { into: 'target', on: 'n' } }]).toArray(),
    );
    expect(missingOn.code).toBe(51132);
  });

  it('views: bad definitions, views on views, $out into a view', async () => {
    const db = freshDb();
    await shop(db);
    const cases: [Record<string, unknown>, number][] = [
      [{ create: 'v', pipeline: [] }, 9],
      [{ create: 'v', viewOn: 1 }, 14],
      [{ create: 'v', viewOn: '' }, 2],
      [{ create: 'v', viewOn: 'orders', pipeline: 'x' }, 14],
      [{ create: 'v', viewOn: 'orders', capped: true }, 72],
      [{ create: 'v', viewOn: 'orders', pipeline: [{ $nope: 1 }] }, 40324],
    ];
    for (const [command, code] of cases) expect((await errorOf(db.command(command))).code).toBe(code);
    await db.createCollection('open', { viewOn: 'orders', pipeline: [{ $match: { status: 'open' } }] });
    await db.createCollection('bigOpen', { viewOn: 'open', pipeline: [{ $match: { total: { $gt: 2 } } }] });
    const bigOpen = await db.collection<Order>('bigOpen').find().sort({ _id: 1 }).toArray();
    expect(bigOpen.map((d) => d._id)).toEqual([10, 12]);
    const into = await errorOf(
      db
        .collection('orders')
        .aggregate([{ $out: 'open' }])
        .toArray(),
    );
    expect(into.code).toBe(166);
    const lookedUp = await db
      .collection('customers')
      .aggregate([
        { $lookup: { from: 'bigOpen', localField: '_id', foreignField: 'customerId', as: 'o' } },
        { $project: { n: { $size: '$o' } } },
      ])
      .toArray();
    expect(lookedUp.map((d) => d.n as number)).toEqual([1, 1]);
  });

  it('let, arrayFilters and $documents refuse wrong types', async () => {
    const db = freshDb();
    const { orders } = await shop(db);
    expect((await errorOf(db.command({ find: 'orders', filter: {}, let: 5 }))).code).toBe(14);
    expect(
      (await errorOf(db.command({ findAndModify: 'orders', query: {}, remove: true, arrayFilters: [{ i: 0 }] }))).code,
    ).toBe(9);
    expect((await errorOf(db.aggregate([{ $documents: 5 }]).toArray())).code).toBe(5858203);
    expect(await orders.countDocuments()).toBe(4);
  });
});
