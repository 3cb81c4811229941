import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderEvent } from '@orders/contracts';
import { REPOSITORY_ROOT } from '../src/config.js';
import { authFetch } from './support/auth.js';
import { startApiProcess, stopApiProcess, type ApiProcess } from './support/api-process.js';
import { TestClient } from './support/ws-client.js';

/*
 * Database outage with real processes: the engine (its CLI, on a data directory) stops for a few seconds and starts
 * again on the same port while two API processes keep running. Meanwhile /readyz says not ready and writes answer
 * 503; afterwards the feeds recover by themselves, the clients (still connected) receive every later change once,
 * without a resync, and the APIs stop logging failures (no loop of errors).
 */

interface Engine {
  child: ChildProcess;
  uri: string;
  port: number;
  exited: Promise<number | null>;
}

async function startEngine(dbPath: string, port: number): Promise<Engine> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@orders/source',
      '--import',
      'tsx',
      'packages/mongo-embedded/src/cli.ts',
      '--port',
      String(port),
      '--dbpath',
      dbPath,
    ],
    { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const uri = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the engine did not start')), 30_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('mongodb://')) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the engine exited with ${code}`));
    });
  });
  return { child, uri, port: Number(/:(\d+)\//.exec(uri)?.[1]), exited };
}

async function stopEngine(engine: Engine): Promise<number | null> {
  if (engine.child.exitCode === null) engine.child.kill('SIGTERM');
  const timer = setTimeout(() => engine.child.kill('SIGKILL'), 15_000);
  try {
    return await engine.exited;
  } finally {
    clearTimeout(timer);
  }
}

let dataDir: string;
let engine: Engine | null = null;
const apis: ApiProcess[] = [];
const clients: TestClient[] = [];
let driver: MongoClient | null = null;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'orders-outage-'));
});
afterAll(async () => {
  for (const client of clients) await client.close();
  await driver?.close();
  for (const api of apis) await stopApiProcess(api, 'SIGKILL');
  if (engine) await stopEngine(engine);
  await rm(dataDir, { recursive: true, force: true });
});

async function status(url: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await authFetch(url, init);
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function post(baseUrl: string, id: number): Promise<{ status: number; body: Record<string, unknown> }> {
  return status(`${baseUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, customer_name: 'Out', product_name: 'Age' }),
  });
}

function summary(event: OrderEvent): string {
  return 'order' in event ? `${event.type} ${event.order.id} v${event.order.version}` : `${event.type} ${event.id}`;
}

/** Feed and readiness failures an API logged (pino JSON lines at warn level or above). */
function failureLines(api: ApiProcess): number {
  return api.output.filter((line) => /"level":(40|50|60)/.test(line) && /feed|readiness|request failed/.test(line))
    .length;
}

describe('the engine stops for a few seconds under two API processes', () => {
  it('reports not ready and answers 503 meanwhile, then recovers by itself without loss, resync or error loop', async () => {
    const dbPath = join(dataDir, 'db');
    engine = await startEngine(dbPath, 0);
    const env = { MONGODB_URI: engine.uri, MONGODB_DB: 'outage', DATA_DIR: dataDir, MONGODB_TIMEOUT_MS: '1000' };
    apis.push(await startApiProcess(env), await startApiProcess(env));
    const [a, b] = apis as [ApiProcess, ApiProcess];
    const onA = await TestClient.subscribe(a.wsUrl);
    const onB = await TestClient.subscribe(b.wsUrl);
    clients.push(onA, onB);
    expect((await post(a.baseUrl, 1)).status).toBe(201);
    expect((await post(b.baseUrl, 2)).status).toBe(201);
    for (const client of [onA, onB]) await client.waitForEvents(2);

    const port = engine.port;
    expect(await stopEngine(engine)).toBe(0);
    engine = null;
    for (const api of [a, b]) {
      const ready = await status(`${api.baseUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'not_ready', checks: { database: 'unreachable' } });
      const write = await post(api.baseUrl, 99);
      expect(write.status).toBe(503);
      expect(write.body).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    }
    // The sockets stay open through the outage: nothing to reconnect.
    expect([onA.closeCode, onB.closeCode]).toEqual([null, null]);
    await new Promise((resolve) => setTimeout(resolve, 3000));

    engine = await startEngine(dbPath, port);
    for (const api of [a, b]) {
      let ready = 0;
      for (let attempt = 0; attempt < 120 && ready !== 200; attempt++) {
        ready = (await status(`${api.baseUrl}/readyz`)).status;
        if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(ready, api.output.slice(-20).join('\n')).toBe(200);
    }
    const failuresAfterRecovery = [failureLines(a), failureLines(b)];

    driver = new MongoClient(engine.uri);
    const orders = driver.db('outage').collection<{ _id: number }>('orders');
    expect((await post(a.baseUrl, 3)).status).toBe(201);
    await orders.updateOne({ _id: 1 }, { $set: { status: 'shipped' }, $inc: { version: 1 } });
    expect((await status(`${b.baseUrl}/orders/2`, { method: 'DELETE' })).status).toBe(204);
    const expected = [
      'order.created 1 v1',
      'order.created 2 v1',
      'order.created 3 v1',
      'order.updated 1 v2',
      'order.deleted 2',
    ];
    for (const client of [onA, onB]) {
      await client.waitForEvents(expected.length, 30_000);
      expect(client.events().map(summary)).toEqual(expected);
      expect(client.control().map((m) => m.type)).toEqual(['ready']);
    }
    // Once recovered, the processes stop logging failures: the outage produced a bounded burst, not a loop.
    expect([failureLines(a), failureLines(b)]).toEqual(failuresAfterRecovery);
    for (const count of failuresAfterRecovery) expect(count).toBeLessThan(40);
  });
});
