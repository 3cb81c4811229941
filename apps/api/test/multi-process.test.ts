import type { Collection } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import type { OrderEvent } from '@orders/contracts';
import { authFetch } from './support/auth.js';
import { startApiProcess, stopApiProcess, type ApiProcess } from './support/api-process.js';
import { TestClient } from './support/ws-client.js';
import type { OrderDocument } from '../src/orders/order-document.js';
import type { ForeignDocument } from './support/api.js';
import { useDiskEngine } from './support/disk-engine.js';

/*
 * Several API processes on one database, no broker. The engine runs alone (on disk, in this
 * process); each API is a real `server.ts` process pointed at it with MONGODB_URI. Every process runs its own
 * change stream, so a client on any of them sees every write, whichever process (or the driver) made it, and
 * positions are the database's, so a client can move between processes and resume where it stopped.
 */

const engine = useDiskEngine('multi');
let dbName: string;
let orders: Collection<OrderDocument>;
/** The same collection, for documents written without the fields the API stamps. */
let foreign: Collection<ForeignDocument>;
const apis: ApiProcess[] = [];
const clients: TestClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  for (const api of apis.splice(0)) await stopApiProcess(api, 'SIGKILL');
});

function freshDatabase(): void {
  ({ name: dbName, orders, foreign } = engine.freshDatabase());
}

async function startApi(env: Record<string, string> = {}): Promise<ApiProcess> {
  const api = await startApiProcess({ MONGODB_URI: engine.uri, MONGODB_DB: dbName, DATA_DIR: engine.dataDir, ...env });
  apis.push(api);
  return api;
}

async function subscribe(url: string, message: Record<string, unknown> = {}): Promise<TestClient> {
  const client = await TestClient.subscribe(url, message);
  clients.push(client);
  return client;
}

