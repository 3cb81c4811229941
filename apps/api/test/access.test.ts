import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { ROLES, type Role } from '@orders/contracts';
import type { App } from '../src/app.js';
import type { Access } from '../src/plugins/auth.js';
import { json, startApp, startDatabase, testConfig, type EmbeddedDatabase } from './support/app.js';
import { bearer, createToken, createUser, signIn, upgradeStatus } from './support/auth.js';

let database: EmbeddedDatabase;
let app: App;
let adminToken: string;
let nextOrderId = 1000;

const HOST = 'orders.test';
const METRICS_TOKEN = 'metrics-token-for-access';
const OWN_ORIGIN = `http://${HOST}`;

beforeAll(async () => {
  database = await startDatabase();
  app = await startApp(testConfig(database.uri, { METRICS_TOKEN }));
  adminToken = await createToken(app, 'admin', { name: 'setup' });
});
afterAll(async () => {
  await app.close();
  await database.close();
});

async function createOrder(): Promise<number> {
  nextOrderId += 1;
  const response = await app.inject({
    method: 'POST',
    url: '/orders',
    headers: bearer(adminToken),
    payload: { id: nextOrderId, customer_name: 'Ann', product_name: 'Mug' },
  });
  expect(response.statusCode).toBe(201);
  return nextOrderId;
}

interface RouteCase {
  method: string;
  url: string;
  access: Access;
  /** A request that succeeds with `success` for a principal allowed to make it. */
  request(): InjectOptions | Promise<InjectOptions>;
  success: number;
}

/** Every route of the API, with who may use it; the declaration test below fails if a route is missing here. */
const ROUTES: RouteCase[] = [
  { method: 'GET', url: '/healthz', access: 'public', request: () => ({ url: '/healthz' }), success: 200 },
  { method: 'GET', url: '/readyz', access: 'public', request: () => ({ url: '/readyz' }), success: 200 },
  {
    method: 'GET',
    url: '/openapi.json',
    access: 'public',
    request: () => ({ url: '/openapi.json' }),
    success: 200,
  },
  {
    method: 'POST',
    url: '/auth/login',
    access: 'public',
    request: async () => {
      await createUser(app, `login-${nextOrderId++}`, 'viewer').catch(() => undefined);
      return {
        method: 'POST',
        url: '/auth/login',
        payload: { username: `login-${nextOrderId - 1}`, password: 'correct horse battery staple' },
      };
    },
    success: 200,
  },
  {
    method: 'POST',
    url: '/auth/logout',
    access: 'public',
    request: () => ({ method: 'POST', url: '/auth/logout' }),
    success: 204,
  },
  { method: 'GET', url: '/auth/me', access: 'viewer', request: () => ({ url: '/auth/me' }), success: 200 },
  { method: 'GET', url: '/orders', access: 'viewer', request: () => ({ url: '/orders' }), success: 200 },
  {
    method: 'GET',
    url: '/orders/counts',
    access: 'viewer',
    request: () => ({ url: '/orders/counts' }),
    success: 200,
  },
  {
    method: 'GET',
    url: '/orders/export.csv',
    access: 'viewer',
    request: () => ({ url: '/orders/export.csv' }),
    success: 200,
  },
  {
    method: 'GET',
    url: '/orders',
    access: 'viewer',
    request: () => ({ url: `/orders?as_of=${encodeURIComponent(new Date().toISOString())}` }),
    success: 200,
  },
  {
    method: 'GET',
    url: '/orders/:id/history',
    access: 'viewer',
    request: async () => ({ url: `/orders/${await createOrder()}/history` }),
    success: 200,
  },
  // Public to the access layer, whoever calls: the route checks its own METRICS_TOKEN (metrics.test.ts).
  {
    method: 'GET',
    url: '/metrics',
    access: 'public',
    request: () => ({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } }),
    success: 200,
  },
  {
    method: 'GET',
    url: '/orders/:id',
    access: 'viewer',
    request: async () => ({ url: `/orders/${await createOrder()}` }),
    success: 200,
  },
  {
    method: 'POST',
    url: '/orders',
    access: 'operator',
    request: () => ({
      method: 'POST',
      url: '/orders',
      payload: { id: ++nextOrderId, customer_name: 'Ann', product_name: 'Mug' },
    }),
    success: 201,
  },
  {
    method: 'PUT',
    url: '/orders/:id',
    access: 'operator',
    request: async () => ({ method: 'PUT', url: `/orders/${await createOrder()}`, payload: { status: 'shipped' } }),
    success: 200,
  },
  {
    method: 'DELETE',
    url: '/orders/:id',
    access: 'admin',
    request: async () => ({ method: 'DELETE', url: `/orders/${await createOrder()}` }),
    success: 204,
  },
  { method: 'GET', url: '/auth/users', access: 'admin', request: () => ({ url: '/auth/users' }), success: 200 },
  {
    method: 'POST',
    url: '/auth/users',
    access: 'admin',
    request: () => ({
      method: 'POST',
      url: '/auth/users',
      payload: { username: `made-${++nextOrderId}`, password: 'a long enough password', role: 'viewer' },
    }),
    success: 201,
  },
  {
    method: 'PATCH',
    url: '/auth/users/:id',
    access: 'admin',
    request: async () => ({
      method: 'PATCH',
      url: `/auth/users/${await createUser(app, `patched-${++nextOrderId}`, 'viewer')}`,
      payload: { role: 'operator' },
    }),
    success: 200,
  },
  { method: 'GET', url: '/auth/tokens', access: 'admin', request: () => ({ url: '/auth/tokens' }), success: 200 },
  {
    method: 'POST',
    url: '/auth/tokens',
    access: 'admin',
    request: () => ({ method: 'POST', url: '/auth/tokens', payload: { name: 'ci', role: 'viewer' } }),
    success: 201,
  },
  {
    method: 'DELETE',
    url: '/auth/tokens/:id',
    access: 'admin',
    request: async () => {
      const created = await app.auth.service.tokens.create({
        name: 'doomed',
        role: 'viewer',
        scope: null,
        expiresAt: new Date(Date.now() + 60_000),
        createdBy: 'admin',
      });
      return { method: 'DELETE', url: `/auth/tokens/${created.token._id.toHexString()}` };
    },
    success: 204,
  },
];

