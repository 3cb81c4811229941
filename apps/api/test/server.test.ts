import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch } from './support/auth.js';
import { closeAfterAll, makeDashboard } from './support/app.js';
import { runServerToExit } from './support/server-process.js';
import { startApiProcess, stopApiProcess, type ApiProcess } from './support/api-process.js';

/**
 * Starts `server.ts` as `npm start` would (embedded database in DATA_DIR), on a free port; resolves with its
 * address once it logs that it listens. Requests authenticate as a script would: with an admin token made over HTTP.
 */
function startServer(env: Record<string, string>): Promise<ApiProcess> {
  // MONGODB_URI empty = unset, even if a developer's .env sets it: this test is about the embedded path.
  return startApiProcess({ MONGODB_URI: '', ...env });
}

/** SIGTERM, then the exit code. */
async function stop(server: ApiProcess): Promise<number | null> {
  return (await stopApiProcess(server)).code;
}

let dataDir: string;
let dashboard: Awaited<ReturnType<typeof makeDashboard>>;
const closeLater = closeAfterAll();
let server: ApiProcess | null = null;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'orders-server-'));
  dashboard = await makeDashboard();
  closeLater(() => dashboard.remove());
});
afterAll(async () => {
  if (server !== null) await stop(server);
  await rm(dataDir, { recursive: true, force: true });
});

describe('the real server over HTTP', () => {
  it("answers the seed's four curl commands as documented", async () => {
    server = await startServer({ DATA_DIR: dataDir, WEB_DIST_DIR: dashboard.dir });
    const { baseUrl } = server;

    // curl -X POST http://localhost:3000/orders -H "Content-Type: application/json" -d '{"id": 200, ...}'
    const created = await authFetch(`${baseUrl}/orders`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"id": 200, "customer_name": "Bob", "product_name": "T-shirt", "status": "pending"}',
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/orders/200');
    const createdOrder = (await created.json()) as Record<string, unknown>;
    expect(createdOrder).toMatchObject({
      id: 200,
      customer_name: 'Bob',
      product_name: 'T-shirt',
      status: 'pending',
      version: 1,
    });

    // curl -X PUT http://localhost:3000/orders/200 -H "Content-Type: application/json" -d '{"status": "shipped", ...}'
    const updated = await authFetch(`${baseUrl}/orders/200`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: '{"status": "shipped", "product_name": "T-shirt XL"}',
    });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({
      id: 200,
      customer_name: 'Bob',
      product_name: 'T-shirt XL',
      status: 'shipped',
      version: 2,
    });

    // curl -X GET http://localhost:3000/orders (before the delete, the order is listed)
    const listed = (await (await authFetch(`${baseUrl}/orders`)).json()) as {
      orders: { id: number; status: string }[];
    };
    expect(listed.orders).toEqual([expect.objectContaining({ id: 200, status: 'shipped' })]);

    // curl -X DELETE http://localhost:3000/orders/200
    const deleted = await authFetch(`${baseUrl}/orders/200`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);

    // curl -X GET http://localhost:3000/orders
    const after = await authFetch(`${baseUrl}/orders`);
    expect(after.status).toBe(200);
    expect(after.headers.get('content-type')).toContain('application/json');
    expect(await after.json()).toMatchObject({ orders: [], next_cursor: null });

    // And the dashboard at http://localhost:3000
    const page = await authFetch(`${baseUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Orders dashboard');
  });

  it('stops cleanly on SIGTERM and keeps the data in DATA_DIR across a restart', async () => {
    server ??= await startServer({ DATA_DIR: dataDir, WEB_DIST_DIR: dashboard.dir });
    const created = await authFetch(`${server.baseUrl}/orders`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 7, customer_name: 'Dana', product_name: 'Lamp' }),
    });
    expect(created.status).toBe(201);

    const code = await stop(server);
    expect(code, server.output.join('\n')).toBe(0);
    expect(server.output.join('\n')).toContain('shutting down');
    server = null;

    server = await startServer({ DATA_DIR: dataDir, WEB_DIST_DIR: dashboard.dir });
    const order = await authFetch(`${server.baseUrl}/orders/7`);
    expect(order.status).toBe(200);
    expect(await order.json()).toMatchObject({
      id: 7,
      customer_name: 'Dana',
      product_name: 'Lamp',
      status: 'pending',
      version: 1,
    });
  });

  it('stops cleanly when Ctrl-C arrives twice (from the terminal and relayed by a file watcher)', async () => {
    if (server !== null) await stop(server);
    server = await startServer({ DATA_DIR: dataDir, WEB_DIST_DIR: dashboard.dir });
    const running = server;
    const created = await authFetch(`${running.baseUrl}/orders`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 8, customer_name: 'Eve', product_name: 'Desk' }),
    });
    expect(created.status).toBe(201);
    running.child.kill('SIGINT');
    // The second signal lands once the first shutdown has begun (two signals sent back to back would merge).
    for (let i = 0; i < 200 && !running.output.some((line) => line.includes('shutting down')); i++) await sleep(25);
    running.child.kill('SIGINT');
    const { code } = await running.exited;
    expect(code, running.output.join('\n')).toBe(0);
    expect(running.output.join('\n')).toContain('"msg":"stopped"');
    server = null;

    // A clean stop released the data directory: the next start opens it without a stale lock.
    server = await startServer({ DATA_DIR: dataDir, WEB_DIST_DIR: dashboard.dir });
    expect((await authFetch(`${server.baseUrl}/orders/8`)).status).toBe(200);
  });

  it('exits 1 listing every bad variable when the configuration is invalid', async () => {
    const { code, stderr } = await runServerToExit({
      ...process.env,
      PORT: 'abc',
      LOG_LEVEL: 'chatty',
      DATA_DIR: dataDir,
    });
    expect(code).toBe(1);
    expect(stderr).toContain('PORT="abc"');
    expect(stderr).toContain('LOG_LEVEL="chatty"');
  });

  it('exits 1 naming the host and the fix when MONGODB_URI is unreachable', async () => {
    const { code, stderr } = await runServerToExit({
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      MONGODB_URI: 'mongodb://127.0.0.1:1/?directConnection=true',
      MONGODB_TIMEOUT_MS: '500',
      LOG_LEVEL: 'silent',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('Cannot reach MongoDB at 127.0.0.1:1 (from MONGODB_URI)');
  });
});
