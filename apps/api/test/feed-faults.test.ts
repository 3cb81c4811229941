import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedServer } from '@orders/mongo-embedded';
import type { App } from '../src/app.js';
import { testConfig } from './support/app.js';
import { startAppAsAdmin } from './support/auth.js';
import { eventIds as ids, foreignOrdersIn } from './support/api.js';
import { TestClient } from './support/ws-client.js';

/*
 * Database faults. A resumable or non-resumable change-stream error, the engine going away and
 * coming back, an invalidate (collection dropped), and history lost while the API was stopped: clients either
 * receive every event exactly once, or are told to resync; the feed recovers by itself.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function engine(options: { dbPath?: string; port?: number; changeHistoryMaxRecords?: number } = {}) {
  const server = await startEmbeddedServer({ host: '127.0.0.1', port: 0, ...options });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await server.close();
  };
  cleanups.push(close);
  return { server, close };
}

async function listeningApp(uri: string, env: Record<string, string> = {}): Promise<{ app: App; url: string }> {
  const app = await startAppAsAdmin(testConfig(uri, env));
  cleanups.push(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/ws` };
}

async function subscribe(url: string, message: Record<string, unknown> = {}): Promise<TestClient> {
  const client = await TestClient.subscribe(url, message);
  cleanups.push(() => client.close());
  return client;
}

async function insert(app: App, ids: number[]): Promise<void> {
  for (const id of ids) {
    await foreignOrdersIn(app.mongo.db).insertOne({
      _id: id,
      customer_name: 'F',
      product_name: 'P',
      status: 'pending',
    });
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('change-stream errors', () => {
  it.each([
    ['a resumable error (the driver resumes)', { errorCode: 6, errorLabels: ['ResumableChangeStreamError'] }],
    ['a non-resumable error (the feed reopens from its position)', { errorCode: 6 }],
  ])('after %s every event still arrives exactly once, without a resync', async (_name, failure) => {
    const { server } = await engine();
    const { app, url } = await listeningApp(server.uri);
    const client = await subscribe(url);
    await insert(app, range(1, 5));
    await client.waitForEvents(5);
    await app.mongo.client.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { times: 2 },
      data: { failCommands: ['getMore'], ...failure },
    });
    await insert(app, range(6, 15));
    await client.waitForEvents(15);
    expect(ids(client)).toEqual(range(1, 15));
    expect(client.control().map((m) => m.type)).toEqual(['ready']);
    // Both injected failures were consumed by the feed's getMores (a spent fail point no longer exists).
    const off = await app.mongo.client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    expect(off.count).toBe(0);
  });
});

describe('the database goes away and comes back', () => {
  it('reports the feed closed meanwhile and resumes by itself without loss or resync', async () => {
    const dbPath = await mkdtemp(join(tmpdir(), 'orders-feed-faults-'));
    cleanups.push(() => rm(dbPath, { recursive: true, force: true }));
    const first = await engine({ dbPath });
    const port = first.server.port;
    const { app, url } = await listeningApp(
      `mongodb://127.0.0.1:${port}/?directConnection=true&heartbeatFrequencyMS=500`,
      { MONGODB_TIMEOUT_MS: '1000' },
    );
    const client = await subscribe(url);
    await insert(app, [1, 2]);
    await client.waitForEvents(2);
    expect(app.realtime.isFeedOpen()).toBe(true);

    await first.close();
    await waitUntil(() => !app.realtime.isFeedOpen(), 'the feed to report closed');

    await engine({ dbPath, port });
    await waitUntil(() => app.realtime.isFeedOpen(), 'the feed to reopen', 30_000);
    await insert(app, [3]);
    await client.waitForEvents(3);
    expect(ids(client)).toEqual([1, 2, 3]);
    expect(client.control().map((m) => m.type)).toEqual(['ready']);
  });
});

describe('history breaks', () => {
  it('tells every client to resync when the collection is dropped, and keeps delivering after it', async () => {
    const { server } = await engine();
    const { app, url } = await listeningApp(server.uri);
    const client = await subscribe(url);
    await insert(app, [1]);
    await client.waitForEvents(1);
    await app.mongo.orders.drop();
    await client.waitFor(() => client.control().some((m) => m.type === 'resync'), 'resync');
    expect(client.control().at(-1)).toEqual({ type: 'resync', reason: 'invalidated' });
    await waitUntil(() => app.realtime.isFeedOpen(), 'the feed to reopen');
    // The feed reopened at the present; keep writing until an event shows it (the reopen races the first write).
    for (let id = 10; id < 60 && client.events().length < 2; id++) {
      await insert(app, [id]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await client.waitForEvents(2);
    expect(client.events()[1]).toMatchObject({ type: 'order.created' });
    // The recreated collection has post-images again, so update events keep carrying exact versions.
    const [info] = await app.mongo.db.listCollections({ name: 'orders' }).toArray();
    expect(info).toMatchObject({ options: { changeStreamPreAndPostImages: { enabled: true } } });
  });

  it('reopens at the present when its persisted position fell out of the history while the API was stopped', async () => {
    const { server } = await engine({ changeHistoryMaxRecords: 30 });
    const config = testConfig(server.uri);
    const before = await startAppAsAdmin(config);
    await before.listen({ port: 0, host: '127.0.0.1' });
    const url = `ws://127.0.0.1:${(before.server.address() as AddressInfo).port}/ws`;
    const client = await subscribe(url);
    await insert(before, [1]);
    await client.waitForEvents(1);
    const since = client.lastPosition();
    await before.close();

    const { MongoClient } = await import('mongodb');
    const driver = new MongoClient(server.uri);
    cleanups.push(() => driver.close());
    const orders = foreignOrdersIn(driver.db(config.mongo.dbName));
    for (const id of range(2, 80))
      await orders.insertOne({ _id: id, customer_name: 'G', product_name: 'P', status: 'pending' });

    const after = await startAppAsAdmin(config);
    cleanups.push(() => after.close());
    await after.listen({ port: 0, host: '127.0.0.1' });
    const afterUrl = `ws://127.0.0.1:${(after.server.address() as AddressInfo).port}/ws`;
    await waitUntil(() => after.realtime.isFeedOpen() && after.realtime.position() !== null, 'the feed to reopen');

    const resumed = await TestClient.connect(afterUrl);
    cleanups.push(() => resumed.close());
    resumed.send({ type: 'subscribe', since });
    await resumed.waitFor(() => resumed.control().length >= 2, 'resync and ready');
    expect(resumed.control().slice(0, 2)).toEqual([
      { type: 'resync', reason: 'history_lost' },
      expect.objectContaining({ type: 'ready', resumed: false }),
    ]);
    await orders.insertOne({ _id: 500, customer_name: 'Live', product_name: 'P', status: 'pending' });
    await resumed.waitForEvents(1);
    expect(ids(resumed)).toEqual([500]);
  });
});

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
