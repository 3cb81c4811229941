import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Long, MongoClient, UUID, type ChangeStreamDocument, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbeddedServer } from '../index.js';
import { errorOf, indexNames, runCommand, uniqueDbName, useEngine, type CursorReply } from '../test-support/harness.js';
import { opMsg, RawClient } from '../test-support/raw-socket.js';

interface Account {
  _id: string;
  balance: number;
}

const engine = useEngine('txn');
const { freshDb } = engine;

describe('multi-document transactions', () => {
  it('withTransaction commits writes to two collections at once; other sessions see none of them before', async () => {
    const db = freshDb();
    const accounts = db.collection<Account>('accounts');
    const ledger = db.collection<{ _id: string; amount: number }>('ledger');
    await accounts.insertMany([
      { _id: 'a', balance: 100 },
      { _id: 'b', balance: 0 },
    ]);
    const outsideViews: number[] = [];
    const session = engine.client.startSession();
    try {
      await session.withTransaction(async () => {
        await accounts.updateOne({ _id: 'a' }, { $inc: { balance: -30 } }, { session });
        await accounts.updateOne({ _id: 'b' }, { $inc: { balance: 30 } }, { session });
        await ledger.insertOne({ _id: 't1', amount: 30 }, { session });
        // Inside: its own writes. Outside: the committed state only.
        expect(await accounts.findOne({ _id: 'a' }, { session })).toEqual({ _id: 'a', balance: 70 });
        outsideViews.push((await accounts.findOne({ _id: 'a' }))?.balance ?? -1);
        outsideViews.push(await ledger.countDocuments());
      });
    } finally {
      await session.endSession();
    }
    expect(outsideViews).toEqual([100, 0]);
    expect(await accounts.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'a', balance: 70 },
      { _id: 'b', balance: 30 },
    ]);
    expect(await ledger.find().toArray()).toEqual([{ _id: 't1', amount: 30 }]);
    expect(
      await db
        .listCollections()
        .map((c) => c.name)
        .toArray(),
    ).toContain('ledger');
  });

  it('reads the snapshot taken at its first operation, plus its own writes', async () => {
    const db = freshDb();
    const items = db.collection<{ _id: number; v: string }>('items');
    await items.insertMany([
      { _id: 1, v: 'one' },
      { _id: 2, v: 'two' },
    ]);
    const session = engine.client.startSession();
    try {
      session.startTransaction();
      expect(await items.countDocuments({}, { session })).toBe(2);
      // Committed after the snapshot: not visible inside the transaction.
      await items.insertOne({ _id: 3, v: 'three' });
      await items.updateOne({ _id: 1 }, { $set: { v: 'ONE' } });
      await items.deleteOne({ _id: 2 });
      await items.insertOne({ _id: 4, v: 'mine' }, { session });
      const inside = await items.find({}, { session }).sort({ _id: 1 }).toArray();
      expect(inside).toEqual([
        { _id: 1, v: 'one' },
        { _id: 2, v: 'two' },
        { _id: 4, v: 'mine' },
      ]);
      const grouped = await items
        .aggregate<{ _id: null; n: number }>([{ $group: { _id: null, n: { $sum: 1 } } }], { session })
        .toArray();
      expect(grouped).toEqual([{ _id: null, n: 3 }]);
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
    expect(await items.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, v: 'ONE' },
      { _id: 3, v: 'three' },
      { _id: 4, v: 'mine' },
    ]);
  });

  it('abortTransaction discards every write of the transaction', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: number; n: number }>('c');
    await coll.insertOne({ _id: 1, n: 1 });
    const session = engine.client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: 2, n: 2 }, { session });
      await coll.updateOne({ _id: 1 }, { $set: { n: 10 } }, { session });
      await coll.deleteOne({ _id: 1 }, { session });
      await session.abortTransaction();
    } finally {
      await session.endSession();
    }
    expect(await coll.find().toArray()).toEqual([{ _id: 1, n: 1 }]);
  });

  it('a second transaction writing the same document gets WriteConflict labelled TransientTransactionError', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: string; n: number }>('c');
    await coll.insertOne({ _id: 'x', n: 0 });
    const first = engine.client.startSession();
    const second = engine.client.startSession();
    try {
      first.startTransaction();
      second.startTransaction();
      await coll.updateOne({ _id: 'x' }, { $inc: { n: 1 } }, { session: first });
      const err = await errorOf(coll.updateOne({ _id: 'x' }, { $inc: { n: 100 } }, { session: second }));
      expect(err).toMatchObject({ code: 112, codeName: 'WriteConflict' });
      expect(err.hasErrorLabel('TransientTransactionError')).toBe(true);
      await second.abortTransaction();
      await first.commitTransaction();
    } finally {
      await first.endSession();
      await second.endSession();
    }
    expect(await coll.findOne({ _id: 'x' })).toEqual({ _id: 'x', n: 1 });
  });

  it('a document changed since the snapshot cannot be written by the transaction', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: string; n: number }>('c');
    await coll.insertMany([
      { _id: 'x', n: 0 },
      { _id: 'y', n: 0 },
    ]);
    const session = engine.client.startSession();
    try {
      session.startTransaction();
      await coll.findOne({ _id: 'y' }, { session });
      await coll.updateOne({ _id: 'x' }, { $set: { n: 5 } });
      const err = await errorOf(coll.updateOne({ _id: 'x' }, { $inc: { n: 1 } }, { session }));
      expect(err).toMatchObject({ code: 112 });
      expect(err.hasErrorLabel('TransientTransactionError')).toBe(true);
      // The conflict aborted the transaction.
      const commit = await errorOf(session.commitTransaction());
      expect(commit).toMatchObject({ code: 251, codeName: 'NoSuchTransaction' });
    } finally {
      await session.endSession();
    }
    expect(await coll.findOne({ _id: 'x' })).toEqual({ _id: 'x', n: 5 });
  });

  it("withTransaction's retry loop makes concurrent read-modify-write transactions serializable", async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: string; n: number }>('counter');
    await coll.insertOne({ _id: 'c', n: 0 });
    const attempts: number[] = [];
    const increment = async (worker: number): Promise<void> => {
      const session = engine.client.startSession();
      try {
        await session.withTransaction(async () => {
          attempts.push(worker);
          const doc = await coll.findOne({ _id: 'c' }, { session });
          // Give the other workers a chance to read the same value before this one writes.
          await new Promise((resolve) => setImmediate(resolve));
          await coll.updateOne({ _id: 'c' }, { $set: { n: (doc?.n ?? 0) + 1 } }, { session });
        });
      } finally {
        await session.endSession();
      }
    };
    await Promise.all([1, 2, 3, 4, 5].map((w) => increment(w)));
    expect(await coll.findOne({ _id: 'c' })).toEqual({ _id: 'c', n: 5 });
    expect(attempts.length).toBeGreaterThanOrEqual(5);
  });

  it('a write outside transactions to a document the transaction wrote waits for its commit', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: string; by: string; n?: number }>('c');
    await coll.insertMany([
      { _id: 'x', by: 'nobody' },
      { _id: 'y', by: 'nobody' },
    ]);
    const session = engine.client.startSession();
    try {
      session.startTransaction();
      await coll.updateOne({ _id: 'x' }, { $set: { by: 'transaction', n: 1 } }, { session });
      const outside = coll.updateOne({ _id: 'x' }, { $set: { by: 'plain write' } });
      // Another document is not held by the transaction.
      await coll.updateOne({ _id: 'y' }, { $set: { by: 'plain write' } });
      await session.commitTransaction();
      expect(await outside).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    } finally {
      await session.endSession();
    }
    // The waiting write applied on top of the committed transaction.
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'x', by: 'plain write', n: 1 },
      { _id: 'y', by: 'plain write' },
    ]);
  });

  it('a write outside transactions waiting for an aborted transaction applies to the committed document', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: string; by: string }>('c');
    await coll.insertOne({ _id: 'x', by: 'nobody' });
    const session = engine.client.startSession();
    try {
      session.startTransaction();
      await coll.deleteOne({ _id: 'x' }, { session });
      const outside = coll.findOneAndUpdate({ _id: 'x' }, { $set: { by: 'plain write' } }, { returnDocument: 'after' });
      await session.abortTransaction();
      expect(await outside).toEqual({ _id: 'x', by: 'plain write' });
    } finally {
      await session.endSession();
    }
  });

  it('creates a collection and its indexes inside the transaction; indexes on existing collections are refused', async () => {
    const db = freshDb();
    await db.collection('existing').insertOne({ _id: 1 } as Document);
    const session = engine.client.startSession();
    try {
      session.startTransaction();
      const fresh = await db.createCollection<{ _id: number; sku: string }>('fresh', { session });
      expect(await fresh.createIndex({ sku: 1 }, { unique: true }, { session })).toBe('sku_1');
      await fresh.insertOne({ _id: 1, sku: 'a' }, { session });
      const duplicate = await errorOf(fresh.insertOne({ _id: 2, sku: 'a' }, { session }));
      expect(duplicate).toMatchObject({ code: 11000 });
    } finally {
      await session.endSession();
    }
    // The duplicate aborted the transaction: nothing of it exists.
    expect(
      await db
        .listCollections({}, { nameOnly: true })
        .map((c) => c.name)
        .toArray(),
    ).toEqual(['existing']);

    const second = engine.client.startSession();
    try {
      second.startTransaction();
      const fresh = await db.createCollection<{ _id: number; sku: string }>('fresh', { session: second });
      await fresh.createIndex({ sku: 1 }, { unique: true }, { session: second });
      await fresh.insertOne({ _id: 1, sku: 'a' }, { session: second });
      expect(await db.listCollections({ name: 'fresh' }).toArray()).toEqual([]);
      await second.commitTransaction();
      expect(await fresh.find().toArray()).toEqual([{ _id: 1, sku: 'a' }]);
      expect(await indexNames(db.collection('fresh'))).toEqual(['_id_', 'sku_1']);

      second.startTransaction();
      const refused = await errorOf(db.collection('existing').createIndex({ a: 1 }, undefined, { session: second }));
      expect(refused).toMatchObject({ code: 263, codeName: 'OperationNotSupportedInTransaction' });
      await second.abortTransaction();
    } finally {
      await second.endSession();
    }
  });

  it('a duplicate key inside a transaction is reported and aborts it', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: number }>('c');
    await coll.insertOne({ _id: 1 });
    const session = engine.client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: 2 }, { session });
      const err = await errorOf(coll.insertOne({ _id: 1 }, { session }));
      expect(err).toMatchObject({ code: 11000 });
      const commit = await errorOf(session.commitTransaction());
      expect(commit).toMatchObject({ code: 251 });
    } finally {
      await session.endSession();
    }
    expect(await coll.find().toArray()).toEqual([{ _id: 1 }]);
  });
});

