import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedServer, type EmbeddedServer } from '../index.js';
import { startNullServer, type NullServer } from './null-server.js';
import { rawLoad } from './raw-wire.js';

// The engine benchmark's own instruments: if they miscounted, its "engine over raw wire" and "driver alone"
// figures would be wrong without anyone noticing.

describe('raw-wire load against the engine', () => {
  let server: EmbeddedServer;
  let client: MongoClient;

  beforeAll(async () => {
    server = await startEmbeddedServer({ port: 0 });
    client = new MongoClient(server.uri);
    await client.connect();
  });

  afterAll(async () => {
    await client.close();
    await server.close();
  });

  const port = (): number => Number(new URL(server.uri).port);

  it('stores every insert it counts, and reads them back without a failure', async () => {
    const inserted = await rawLoad(port(), 3, 10_000, 30, (i) => ({
      insert: 'raw',
      documents: [{ _id: i, n: i }],
      $db: 'tools',
    }));
    expect(inserted.failures).toBe(0);
    expect(inserted.latency.n).toBe(30);
    expect(await client.db('tools').collection('raw').countDocuments()).toBe(30);

    const reads = await rawLoad(port(), 2, 10_000, 20, (i) => ({
      find: 'raw',
      filter: { _id: i % 30 },
      limit: 1,
      singleBatch: true,
      $db: 'tools',
    }));
    expect(reads).toMatchObject({ failures: 0, latency: { n: 20 } });
  });

  it('counts write errors and failed commands as failures', async () => {
    // _id 0..9 exist from the test above: every one of these is a duplicate-key write error.
    const duplicates = await rawLoad(port(), 2, 10_000, 10, (i) => ({
      insert: 'raw',
      documents: [{ _id: i }],
      $db: 'tools',
    }));
    expect(duplicates.failures).toBe(10);
    const unknown = await rawLoad(port(), 1, 10_000, 3, () => ({ noSuchCommand: 1, $db: 'tools' }));
    expect(unknown.failures).toBe(3);
  });
});

describe('null server', () => {
  let server: NullServer;

  beforeAll(async () => {
    server = await startNullServer();
  });

  afterAll(async () => {
    await server.close();
  });

  it('is accepted by the official driver as a primary and answers at once without storing anything', async () => {
    const client = new MongoClient(`mongodb://127.0.0.1:${server.port}/?replicaSet=rs0`, {
      serverSelectionTimeoutMS: 5000,
    });
    try {
      const coll = client.db('bench').collection<{ _id: number; n?: number }>('ceiling');
      const insert = await coll.insertOne({ _id: 7, n: 1 }, { writeConcern: { w: 'majority' } });
      expect(insert.acknowledged).toBe(true);
      // A second insert of the same _id also succeeds: nothing was stored, so nothing can conflict.
      await expect(coll.insertOne({ _id: 7 })).resolves.toMatchObject({ acknowledged: true });
      expect(await coll.findOne({ _id: 42 })).toMatchObject({ _id: 42, payload: 'x'.repeat(100) });
    } finally {
      await client.close();
    }
  });
});
