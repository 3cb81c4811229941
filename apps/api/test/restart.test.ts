import type { Collection } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode, type OrderEvent } from '@orders/contracts';
import { authFetch } from './support/auth.js';
import { startApiProcess, stopApiProcess, type ApiProcess } from './support/api-process.js';
import { TestClient } from './support/ws-client.js';
import type { OrderDocument } from '../src/orders/order-document.js';
import type { ForeignDocument } from './support/api.js';
import { useDiskEngine } from './support/disk-engine.js';

/*
 * The API process stops (SIGTERM, or kill -9), writes land directly in the database
 * while it is down, the API starts again, and a client that subscribes since the last position it saw receives
 * exactly the missed events. The engine runs here, on disk, and the API points at it with MONGODB_URI.
 */

const engine = useDiskEngine('restart');
let dbName: string;
let orders: Collection<OrderDocument>;
/** The same collection, for documents written without the fields the API stamps. */
let foreign: Collection<ForeignDocument>;
let api: ApiProcess | null = null;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  if (api !== null) await stopApiProcess(api, 'SIGKILL');
  api = null;
});

async function startApi(): Promise<ApiProcess> {
  api = await startApiProcess({ MONGODB_URI: engine.uri, MONGODB_DB: dbName, DATA_DIR: engine.dataDir });
  return api;
}

async function subscribe(url: string, message: Record<string, unknown> = {}): Promise<TestClient> {
  const client = await TestClient.subscribe(url, message);
  clients.push(client);
  return client;
}

async function post(baseUrl: string, body: object): Promise<void> {
  const response = await authFetch(`${baseUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
}

function summary(event: OrderEvent): string {
  return 'order' in event ? `${event.type} ${event.order.id} v${event.order.version}` : `${event.type} ${event.id}`;
}

/** Writes made while the API is down, directly through the driver; the events they must produce. */
async function writeWhileDown(): Promise<string[]> {
  await foreign.insertOne({ _id: 10, customer_name: 'Down', product_name: 'Time', status: 'pending' });
  await orders.updateOne({ _id: 1 }, { $set: { status: 'shipped' }, $inc: { version: 1 } });
  await orders.replaceOne(
    { _id: 2 },
    {
      customer_name: 'Replaced',
      product_name: 'Whole',
      status: 'delivered',
      created_at: new Date(),
      updated_at: new Date(),
      version: 5,
    },
  );
  await orders.deleteOne({ _id: 3 });
  return ['order.created 10 v1', 'order.updated 1 v2', 'order.updated 2 v5', 'order.deleted 3'];
}

describe.each([
  ['SIGTERM', 'SIGTERM'],
  ['kill -9', 'SIGKILL'],
] as const)('API restart (%s)', (_name, signal) => {
  it('delivers exactly the events committed while the API was down to a client that resumes', async () => {
    ({ name: dbName, orders, foreign } = engine.freshDatabase());

    let running = await startApi();
    const watcher = await subscribe(running.wsUrl);
    const bystander = await subscribe(running.wsUrl);
    for (const id of [1, 2, 3]) await post(running.baseUrl, { id, customer_name: 'Before', product_name: 'Stop' });
    await watcher.waitForEvents(3);
    const since = watcher.lastPosition();

    const exit = await stopApiProcess(running, signal);
    api = null;
    if (signal === 'SIGTERM') {
      expect(exit, running.output.join('\n')).toEqual({ code: 0, signal: null });
      expect(await watcher.closed()).toBe(CloseCode.GoingAway);
      expect(await bystander.closed()).toBe(CloseCode.GoingAway);
    } else {
      expect(exit.signal).toBe('SIGKILL');
      // No close frame from a killed process: the TCP connection just drops (1006 on the client).
      expect(await watcher.closed()).toBe(1006);
    }

    const missed = await writeWhileDown();

    running = await startApi();
    const resumed = await subscribe(running.wsUrl, { since });
    expect(resumed.control()[0]).toMatchObject({ type: 'ready', resumed: true, position: since });
    await resumed.waitForEvents(missed.length);
    // One more write after the restart: it must be the very next event (nothing extra in between).
    await post(running.baseUrl, { id: 20, customer_name: 'After', product_name: 'Start' });
    await resumed.waitForEvents(missed.length + 1);
    expect(resumed.events().map(summary)).toEqual([...missed, 'order.created 20 v1']);

    // A client without `since` gets only what happens from now on.
    const fresh = await subscribe(running.wsUrl);
    await orders.deleteOne({ _id: 20 });
    await fresh.waitForEvents(1);
    expect(fresh.events().map(summary)).toEqual(['order.deleted 20']);
  });
});