describe('transaction commands', () => {
  // Raw OP_MSG, as a driver sends it: the driver rewrites txnNumber and autocommit on transaction commands.
  let raw: RawClient;
  let requestId = 0;
  beforeAll(async () => {
    raw = await RawClient.connect(engine.server.port);
  });
  afterAll(() => {
    raw.close();
  });

  async function command(db: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    requestId += 1;
    raw.send(opMsg(requestId, { ...body, $db: db }));
    return (await raw.readReply()).doc;
  }

  function inTxn(db: string, lsid: { id: UUID }, txnNumber: number, body: Record<string, unknown>) {
    return command(db, { ...body, lsid, txnNumber: Long.fromNumber(txnNumber), autocommit: false });
  }

  const TRANSIENT = ['TransientTransactionError'];

  it('commitTransaction is idempotent: a retried commit answers ok and applies nothing twice', async () => {
    const db = uniqueDbName('txn');
    const lsid = { id: new UUID() };
    expect(await inTxn(db, lsid, 1, { insert: 'c', documents: [{ _id: 1 }], startTransaction: true })).toMatchObject({
      ok: 1,
      n: 1,
    });
    await inTxn(db, lsid, 1, { update: 'c', updates: [{ q: { _id: 1 }, u: { $inc: { n: 1 } } }] });
    expect(await inTxn('admin', lsid, 1, { commitTransaction: 1 })).toMatchObject({ ok: 1 });
    expect(await inTxn('admin', lsid, 1, { commitTransaction: 1 })).toMatchObject({ ok: 1 });
    expect(await engine.client.db(db).collection('c').find().toArray()).toEqual([{ _id: 1, n: 1 }]);
    // The transaction is over: neither more statements nor an abort apply to it.
    expect(await inTxn(db, lsid, 1, { insert: 'c', documents: [{ _id: 2 }] })).toMatchObject({
      ok: 0,
      code: 256,
      codeName: 'TransactionCommitted',
    });
    expect(await inTxn('admin', lsid, 1, { abortTransaction: 1 })).toMatchObject({ ok: 0, code: 256 });
  });

  it('answers NoSuchTransaction for a transaction that was never started or was aborted', async () => {
    const db = uniqueDbName('txn');
    const lsid = { id: new UUID() };
    expect(await inTxn('admin', lsid, 5, { commitTransaction: 1 })).toMatchObject({
      ok: 0,
      code: 251,
      codeName: 'NoSuchTransaction',
      errorLabels: TRANSIENT,
    });
    expect(await inTxn(db, lsid, 5, { find: 'c' })).toMatchObject({ ok: 0, code: 251, errorLabels: TRANSIENT });

    await inTxn(db, lsid, 6, { insert: 'c', documents: [{ _id: 1 }], startTransaction: true });
    expect(await inTxn('admin', lsid, 6, { abortTransaction: 1 })).toMatchObject({ ok: 1 });
    expect(await inTxn('admin', lsid, 6, { commitTransaction: 1 })).toMatchObject({
      ok: 0,
      code: 251,
      errorLabels: TRANSIENT,
    });
    // An older transaction number than the session's latest is refused.
    expect(await inTxn(db, lsid, 2, { find: 'c', startTransaction: true })).toMatchObject({
      ok: 0,
      code: 225,
      codeName: 'TransactionTooOld',
    });
    expect(await engine.client.db(db).collection('c').countDocuments()).toBe(0);
  });

  it('endSessions aborts the open transaction of an ended session; serverStatus counts transactions', async () => {
    const db = uniqueDbName('txn');
    const status = async (): Promise<Record<string, unknown>> => {
      const reply = await command('admin', { serverStatus: 1 });
      return reply.transactions as Record<string, unknown>;
    };
    const before = await status();
    const ended = { id: new UUID() };
    await inTxn(db, ended, 1, { insert: 'c', documents: [{ _id: 'lost' }], startTransaction: true });
    expect(Number((await status()).currentOpen)).toBe(Number(before.currentOpen) + 1);
    expect(await command('admin', { endSessions: [ended] })).toMatchObject({ ok: 1 });
    expect(await inTxn('admin', ended, 1, { commitTransaction: 1 })).toMatchObject({ ok: 0, code: 251 });

    const committed = { id: new UUID() };
    await inTxn(db, committed, 1, { insert: 'c', documents: [{ _id: 'kept' }], startTransaction: true });
    await inTxn('admin', committed, 1, { commitTransaction: 1 });
    const after = await status();
    const delta = (field: string): number => Number(after[field]) - Number(before[field]);
    expect([delta('totalStarted'), delta('totalCommitted'), delta('totalAborted'), delta('currentOpen')]).toEqual([
      2, 1, 1, 0,
    ]);
    expect(await engine.client.db(db).collection('c').find().toArray()).toEqual([{ _id: 'kept' }]);
  });

  it('refuses bad transaction fields and commands a transaction may not run, aborting the transaction', async () => {
    const db = uniqueDbName('txn');
    const lsid = { id: new UUID() };
    const txnNumber = Long.fromNumber(1);
    const find = { find: 'c', startTransaction: true };
    const invalid = (errmsg: string): Record<string, unknown> => ({
      ok: 0,
      code: 72,
      codeName: 'InvalidOptions',
      errmsg,
    });
    expect(await command(db, { ...find, lsid, txnNumber, autocommit: true })).toMatchObject(
      invalid('Specifying autocommit=true is not allowed.'),
    );
    expect(await command(db, { ...find, lsid, autocommit: false })).toMatchObject(
      invalid("'autocommit' field requires a transaction number to also be specified"),
    );
    expect(await command(db, { ...find, txnNumber, autocommit: false })).toMatchObject(
      invalid('Transaction number requires a session ID to also be specified'),
    );
    expect(await command(db, { ...find, lsid, txnNumber })).toMatchObject(
      invalid("'startTransaction' field requires 'autocommit' field to also be specified"),
    );
    expect(await command(db, { ...find, lsid, txnNumber, autocommit: 'no' })).toMatchObject({ ok: 0, code: 14 });
    expect(await inTxn(db, lsid, 1, { find: 'c', startTransaction: false })).toMatchObject({ ok: 0, code: 72 });

    await inTxn(db, lsid, 2, { insert: 'c', documents: [{ _id: 1 }], startTransaction: true });
    expect(await inTxn(db, lsid, 2, { count: 'c' })).toMatchObject({
      ok: 0,
      code: 263,
      codeName: 'OperationNotSupportedInTransaction',
    });
    expect(await inTxn(db, lsid, 2, { find: 'c' })).toMatchObject({ ok: 0, code: 251 });

    await inTxn(db, lsid, 3, { find: 'c', startTransaction: true });
    expect(await inTxn(db, lsid, 3, { aggregate: 'c', pipeline: [{ $out: 'copy' }], cursor: {} })).toMatchObject({
      ok: 0,
      code: 263,
    });
    expect(await command('admin', { commitTransaction: 1 })).toMatchObject({
      ok: 0,
      code: 125,
      errmsg: 'commitTransaction must be run within a transaction',
    });
    expect(await engine.client.db(db).collection('c').countDocuments()).toBe(0);
  });
});

