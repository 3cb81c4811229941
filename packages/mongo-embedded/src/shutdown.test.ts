import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, MongoServerError } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedServer, type EmbeddedServer } from './index.js';

/*
 * A graceful stop while a driver is busy (a change stream waiting in getMore), then a restart on the same port:
 * the same MongoClient must find the server again. Closing the sockets with no warning wedged the driver's monitor
 * (a check started as its connection closed waited forever), so the client stayed "unreachable" after the restart.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function start(dbPath: string, port = 0): Promise<EmbeddedServer> {
  const server = await startEmbeddedServer({ host: '127.0.0.1', port, dbPath });
  cleanups.push(() => server.close());
  return server;
}

describe('stop and restart on the same port', () => {
  it('answers a waiting getMore with a resumable InterruptedAtShutdown, and the same client reconnects after the restart', async () => {
    const dbPath = await mkdtemp(join(tmpdir(), 'embedded-shutdown-'));
    cleanups.push(() => rm(dbPath, { recursive: true, force: true }));
    const first = await start(dbPath);
    const client = new MongoClient(first.uri, { serverSelectionTimeoutMS: 1000 });
    cleanups.push(() => client.close());
    const orders = client.db('shop').collection<{ _id: number }>('orders');
    await orders.insertOne({ _id: 1 });

    const stream = orders.watch([], { maxAwaitTimeMS: 5000 });
    await stream.tryNext();
    const waiting = stream.tryNext().then(
      () => null,
      (err: unknown) => err,
    );
    // Let the getMore reach the server and wait there.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await first.close();
    const failure = await waiting;
    await stream.close();
    // The driver first tries to resume (it is labelled resumable), then gives up while the server is down.
    expect(failure).toBeInstanceOf(Error);

    await start(dbPath, first.port);
    let found: { _id: number } | null = null;
    for (let attempt = 0; attempt < 20 && found === null; attempt++) {
      found = await orders.findOne({ _id: 1 }).catch(() => null);
      if (found === null) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(found).toEqual({ _id: 1 });
  });

  it('answers ShutdownInProgress to commands that arrive while it is closing', async () => {
    const dbPath = await mkdtemp(join(tmpdir(), 'embedded-shutdown-'));
    cleanups.push(() => rm(dbPath, { recursive: true, force: true }));
    const server = await start(dbPath);
    const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 500, retryReads: false });
    cleanups.push(() => client.close());
    await client.db('admin').command({ ping: 1 });
    const closing = server.close();
    const answer = await client
      .db('admin')
      .command({ ping: 1 })
      .then(
        () => null,
        (err: unknown) => err,
      );
    await closing;
    expect(answer).toBeInstanceOf(MongoServerError);
    expect((answer as MongoServerError).code).toBe(91);
  });
});
