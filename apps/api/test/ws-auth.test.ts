import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@orders/contracts';
import type { App } from '../src/app.js';
import { startApp, startDatabase, testConfig, type EmbeddedDatabase } from './support/app.js';
import { actingAs, bearer, createToken, createUser, signIn, upgradeStatus } from './support/auth.js';
import { TestClient } from './support/ws-client.js';

let database: EmbeddedDatabase;
let app: App;
let admin: App;
let baseUrl: string;
let wsUrl: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  database = await startDatabase();
  app = await startApp(testConfig(database.uri));
  admin = actingAs(app, await createToken(app, 'admin', { name: 'root' }));
  baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  wsUrl = `${baseUrl.replace('http', 'ws')}/ws`;
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await app.close();
  await database.close();
});

async function subscribe(headers: Record<string, string>): Promise<TestClient> {
  const client = await TestClient.subscribe(wsUrl, {}, headers);
  clients.push(client);
  return client;
}

describe('the upgrade', () => {
  it.each(['https://evil.example', 'null', 'file://', 'chrome-extension://abcdefghijklmnop', 'http://127.0.0.1:1'])(
    'refuses Origin %s with 403 even with valid credentials',
    async (origin) => {
      const token = await createToken(app, 'admin');
      expect(await upgradeStatus(wsUrl, { ...bearer(token), origin })).toBe(403);
    },
  );

  it('accepts its own origin, a CORS_ORIGIN one, and a script with no Origin', async () => {
    const token = await createToken(app, 'viewer');
    expect(await upgradeStatus(wsUrl, { ...bearer(token), origin: baseUrl })).toBe(101);
    expect(await upgradeStatus(wsUrl, { ...bearer(token), origin: 'http://localhost:5173' })).toBe(101);
    expect(await upgradeStatus(wsUrl, bearer(token))).toBe(101);
  });

  it('refuses upgrades on any path but /ws', async () => {
    const token = await createToken(app, 'admin');
    for (const path of ['/orders', '/healthz', '/ws/', '/nope']) {
      expect(await upgradeStatus(`${baseUrl.replace('http', 'ws')}${path}`, bearer(token))).toBe(404);
    }
  });
});

describe('credentials ending close live sockets', () => {
  it('a sign-out closes that session’s sockets with 4401, and only those', async () => {
    await createUser(app, 'sam', 'viewer');
    const cookieA = await signIn(app, 'sam');
    const cookieB = await signIn(app, 'sam');
    const a = await subscribe({ cookie: cookieA, origin: baseUrl });
    const b = await subscribe({ cookie: cookieB, origin: baseUrl });
    const out = await app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie: cookieA, origin: 'http://localhost:80' },
    });
    expect(out.statusCode).toBe(204);
    expect(await a.closed()).toBe(CloseCode.Unauthenticated);
    expect(b.closeCode).toBeNull();
  });

  it('revoking a token closes its sockets with 4401', async () => {
    const created = await admin.inject({
      method: 'POST',
      url: '/auth/tokens',
      payload: { name: 'ci', role: 'viewer' },
    });
    const { id, token } = JSON.parse(created.body) as { id: string; token: string };
    const client = await subscribe(bearer(token));
    expect((await admin.inject({ method: 'DELETE', url: `/auth/tokens/${id}` })).statusCode).toBe(204);
    expect(await client.closed()).toBe(CloseCode.Unauthenticated);
  });

  it('disabling a user closes their sockets with 4401; a role or scope change with 4403', async () => {
    const disabledId = await createUser(app, 'dan', 'viewer');
    const changedId = await createUser(app, 'cat', 'viewer');
    const dan = await subscribe({ cookie: await signIn(app, 'dan'), origin: baseUrl });
    const cat = await subscribe({ cookie: await signIn(app, 'cat'), origin: baseUrl });
    await admin.inject({ method: 'PATCH', url: `/auth/users/${disabledId}`, payload: { disabled: true } });
    await admin.inject({ method: 'PATCH', url: `/auth/users/${changedId}`, payload: { scope: { customer: 'bob' } } });
    expect(await dan.closed()).toBe(CloseCode.Unauthenticated);
    expect(await cat.closed()).toBe(CloseCode.Forbidden);
  });

  it('a token that expires closes its sockets with 4401 when it does', async () => {
    const token = await createToken(app, 'viewer', { expiresAt: new Date(Date.now() + 3000) });
    const client = await subscribe(bearer(token));
    expect(await client.closed()).toBe(CloseCode.Unauthenticated);
    expect(await upgradeStatus(wsUrl, bearer(token))).toBe(401);
  });
});
