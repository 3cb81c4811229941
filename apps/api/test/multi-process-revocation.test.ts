import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedServer } from '@orders/mongo-embedded';
import { CloseCode } from '@orders/contracts';
import { startApiProcess, stopApiProcess, type ApiProcess } from './support/api-process.js';
import { TEST_ADMIN_PASSWORD } from './support/app.js';
import { authFetch } from './support/auth.js';
import { TestClient } from './support/ws-client.js';

/*
 * Two real API processes on one database, no broker: a revocation or a sign-out made through one closes the
 * matching live socket on the other, because each process watches the sessions, tokens and users collections.
 */

type Engine = Awaited<ReturnType<typeof startEmbeddedServer>>;

let dataDir: string;
let engine: Engine;
let first: ApiProcess;
let second: ApiProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'orders-revocation-'));
  engine = await startEmbeddedServer({ host: '127.0.0.1', port: 0, dbPath: dataDir });
  const env = { MONGODB_URI: engine.uri, MONGODB_DB: `revocation_${process.pid}`, DATA_DIR: dataDir };
  first = await startApiProcess(env);
  second = await startApiProcess(env);
});
afterAll(async () => {
  for (const client of clients) await client.close();
  for (const api of [first, second]) await stopApiProcess(api, 'SIGKILL');
  await engine.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function subscribeTo(api: ApiProcess, headers: Record<string, string>): Promise<TestClient> {
  const client = await TestClient.subscribe(api.wsUrl, {}, headers);
  clients.push(client);
  return client;
}

describe('revocation across API processes', () => {
  it('a token revoked on one process closes its socket on the other with 4401', async () => {
    const created = await authFetch(`${first.baseUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'dashboard-wall', role: 'viewer' }),
    });
    expect(created.status).toBe(201);
    const { id, token } = (await created.json()) as { id: string; token: string };
    const socket = await subscribeTo(second, { authorization: `Bearer ${token}` });
    const revoked = await authFetch(`${first.baseUrl}/auth/tokens/${id}`, { method: 'DELETE' });
    expect(revoked.status).toBe(204);
    expect(await socket.closed()).toBe(CloseCode.Unauthenticated);
  });

  it('a sign-out on one process closes the session’s socket on the other with 4401', async () => {
    const login = await fetch(`${first.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
    const socket = await subscribeTo(second, { cookie, origin: second.baseUrl });
    const out = await fetch(`${first.baseUrl}/auth/logout`, {
      method: 'POST',
      headers: { cookie, origin: first.baseUrl },
    });
    expect(out.status).toBe(204);
    expect(await socket.closed()).toBe(CloseCode.Unauthenticated);
  });
});
