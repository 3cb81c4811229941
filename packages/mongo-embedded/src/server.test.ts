import { MongoClient, Timestamp } from 'mongodb';
import { MongoClient as MongoClient6 } from 'mongodb6';
import { describe, expect, it } from 'vitest';
import { useServer, type TestDoc } from './test-support/harness.js';
import { startEmbeddedServer } from './index.js';

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
      expect(hello.isWritablePrimary).toBe(true);
      expect(hello.setName).toBe('rs0');
      expect(hello.hosts).toEqual([`127.0.0.1:${server().port}`]);
      expect(hello.primary).toBe(`127.0.0.1:${server().port}`);
      expect(hello.me).toBe(`127.0.0.1:${server().port}`);
      expect(hello.maxBsonObjectSize).toBe(16777216);
      expect(hello.maxMessageSizeBytes).toBe(48000000);
      expect(hello.maxWriteBatchSize).toBe(100000);
      expect(hello.logicalSessionTimeoutMinutes).toBe(30);
      expect(hello.maxWireVersion).toBe(21);
      expect(hello.minWireVersion).toBe(0);
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
    const client = new MongoClient(`mongodb://127.0.0.1:${server().port}/?directConnection=true`, {
      serverSelectionTimeoutMS: 5000,
    });
    try {
      await client.connect();
      await client.db('direct').collection<TestDoc>('c').insertOne({ _id: 1, x: 'y' });
      expect(await client.db('direct').collection<TestDoc>('c').findOne({ _id: 1 })).toEqual({ _id: 1, x: 'y' });
    } finally {
      await client.close();
    }
  });

  it('serves driver 6.22 as well', async () => {
    const client = new MongoClient6(server().uri, { serverSelectionTimeoutMS: 5000 });
    try {
      await client.connect();
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
    } finally {
      await client.close();
    }
  });

  it('answers ping, buildInfo and unknown commands like mongod', async () => {
    const client = new MongoClient(server().uri, { serverSelectionTimeoutMS: 5000 });
    try {
      await client.connect();
      const admin = client.db('admin');
      expect((await admin.command({ ping: 1 })).ok).toBe(1);
      const info = await admin.command({ buildInfo: 1 });
      expect(info.version).toMatch(/^7\.0\./);
      await expect(admin.command({ frobnicate: 1 })).rejects.toMatchObject({
        code: 59,
        codeName: 'CommandNotFound',
        message: "no such command: 'frobnicate'",
      });
    } finally {
      await client.close();
    }
  });

  it('attaches increasing Timestamp operationTime and $clusterTime to replies', async () => {
    const client = new MongoClient(server().uri, { serverSelectionTimeoutMS: 5000 });
    try {
      await client.connect();
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
    } finally {
      await client.close();
    }
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
