import mongoose, { Schema } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedServer, type EmbeddedServer } from './index.js';
import { uniqueDbName } from './test-support/harness.js';

interface Account {
  _id: string;
  balance: number;
}

let server: EmbeddedServer;
let connection: mongoose.Connection;

beforeAll(async () => {
  server = await startEmbeddedServer({ port: 0 });
  connection = await mongoose
    .createConnection(server.uri, { dbName: uniqueDbName('mongoose'), serverSelectionTimeoutMS: 5000 })
    .asPromise();
});
afterAll(async () => {
  await connection.close();
  await server.close();
});

describe("Mongoose's connection.transaction()", () => {
  it('commits every write of the callback together', async () => {
    const Account = connection.model<Account>('Account', new Schema<Account>({ _id: String, balance: Number }));
    await Account.create([
      { _id: 'alice', balance: 100 },
      { _id: 'bob', balance: 0 },
    ]);
    await connection.transaction(async (session) => {
      await Account.updateOne({ _id: 'alice' }, { $inc: { balance: -40 } }, { session });
      await Account.updateOne({ _id: 'bob' }, { $inc: { balance: 40 } }, { session });
      // Outside the transaction nothing has moved yet.
      const outside = await Account.findById('alice').lean();
      expect(outside?.balance).toBe(100);
    });
    const balances = await Account.find().sort({ _id: 1 }).lean();
    expect(balances.map((a) => [a._id, a.balance])).toEqual([
      ['alice', 60],
      ['bob', 40],
    ]);
  });

  it('rolls back every write when the callback throws', async () => {
    const Item = connection.model('Item', new Schema({ name: String }));
    await expect(
      connection.transaction(async (session) => {
        await Item.create([{ name: 'kept only if committed' }], { session });
        throw new Error('payment declined');
      }),
    ).rejects.toThrow('payment declined');
    expect(await Item.countDocuments()).toBe(0);
  });
});