describe('change events of transactions', () => {
  it('arrive together at commit, in order, with lsid and txnNumber; an aborted transaction has none', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: number; step?: string }>('c');
    await coll.insertOne({ _id: 0 });
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    const events: ChangeStreamDocument[] = [];
    // Opens the stream on the server before the writes below.
    await stream.tryNext();
    const aborted = engine.client.startSession();
    try {
      aborted.startTransaction();
      await coll.insertOne({ _id: 99 }, { session: aborted });
      await aborted.abortTransaction();
    } finally {
      await aborted.endSession();
    }
    const session = engine.client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: 1 }, { session });
      await coll.updateOne({ _id: 0 }, { $set: { step: 'updated' } }, { session });
      await coll.deleteOne({ _id: 1 }, { session });
      // Nothing is visible before the commit.
      expect(await stream.tryNext()).toBeNull();
      await session.commitTransaction();
      const txnNumber = Long.fromNumber(session.serverSession.txnNumber);
      await coll.insertOne({ _id: 2 });
      await vi.waitFor(async () => {
        const next = await stream.tryNext();
        if (next) events.push(next);
        expect(events).toHaveLength(4);
      });
      const lsid = session.id!;
      expect(events.map((e) => e.operationType)).toEqual(['insert', 'update', 'delete', 'insert']);
      for (const e of events.slice(0, 3)) {
        expect(e).toMatchObject({ lsid: { id: lsid.id } });
        expect(e).toHaveProperty('txnNumber');
        expect(String(e.txnNumber)).toBe(String(txnNumber));
      }
      expect(events[3]).not.toHaveProperty('lsid');
      expect(events[3]).not.toHaveProperty('txnNumber');
    } finally {
      await session.endSession();
      await stream.close();
    }
  });
});

