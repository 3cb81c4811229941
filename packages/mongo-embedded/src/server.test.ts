import { MongoClient, Timestamp } from 'mongodb';
import { MongoClient as MongoClient6 } from 'mongodb6';
import { describe, expect, it } from 'vitest';
import { useServer, type TestDoc } from './test-support/harness.js';
import { startEmbeddedServer } from './index.js';

/** Connects `client`, hands it to `use`, and closes it whatever happens. */
async function withClient<C extends MongoClient | MongoClient6>(client: C, use: (client: C) => Promise<void>) {
  try {
    await client.connect();
    await use(client);
  } finally {
    await client.close();
  }
}

describe('handshake and topology', () => {
  const server = useServer();

  it('reports a replica-set URI with the exact address it listens on', () => {
    expect(server().host).toBe('127.0.0.1');
    expect(server().port).toBeGreaterThan(0);
    expect(server().uri).toBe(`mongodb://127.0.0.1:${server().port}/?replicaSet=rs0`);
  });

  it('is seen by driver 7 as a replica-set primary with sessions', async () => {
    const client = new MongoClient(server().uri, { serverSelectionTimeoutMS: 5000 });
    const kinds: string[] = [];
    client.on('serverDescriptionChanged', (e) => kinds.push(e.newDescription.type));
    try {
      await client.connect();
      const hello = await client.db('admin').command({ hello: 1 });
      const address = `127.0.0.1:${server().port}`;
      expect(hello).toMatchObject({
        isWritablePrimary: true,
        setName: 'rs0',
        hosts: [address],
        primary: address,
        me: address,
        maxBsonObjectSize: 16777216,
        maxMessageSizeBytes: 48000000,
        maxWriteBatchSize: 100000,
        logicalSessionTimeoutMinutes: 30,
        maxWireVersion: 21,
        minWireVersion: 0,
      });
      expect(hello).not.toHaveProperty('topologyVersion');
      expect(kinds).toContain('RSPrimary');
      const session = client.startSession();
      try {
        await client.db('t').collection('c').insertOne({ a: 1 }, { session });
        expect(session.serverSession.id).toBeDefined();
      } finally {
        await session.endSession();
      }
    } finally {
      await client.close();
    }
  });

  it('accepts directConnection=true', async () => {
    await withClient(
      new MongoClient(`mongodb://127.0.0.1:${server().port}/?directConnection=true`, {
        serverSelectionTimeoutMS: 5000,
      }),
      async (client) => {
        await client.db('direct').collection<TestDoc>('c').insertOne({ _id: 1, x: 'y' });
        expect(await client.db('direct').collection<TestDoc>('c').findOne({ _id: 1 })).toEqual({ _id: 1, x: 'y' });
      },
    );
  });

  it('serves driver 6.22 as well', async () => {
    await withClient(new MongoClient6(server().uri, { serverSelectionTimeoutMS: 5000 }), async (client) => {
      const coll = client.db('v6').collection<{ _id: number; n: number }>('c');
      await coll.insertMany([
        { _id: 1, n: 1 },
        { _id: 2, n: 2 },
      ]);
      await coll.updateOne({ _id: 2 }, { $inc: { n: 10 } });
      expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([
        { _id: 1, n: 1 },
        { _id: 2, n: 12 },
      ]);
      expect(await coll.countDocuments()).toBe(2);
      await coll.deleteOne({ _id: 1 });
      expect(await coll.estimatedDocumentCount()).toBe(1);
    });
  });

  it('answers ping, buildInfo and unknown commands like mongod', async () => {
    await withClient(new MongoClient(server().uri, { serverSelectionTimeoutMS: 5000 }), async (client) => {
      const admin = client.db('admin');
      expect((await admin.command({ ping: 1 })).ok).toBe(1);
      const info = await admin.command({ buildInfo: 1 });
      expect(info.version).toMatch(/^7\.0\./);
      await expect(admin.command({ frobnicate: 1 })).rejects.toMatchObject({
        code: 59,
        codeName: 'CommandNotFound',
        message: "no such command: 'frobnicate'",
      });
    });
  });

  it('attaches increasing Timestamp operationTime and $clusterTime to replies', async () => {
    await withClient(new MongoClient(server().uri, { serverSelectionTimeoutMS: 5000 }), async (client) => {
      const db = client.db('clock');
      interface Times {
        operationTime: Timestamp;
        $clusterTime: { clusterTime: Timestamp };
      }
      const first = (await db.command({ insert: 'c', documents: [{ a: 1 }] })) as Times;
      const second = (await db.command({ insert: 'c', documents: [{ a: 2 }, { a: 3 }] })) as Times;
      expect(first.operationTime).toBeInstanceOf(Timestamp);
      expect(second.$clusterTime.clusterTime).toBeInstanceOf(Timestamp);
      expect(second.operationTime.greaterThan(first.operationTime)).toBe(true);
    });
  });

  it('close() is idempotent and refuses new connections', async () => {
    const other = await startEmbeddedServer({ port: 0 });
    await Promise.all([other.close(), other.close()]);
    await other.close();
    const client = new MongoClient(other.uri, { serverSelectionTimeoutMS: 300 });
    await expect(client.connect()).rejects.toThrow();
    await client.close();
  });
});
