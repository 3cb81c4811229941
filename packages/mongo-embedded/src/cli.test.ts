import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { useCli } from './test-support/cli.js';
import { useDataDirs } from './test-support/data-dir.js';
import type { TestDoc } from './test-support/harness.js';
import { startEmbeddedServer } from './index.js';

const { tempDir } = useDataDirs();
const { run, uriOf } = useCli();

describe('cli', () => {
  it('prints usage for --help and exits 0', async () => {
    const r = run(['--help']);
    expect((await r.exit).code).toBe(0);
    expect(r.stdout()).toContain('--dbpath');
  });

  it('rejects unknown flags and bad values with exit code 2', async () => {
    const bad = run(['--frobnicate']);
    expect((await bad.exit).code).toBe(2);
    expect(bad.stderr()).toContain('--frobnicate');
    const badPort = run(['--port', 'eighty']);
    expect((await badPort.exit).code).toBe(2);
    expect(badPort.stderr()).toContain('invalid --port');
    const badOplog = run(['--oplogSize', '0']);
    expect((await badOplog.exit).code).toBe(2);
    expect(badOplog.stderr()).toContain('invalid --oplogSize');
  });

  it('serves a data directory, shuts down cleanly on SIGTERM, and the data is there on restart', async () => {
    const dir = join(tempDir(), 'nested', 'db');
    const r = run(['--port', '0', '--dbpath', dir, '--bind_ip', '127.0.0.1']);
    const uri = await uriOf(r);
    expect(uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+\/\?replicaSet=rs0$/);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
    try {
      await client
        .db('app')
        .collection<TestDoc>('c')
        .insertMany([{ _id: 1 }, { _id: 2 }]);
    } finally {
      await client.close();
    }
    r.child.kill('SIGTERM');
    expect(await r.exit).toEqual({ code: 0, signal: null });

    const server = await startEmbeddedServer({ port: 0, dbPath: dir });
    const again = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
    try {
      expect(await again.db('app').collection('c').countDocuments()).toBe(2);
    } finally {
      await again.close();
      await server.close();
    }
  });

  it('loses no acknowledged write when killed with SIGKILL during a write loop', async () => {
    const dir = tempDir();
    const r = run(['--port', '0', '--dbpath', dir]);
    const uri = await uriOf(r);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 2000, retryWrites: false });
    const acknowledged: number[] = [];
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; i < 100_000; i++) {
        const id = w * 1_000_000 + i;
        try {
          await client
            .db('app')
            .collection<TestDoc>('c')
            .insertOne({ _id: id, pad: 'x'.repeat(200) });
        } catch {
          return;
        }
        acknowledged.push(id);
        if (acknowledged.length === 400) r.child.kill('SIGKILL');
      }
    });
    await Promise.all(writers);
    await client.close();
    expect((await r.exit).signal).toBe('SIGKILL');
    expect(acknowledged.length).toBeGreaterThanOrEqual(400);

    const server = await startEmbeddedServer({ port: 0, dbPath: dir });
    const again = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
    try {
      const coll = again.db('app').collection('c');
      const present = new Set(
        (await coll.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id as unknown as number),
      );
      const missing = acknowledged.filter((id) => !present.has(id));
      expect(missing).toEqual([]);
    } finally {
      await again.close();
      await server.close();
    }
  });
});