/** Routes that third-party plugins register (static files, API docs, CORS preflight), declared public by table. */
const isPluginRoute = (method: string, url: string) =>
  method === 'OPTIONS' || url === '/docs' || url.startsWith('/docs/') || url === '/' || url === '/*';

describe('every route declares who may use it', () => {
  it('has an access declaration on every registered route, and the matrix below covers each of ours', () => {
    const routes = app.auth.routes();
    expect(routes.length).toBeGreaterThan(ROUTES.length);
    expect(routes.filter((route) => route.access === undefined)).toEqual([]);
    const ours = routes.filter((route) => route.method !== 'HEAD' && !isPluginRoute(route.method, route.url));
    const declared = ours.map((route) => `${route.method} ${route.url} ${String(route.access)}`).sort();
    // A route may appear more than once (GET /orders live and as_of): one declaration each.
    const tested = [...new Set([...ROUTES.map((r) => `${r.method} ${r.url} ${r.access}`), 'GET /ws viewer'])].sort();
    expect(declared).toEqual(tested);
  });
});

type Caller =
  | { name: string; kind: 'valid'; role: Role; headers(): Promise<Record<string, string>> }
  | { name: string; kind: 'invalid'; headers(): Promise<Record<string, string>> };

const CALLERS: Caller[] = [
  { name: 'anonymous', kind: 'invalid', headers: () => Promise.resolve({}) },
  ...ROLES.map((role): Caller => ({
    name: `${role} token`,
    kind: 'valid',
    role,
    headers: async () => bearer(await createToken(app, role)),
  })),
  ...ROLES.map((role): Caller => ({
    name: `${role} session`,
    kind: 'valid',
    role,
    headers: async () => {
      const username = `session-${role}-${++nextOrderId}`;
      await createUser(app, username, role);
      return { cookie: await signIn(app, username), origin: OWN_ORIGIN };
    },
  })),
  {
    name: 'expired token',
    kind: 'invalid',
    headers: async () => bearer(await createToken(app, 'admin', { expiresAt: new Date(Date.now() - 1000) })),
  },
  {
    name: 'revoked token',
    kind: 'invalid',
    headers: async () => {
      const token = await createToken(app, 'admin', { name: 'revoked' });
      const [doc] = await app.auth.service.tokens.collection.find({ name: 'revoked' }).toArray();
      expect(doc).toBeDefined();
      if (doc !== undefined) await app.auth.service.tokens.revoke(doc._id.toHexString());
      return bearer(token);
    },
  },
  {
    name: 'expired session',
    kind: 'invalid',
    headers: async () => {
      const username = `expiring-${++nextOrderId}`;
      const id = await createUser(app, username, 'admin');
      const cookie = await signIn(app, username);
      const user = await app.auth.service.users.byId(id);
      await app.auth.service.sessions.collection.updateMany(
        { user_id: user?._id },
        { $set: { expires_at: new Date(Date.now() - 1000) } },
      );
      return { cookie, origin: OWN_ORIGIN };
    },
  },
  {
    name: 'disabled user',
    kind: 'invalid',
    headers: async () => {
      const username = `disabled-${++nextOrderId}`;
      const id = await createUser(app, username, 'admin');
      const cookie = await signIn(app, username);
      // Straight in the database, so the session survives: the check must not rely on sessions being deleted.
      await app.auth.service.users.update(id, { disabled: true });
      return { cookie, origin: OWN_ORIGIN };
    },
  },
];

function expectedStatus(route: RouteCase, caller: Caller): number {
  if (route.access === 'public') return route.success;
  if (caller.kind === 'invalid') return 401;
  return ROLES.indexOf(caller.role) >= ROLES.indexOf(route.access) ? route.success : 403;
}

describe('role × route matrix', () => {
  for (const caller of CALLERS) {
    it(`${caller.name}: every route answers as its declaration says`, async () => {
      const outcomes: string[] = [];
      const expected: string[] = [];
      for (const route of ROUTES) {
        const request = await route.request();
        const headers = { host: HOST, ...(await caller.headers()), ...(request.headers ?? {}) };
        const response = await app.inject({ ...request, headers });
        outcomes.push(`${route.method} ${route.url} ${response.statusCode}`);
        expected.push(`${route.method} ${route.url} ${expectedStatus(route, caller)}`);
        if (response.statusCode === 401) {
          expect(json(response).code).toBe('UNAUTHENTICATED');
          expect(response.headers['www-authenticate']).toBe('Bearer realm="orders"');
        }
        if (response.statusCode === 403) expect(json(response).code).toBe('FORBIDDEN');
      }
      expect(outcomes).toEqual(expected);
    });
  }

  it('the stream: the upgrade is authenticated before the 101, with the same rules', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `${address.replace('http', 'ws')}/ws`;
    const results: string[] = [];
    const expected: string[] = [];
    for (const caller of CALLERS) {
      const headers = await caller.headers();
      // The browser's Origin for the session callers: the server's own.
      if (headers.origin !== undefined) headers.origin = address;
      results.push(`${caller.name} ${await upgradeStatus(url, headers)}`);
      expected.push(`${caller.name} ${caller.kind === 'valid' ? 101 : 401}`);
    }
    expect(results).toEqual(expected);
  });
});
