import mongoose, { Schema, Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedServer, type EmbeddedServer } from './index.js';
import { uniqueDbName } from './test-support/harness.js';

interface LineItem {
  sku: string;
  qty: number;
  backordered?: boolean;
}
interface Order {
  customer: Types.ObjectId;
  status: string;
  items: LineItem[];
}
interface Customer {
  name: string;
  bio: string;
}

let server: EmbeddedServer;
let connection: mongoose.Connection;
let Customer: mongoose.Model<Customer>;
let Order: mongoose.Model<Order>;

beforeAll(async () => {
  server = await startEmbeddedServer({ port: 0 });
  connection = await mongoose
    .createConnection(server.uri, { dbName: uniqueDbName('mongoose_q'), serverSelectionTimeoutMS: 5000 })
    .asPromise();
  const customerSchema = new Schema<Customer>({ name: String, bio: String });
  customerSchema.index({ name: 'text', bio: 'text' });
  Customer = connection.model<Customer>('Customer', customerSchema);
  Order = connection.model<Order>(
    'Order',
    new Schema<Order>({
      customer: Schema.Types.ObjectId,
      status: String,
      items: [new Schema<LineItem>({ sku: String, qty: Number, backordered: Boolean }, { _id: false })],
    }),
  );
  await Customer.init();
  await Order.init();
});
afterAll(async () => {
  await connection.close();
  await server.close();
});

async function seed() {
  await Order.deleteMany({});
  await Customer.deleteMany({});
  const [ada, grace] = await Customer.create([
    { name: 'Ada', bio: 'Writes programs for the analytical engine' },
    { name: 'Grace', bio: 'Compilers and debugging' },
  ]);
  await Order.create([
    {
      customer: ada!._id,
      status: 'open',
      items: [
        { sku: 'a', qty: 1 },
        { sku: 'b', qty: 2 },
      ],
    },
    { customer: ada!._id, status: 'Paid', items: [{ sku: 'c', qty: 5 }] },
    { customer: grace!._id, status: 'OPEN', items: [{ sku: 'a', qty: 9 }] },
  ]);
  return { ada: ada!, grace: grace! };
}

describe('Mongoose ODM patterns on the engine', () => {
  it('positional and arrayFilters updates', async () => {
    const { ada } = await seed();
    await Order.updateOne({ customer: ada._id, 'items.sku': 'b' }, { $inc: { 'items.$.qty': 3 } });
    await Order.updateMany(
      {},
      { $set: { 'items.$[big].backordered': true } },
      { arrayFilters: [{ 'big.qty': { $gte: 5 } }] },
    );
    const orders = await Order.find().sort({ _id: 1 }).lean();
    expect(orders.map((o) => o.items.map((i) => [i.sku, i.qty, i.backordered ?? false]))).toEqual([
      [
        ['a', 1, false],
        ['b', 5, true],
      ],
      [['c', 5, true]],
      [['a', 9, true]],
    ]);
  });

  it('$lookup and $unwind in Model.aggregate', async () => {
    await seed();
    const rows = await Order.aggregate<{ name: string; sku: string }>([
      { $lookup: { from: 'customers', localField: 'customer', foreignField: '_id', as: 'customer' } },
      { $unwind: '$customer' },
      { $unwind: '$items' },
      { $project: { _id: 0, name: '$customer.name', sku: '$items.sku' } },
      { $sort: { name: 1, sku: 1 } },
    ]);
    expect(rows).toEqual([
      { name: 'Ada', sku: 'a' },
      { name: 'Ada', sku: 'b' },
      { name: 'Ada', sku: 'c' },
      { name: 'Grace', sku: 'a' },
    ]);
  });

  it('$facet page plus total', async () => {
    await seed();
    const [result] = await Order.aggregate<{ page: { status: string }[]; total: { n: number }[] }>([
      { $sort: { _id: 1 } },
      {
        $facet: { page: [{ $skip: 1 }, { $limit: 1 }, { $project: { _id: 0, status: 1 } }], total: [{ $count: 'n' }] },
      },
    ]);
    expect(result).toEqual({ page: [{ status: 'Paid' }], total: [{ n: 3 }] });
  });

  it('text search with a schema text index, ranked by score', async () => {
    await seed();
    const found = await Customer.find({ $text: { $search: 'compiler debugging' } }, { score: { $meta: 'textScore' } })
      .sort({ score: { $meta: 'textScore' } })
      .lean();
    expect(found.map((c) => c.name)).toEqual(['Grace']);
    expect(await Customer.countDocuments({ $text: { $search: 'engine' } })).toBe(1);
  });

  it('collation queries', async () => {
    await seed();
    const open = await Order.find({ status: 'open' }).collation({ locale: 'en', strength: 2 }).lean();
    expect(open.map((o) => o.status).sort()).toEqual(['OPEN', 'open']);
    expect(await Order.countDocuments({ status: 'open' })).toBe(1);
  });
});
