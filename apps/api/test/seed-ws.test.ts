import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch } from './support/auth.js';
import { closeAfterAll } from './support/app.js';
import { startApiProcess, stopApiProcess, type ApiProcess } from './support/api-process.js';
import { TestClient } from './support/ws-client.js';

/*
 * The WebSocket half of the seed's curl test (server.test.ts has the HTTP half): against the real server with
 * its embedded database, a client connected before each of the seed's four requests receives the matching event.
 * The requests are the seed README's curl commands, sent byte for byte with fetch.
 */

let dataDir: string;
let api: ApiProcess;
const closeLater = closeAfterAll();
const clients: TestClient[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'orders-seed-ws-'));
  closeLater(() => rm(dataDir, { recursive: true, force: true }));
  api = await startApiProcess({ MONGODB_URI: '', DATA_DIR: dataDir, WEB_DIST_DIR: join(dataDir, 'no-dashboard') });
  closeLater(() => stopApiProcess(api));
});
afterAll(async () => {
  for (const client of clients) await client.close();
});

async function connectBefore(): Promise<TestClient> {
  const client = await TestClient.subscribe(api.wsUrl);
  clients.push(client);
  return client;
}

/** A curl request with `-H "Content-Type: application/json" -d <body>`, the body sent byte for byte. */
function curlJson(method: 'POST' | 'PUT', path: string, body: string): Promise<Response> {
  return authFetch(`${api.baseUrl}${path}`, { method, headers: { 'Content-Type': 'application/json' }, body });
}

describe("the seed's curl commands over a real socket", () => {
  it('each write produces its event on a client connected before it; the read produces none', async () => {
    // curl -X POST http://localhost:3000/orders -H "Content-Type: application/json"
    //   -d '{"id": 200, "customer_name": "Bob", "product_name": "T-shirt", "status": "pending"}'
    const beforeCreate = await connectBefore();
    const created = await curlJson(
      'POST',
      '/orders',
      '{"id": 200, "customer_name": "Bob", "product_name": "T-shirt", "status": "pending"}',
    );
    expect(created.status).toBe(201);
    const createdOrder: unknown = await created.json();
    await beforeCreate.waitForEvents(1);
    expect(beforeCreate.events()[0]).toMatchObject({ type: 'order.created', order: createdOrder });

    // curl -X PUT http://localhost:3000/orders/200 -H "Content-Type: application/json"
    //   -d '{"status": "shipped", "product_name": "T-shirt XL"}'
    const beforeUpdate = await connectBefore();
    const updated = await curlJson('PUT', '/orders/200', '{"status": "shipped", "product_name": "T-shirt XL"}');
    expect(updated.status).toBe(200);
    const updatedOrder: unknown = await updated.json();
    await beforeUpdate.waitForEvents(1);
    expect(beforeUpdate.events()).toEqual([expect.objectContaining({ type: 'order.updated', order: updatedOrder })]);

    // curl -X DELETE http://localhost:3000/orders/200
    const beforeDelete = await connectBefore();
    const deleted = await authFetch(`${api.baseUrl}/orders/200`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    await beforeDelete.waitForEvents(1);
    expect(beforeDelete.events()).toEqual([expect.objectContaining({ type: 'order.deleted', id: 200 })]);

    // curl -X GET http://localhost:3000/orders: a read, so no event; a marker write shows nothing came before it.
    const beforeList = await connectBefore();
    const listed = await authFetch(`${api.baseUrl}/orders`, { method: 'GET' });
    expect(listed.status).toBe(200);
    expect(await listed.json()).toMatchObject({ orders: [] });
    const marker = await curlJson('POST', '/orders', '{"id": 201, "customer_name": "Marker", "product_name": "Pin"}');
    expect(marker.status).toBe(201);
    await beforeList.waitForEvents(1);
    expect(beforeList.events()).toMatchObject([{ type: 'order.created', order: { id: 201 } }]);
    expect(beforeList.events()).toHaveLength(1);

    // The first client saw the whole story, in order.
    expect(beforeCreate.events().map((event) => event.type)).toEqual([
      'order.created',
      'order.updated',
      'order.deleted',
      'order.created',
    ]);
  });
});