describe('change events of transactions on the wire', () => {
  it('a getMore returns every event of the commit in one batch', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: number }>('c');
    await coll.insertOne({ _id: 0 });
    const opened = await runCommand<CursorReply>(db, {
      aggregate: 'c',
      pipeline: [{ $changeStream: {} }],
      cursor: {},
    });
    const session = engine.client.startSession();
    try {
      await session.withTransaction(async () => {
        await coll.insertOne({ _id: 1 }, { session });
        await coll.insertOne({ _id: 2 }, { session });
        await coll.deleteOne({ _id: 0 }, { session });
      });
    } finally {
      await session.endSession();
    }
    const more = await runCommand<CursorReply<{ operationType: string; documentKey: { _id: number } }>>(db, {
      getMore: opened.cursor.id,
      collection: 'c',
      maxTimeMS: 1000,
    });
    expect(more.cursor.nextBatch?.map((e) => [e.operationType, e.documentKey._id])).toEqual([
      ['insert', 1],
      ['insert', 2],
      ['delete', 0],
    ]);
    await db.command({ killCursors: 'c', cursors: [opened.cursor.id] });
  });
});

describe('durability', () => {
  it('a committed transaction survives a restart; an open one leaves nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mongo-embedded-txn-'));
    try {
      const server = await startEmbeddedServer({ port: 0, dbPath: dir });
      const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
      try {
        const coll = client.db('app').collection<{ _id: string; n: number }>('c');
        const committed = client.startSession();
        await committed.withTransaction(async () => {
          await coll.insertOne({ _id: 'a', n: 1 }, { session: committed });
          await coll.insertOne({ _id: 'b', n: 2 }, { session: committed });
        });
        await committed.endSession();
        const open = client.startSession();
        open.startTransaction();
        await coll.insertOne({ _id: 'lost', n: 3 }, { session: open });
        await coll.updateOne({ _id: 'a' }, { $set: { n: 100 } }, { session: open });
      } finally {
        await client.close(true);
        await server.close();
      }
      const reopened = await startEmbeddedServer({ port: 0, dbPath: dir });
      const again = new MongoClient(reopened.uri, { serverSelectionTimeoutMS: 5000 });
      try {
        const docs = await again.db('app').collection('c').find().sort({ _id: 1 }).toArray();
        expect(docs).toEqual([
          { _id: 'a', n: 1 },
          { _id: 'b', n: 2 },
        ]);
      } finally {
        await again.close();
        await reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