async function request(baseUrl: string, method: string, path: string, body?: object): Promise<number> {
  const response = await authFetch(`${baseUrl}${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  await response.arrayBuffer();
  return response.status;
}

function summary(event: OrderEvent): string {
  return 'order' in event ? `${event.type} ${event.order.id} v${event.order.version}` : `${event.type} ${event.id}`;
}

describe('several API processes on one engine', () => {
  it('every client, on every process, sees every write made through any process or the driver, in one order', async () => {
    freshDatabase();
    const [a, b] = [await startApi(), await startApi()];
    const onA = await subscribe(a.wsUrl);
    const onB = await subscribe(b.wsUrl);

    expect(await request(a.baseUrl, 'POST', '/orders', { id: 1, customer_name: 'Ann', product_name: 'Lamp' })).toBe(
      201,
    );
    expect(await request(b.baseUrl, 'POST', '/orders', { id: 2, customer_name: 'Ben', product_name: 'Desk' })).toBe(
      201,
    );
    expect(await request(b.baseUrl, 'PUT', '/orders/1', { status: 'shipped' })).toBe(200);
    await foreign.insertOne({
      _id: 3,
      customer_name: 'Cy',
      product_name: 'Pen',
      status: 'pending',
      version: 1,
    });
    await orders.updateOne({ _id: 2 }, { $set: { status: 'delivered' }, $inc: { version: 1 } });
    expect(await request(a.baseUrl, 'DELETE', '/orders/3')).toBe(204);
    await orders.deleteOne({ _id: 1 });

    const expected = [
      'order.created 1 v1',
      'order.created 2 v1',
      'order.updated 1 v2',
      'order.created 3 v1',
      'order.updated 2 v2',
      'order.deleted 3',
      'order.deleted 1',
    ];
    for (const client of [onA, onB]) {
      await client.waitForEvents(expected.length);
      expect(client.events().map(summary)).toEqual(expected);
      expect(client.control().map((m) => m.type)).toEqual(['ready']);
    }
    // The same database positions, whichever process delivered them.
    expect(onB.events().map((e) => e.position)).toEqual(onA.events().map((e) => e.position));
  });

  it('a client that moves to another process with since resumes with no gap and no duplicate (ring and history)', async () => {
    freshDatabase();
    const [a, b] = [await startApi(), await startApi()];
    const mover = await subscribe(a.wsUrl);
    const watcherOnB = await subscribe(b.wsUrl);

    expect(await request(a.baseUrl, 'POST', '/orders', { id: 7, customer_name: 'Mo', product_name: 'Van' })).toBe(201);
    for (let i = 0; i < 3; i++)
      expect(await request(a.baseUrl, 'PUT', '/orders/7', { product_name: `Van ${i}` })).toBe(200);
    await mover.waitForEvents(4);
    const sinceA = mover.lastPosition();
    await mover.close();

    // While the client is away: writes through B and directly through the driver.
    for (let i = 0; i < 3; i++)
      expect(await request(b.baseUrl, 'PUT', '/orders/7', { product_name: `Bus ${i}` })).toBe(200);
    await orders.updateOne({ _id: 7 }, { $set: { status: 'shipped' }, $inc: { version: 1 } });
    await watcherOnB.waitForEvents(8);

    // B has every event since `sinceA` in its ring.
    const onB = await subscribe(b.wsUrl, { since: sinceA });
    expect(onB.control()[0]).toMatchObject({ type: 'ready', resumed: true, position: sinceA });
    await onB.waitForEvents(4);
    await orders.updateOne({ _id: 7 }, { $set: { status: 'delivered' }, $inc: { version: 1 } });
    await onB.waitForEvents(5);
    expect(onB.events().map(summary)).toEqual([5, 6, 7, 8, 9].map((v) => `order.updated 7 v${v}`));
    const sinceB = onB.lastPosition();
    await onB.close();

    // A third process, started now, never saw those events: it replays them from the database's history.
    await orders.updateOne({ _id: 7 }, { $set: { product_name: 'Truck' }, $inc: { version: 1 } });
    expect(await request(a.baseUrl, 'PUT', '/orders/7', { status: 'pending' })).toBe(200);
    const c = await startApi({ HUB_RING_SIZE: '1' });
    const onC = await subscribe(c.wsUrl, { since: sinceB });
    expect(onC.control()[0]).toMatchObject({ type: 'ready', resumed: true, position: sinceB });
    await onC.waitForEvents(2);
    expect(await request(c.baseUrl, 'DELETE', '/orders/7')).toBe(204);
    await onC.waitForEvents(3);
    expect(onC.events().map(summary)).toEqual(['order.updated 7 v10', 'order.updated 7 v11', 'order.deleted 7']);
    expect(onC.control().map((m) => m.type)).toEqual(['ready']);

    // Stitched together, the mover's three connections saw each version exactly once, in order.
    const versions = [...mover.events(), ...onB.events(), ...onC.events()].map((e) =>
      'order' in e ? e.order.version : 'deleted',
    );
    expect(versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 'deleted']);
  });

  it('a client moves off a process that is killed (kill -9) and resumes on a survivor without a gap', async () => {
    freshDatabase();
    const [a, b] = [await startApi(), await startApi()];
    const client = await subscribe(a.wsUrl);
    for (const id of [1, 2])
      expect(await request(b.baseUrl, 'POST', '/orders', { id, customer_name: 'K', product_name: 'P' })).toBe(201);
    await client.waitForEvents(2);
    const since = client.lastPosition();

    await stopApiProcess(a, 'SIGKILL');
    expect(await client.closed()).toBe(1006);
    for (const id of [3, 4])
      expect(await request(b.baseUrl, 'POST', '/orders', { id, customer_name: 'K', product_name: 'P' })).toBe(201);
    await orders.deleteOne({ _id: 1 });

    const moved = await subscribe(b.wsUrl, { since });
    await moved.waitForEvents(3);
    expect(await request(b.baseUrl, 'PUT', '/orders/2', { status: 'shipped' })).toBe(200);
    await moved.waitForEvents(4);
    expect(moved.events().map(summary)).toEqual([
      'order.created 3 v1',
      'order.created 4 v1',
      'order.deleted 1',
      'order.updated 2 v2',
    ]);
  });
});
