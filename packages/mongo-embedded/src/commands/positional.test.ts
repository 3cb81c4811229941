import type { Db } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { errorOf, useEngine } from '../test-support/harness.js';

const engine = useEngine('positional');
const { freshDb } = engine;

interface Order {
  _id: number;
  items: { sku: string; qty: number; flag?: boolean }[];
}

async function seeded(db: Db) {
  const coll = db.collection<Order>('orders');
  await coll.insertOne({
    _id: 1,
    items: [
      { sku: 'a', qty: 1 },
      { sku: 'b', qty: 5 },
      { sku: 'c', qty: 9 },
    ],
  });
  return coll;
}

describe('positional updates through the driver', () => {
  it("'items.$.qty' updates the element the filter matched; the change event names its index", async () => {
    const coll = await seeded(freshDb());
    const stream = coll.watch();
    await stream.tryNext();
    const r = await coll.updateOne({ _id: 1, 'items.sku': 'b' }, { $inc: { 'items.$.qty': 10 } });
    expect([r.matchedCount, r.modifiedCount]).toEqual([1, 1]);
    expect((await coll.findOne({ _id: 1 }))?.items.map((i) => i.qty)).toEqual([1, 15, 9]);
    const event = await stream.next();
    expect(event.operationType === 'update' && event.updateDescription.updatedFields).toEqual({ 'items.1.qty': 15 });
    await stream.close();
  });

  it("'items.$[].qty' and 'items.$[c].qty' with arrayFilters, in updateMany and findOneAndUpdate", async () => {
    const coll = await seeded(freshDb());
    await coll.updateMany({}, { $mul: { 'items.$[].qty': 2 } });
    expect((await coll.findOne({ _id: 1 }))?.items.map((i) => i.qty)).toEqual([2, 10, 18]);
    const after = await coll.findOneAndUpdate(
      { _id: 1 },
      { $set: { 'items.$[big].flag': true } },
      { arrayFilters: [{ 'big.qty': { $gte: 10 } }], returnDocument: 'after' },
    );
    expect(after?.items.map((i) => i.flag ?? false)).toEqual([false, true, true]);
  });

  it("'items.$' under a collation picks the element the collated query matched", async () => {
    const coll = await seeded(freshDb());
    await coll.updateOne(
      { 'items.sku': 'C' },
      { $set: { 'items.$.qty': 0 } },
      { collation: { locale: 'en', strength: 2 } },
    );
    expect((await coll.findOne({ _id: 1 }))?.items.map((i) => i.qty)).toEqual([1, 5, 0]);
  });

  it('a statement that matches nothing still fails on a bad arrayFilters, with mongod codes', async () => {
    const db = freshDb();
    const coll = await seeded(db);
    const unused = await errorOf(
      coll.updateOne({ _id: 404 }, { $set: { 'items.$[c].qty': 0 } }, { arrayFilters: [{ c: 1 }, { d: 1 }] }),
    );
    expect(unused.code).toBe(9);
    expect(unused.message).toContain("The array filter for identifier 'd' was not used");
    const unknown = await errorOf(coll.updateOne({ _id: 1 }, { $set: { 'items.$[c].qty': 0 } }));
    expect(unknown).toMatchObject({
      code: 2,
      message: "No array filter found for identifier 'c' in path 'items.$[c].qty'",
    });
    const noMatch = await errorOf(coll.updateOne({ _id: 1 }, { $set: { 'items.$.qty': 0 } }));
    expect(noMatch).toMatchObject({
      code: 2,
      message: 'The positional operator did not find the match needed from the query.',
    });
    const notArray = await errorOf(
      db.command({
        update: 'orders',
        updates: [{ q: { _id: 1 }, u: { $set: { 'items.$[c].qty': 0 } }, arrayFilters: 'bad' }],
      }),
    );
    expect(notArray).toMatchObject({ code: 14 });
    expect((await coll.findOne({ _id: 1 }))?.items.map((i) => i.qty)).toEqual([1, 5, 9]);
  });

  it("projects 'items.$' as the first element the query matched, in find and findOneAndUpdate", async () => {
    const coll = await seeded(freshDb());
    const doc = await coll.findOne({ 'items.qty': { $gt: 2 } }, { projection: { 'items.$': 1 } });
    expect(doc).toEqual({ _id: 1, items: [{ sku: 'b', qty: 5 }] });
    const before = await coll.findOneAndUpdate(
      { 'items.sku': 'c' },
      { $set: { 'items.$.qty': 0 } },
      { projection: { 'items.$': 1, _id: 0 } },
    );
    expect(before).toEqual({ items: [{ sku: 'c', qty: 9 }] });
    const noMatch = await errorOf(coll.findOne({ _id: 1 }, { projection: { 'items.$': 1 } }));
    expect(noMatch).toMatchObject({ code: 51246 });
    const twice = await errorOf(coll.findOne({ 'items.sku': 'a' }, { projection: { 'items.$': 1, 'other.$': 1 } }));
    expect(twice).toMatchObject({ code: 31276 });
    const inAggregate = await errorOf(coll.aggregate([{ $project: { 'items.$': 1 } }]).toArray());
    expect(inAggregate).toMatchObject({ code: 31324 });
  });

  it('refuses sort on updateOne/replaceOne as the advertised 7.0 does (40415), changing nothing', async () => {
    const coll = await seeded(freshDb());
    for (const op of [
      () => coll.updateOne({}, { $set: { touched: true } }, { sort: { _id: -1 } }),
      () => coll.replaceOne({}, { items: [] }, { sort: { _id: -1 } }),
    ]) {
      const err = await errorOf(op());
      expect(err).toMatchObject({ code: 40415, message: "BSON field 'update.updates.sort' is an unknown field." });
    }
    expect((await coll.findOne({ _id: 1 }))?.items).toHaveLength(3);
  });
});
