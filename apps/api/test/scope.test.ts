import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderEvent, Scope } from '@orders/contracts';
import { buildApp, type App } from '../src/app.js';
import type { AppConfig } from '../src/config.js';
import { socketUrl, summary, useAccessApi } from './support/api.js';
import { json, startApp } from './support/app.js';
import { bearer, createToken } from './support/auth.js';
import type { TestClient } from './support/ws-client.js';

/*
 * A scoped principal never learns of an order outside its scope, by any path: REST reads and writes, the live
 * stream, a replay from the hub's ring, and a replay from the database's change history.
 */

const BOB: Scope = { customer: 'bob' };

/** The config of the app `useAccessApi` builds, so the ringless app shares its database. */
let config: AppConfig | undefined;
const api = useAccessApi({
  listen: true,
  build: (built) => {
    config = built;
    return buildApp(built, { logger: false });
  },
});
/** A second process-like app on the same database with no ring: every replay comes from the change history. */
let ringless: App;
let ringlessWsUrl: string;

beforeAll(async () => {
  if (config === undefined) throw new Error('the app is not built');
  ringless = await startApp({ ...config, ws: { ...config.ws, hubRingSize: 0 } });
  ringlessWsUrl = socketUrl(await ringless.listen({ port: 0, host: '127.0.0.1' }));
});
afterAll(async () => {
  await ringless.close();
});

function subscribe(url: string, token: string, message: Record<string, unknown> = {}): Promise<TestClient> {
  return api.subscribeTo(url, bearer(token), message);
}

async function write(method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: object): Promise<void> {
  const response = await api.admin.inject({ method, url, ...(payload !== undefined && { payload }) });
  expect(response.statusCode, `${method} ${url}: ${response.body}`).toBeLessThan(300);
}

describe('REST under a scope', () => {
  beforeAll(async () => {
    await write('POST', '/orders', { id: 1, customer_name: 'Bob', product_name: 'Mug', status: 'pending' });
    await write('POST', '/orders', { id: 2, customer_name: 'Alice', product_name: 'Mug', status: 'pending' });
    await write('POST', '/orders', { id: 3, customer_name: 'Bobby', product_name: 'Cap', status: 'shipped' });
  });

  it('lists and reads only orders inside the scope; outside, an order looks absent', async () => {
    const viewer = await createToken(api.app, 'viewer', { scope: BOB });
    const list = await api.app.inject({ url: '/orders', headers: bearer(viewer) });
    expect((json(list).orders as { id: number }[]).map((o) => o.id).sort()).toEqual([1, 3]);
    const filtered = await api.app.inject({ url: '/orders?customer=alice', headers: bearer(viewer) });
    expect(json(filtered).orders).toEqual([]);
    const outside = await api.app.inject({ url: '/orders/2', headers: bearer(viewer) });
    expect(outside.statusCode).toBe(404);
    expect(json(outside).code).toBe('ORDER_NOT_FOUND');
    expect((await api.app.inject({ url: '/orders/1', headers: bearer(viewer) })).statusCode).toBe(200);
    const statusScoped = await createToken(api.app, 'viewer', { scope: { status: ['shipped'] } });
    const shipped = await api.app.inject({ url: '/orders?status=pending', headers: bearer(statusScoped) });
    expect(json(shipped).orders).toEqual([]);
  });

  it('counts only orders inside the scope, intersected with the requested filter', async () => {
    const countsAs = async (token: string, query = '') => {
      const response = await api.app.inject({ url: `/orders/counts${query}`, headers: bearer(token) });
      expect(response.statusCode, response.body).toBe(200);
      const { total, by_status } = json(response);
      return { total, by_status };
    };
    const everyone = await createToken(api.app, 'viewer');
    expect(await countsAs(everyone)).toEqual({ total: 3, by_status: { pending: 2, shipped: 1, delivered: 0 } });
    const bob = await createToken(api.app, 'viewer', { scope: BOB });
    expect(await countsAs(bob)).toEqual({ total: 2, by_status: { pending: 1, shipped: 1, delivered: 0 } });
    expect(await countsAs(bob, '?status=shipped')).toEqual({
      total: 1,
      by_status: { pending: 0, shipped: 1, delivered: 0 },
    });
    // A filter outside the scope cannot widen it: Alice's order stays uncounted.
    expect(await countsAs(bob, '?customer=alice')).toEqual({
      total: 0,
      by_status: { pending: 0, shipped: 0, delivered: 0 },
    });
    const shippedOnly = await createToken(api.app, 'viewer', { scope: { status: ['shipped'] } });
    expect(await countsAs(shippedOnly)).toEqual({ total: 1, by_status: { pending: 0, shipped: 1, delivered: 0 } });
    expect(await countsAs(shippedOnly, '?status=pending')).toEqual({
      total: 0,
      by_status: { pending: 0, shipped: 0, delivered: 0 },
    });
    const bobPending = await createToken(api.app, 'viewer', { scope: { customer: 'bob', status: ['pending'] } });
    expect(await countsAs(bobPending)).toEqual({ total: 1, by_status: { pending: 1, shipped: 0, delivered: 0 } });
  });

  it('refuses a write that would put an order outside the scope (403), and hides orders outside it (404)', async () => {
    const operator = await createToken(api.app, 'operator', { scope: BOB, name: 'bob-desk' });
    const as = (method: 'POST' | 'PUT', url: string, payload: object, headers: Record<string, string> = {}) =>
      api.app.inject({ method, url, payload, headers: { ...bearer(operator), ...headers } });
    const foreign = await as('POST', '/orders', { id: 4, customer_name: 'Alice', product_name: 'Hat' });
    expect(foreign.statusCode).toBe(403);
    expect(json(foreign).code).toBe('FORBIDDEN');
    expect(await api.app.mongo.orders.countDocuments({ _id: 4 })).toBe(0);
    expect((await as('POST', '/orders', { id: 5, customer_name: 'Bob', product_name: 'Hat' })).statusCode).toBe(201);
    expect((await as('PUT', '/orders/2', { status: 'shipped' })).statusCode).toBe(404);
    // With If-Match, an order outside the scope still answers 404, never 412 with its version.
    expect((await as('PUT', '/orders/2', { status: 'shipped' }, { 'if-match': '"7"' })).statusCode).toBe(404);
    const away = await as('PUT', '/orders/1', { customer_name: 'Alice' });
    expect(away.statusCode).toBe(403);
    expect((await api.app.mongo.orders.findOne({ _id: 1 }))?.customer_name).toBe('Bob');
    const fine = await as('PUT', '/orders/1', { product_name: 'Big mug' });
    expect(fine.statusCode).toBe(200);
    expect(json(fine).updated_by).toBe('bob-desk');
    expect((await api.app.mongo.orders.findOne({ _id: 2 }))?.status).toBe('pending');

    const scopedAdmin = await createToken(api.app, 'admin', { scope: BOB });
    const deleted = await api.app.inject({ method: 'DELETE', url: '/orders/2', headers: bearer(scopedAdmin) });
    expect(deleted.statusCode).toBe(404);
    expect(await api.app.mongo.orders.countDocuments({ _id: 2 })).toBe(1);
  });
});

describe('the stream under a scope', () => {
  /** What a socket scoped to customers containing "bob" may see of the sequence below. */
  const SCOPED: [string, number, number | null][] = [
    ['order.created', 11, 1],
    ['order.left', 11, null],
    ['order.updated', 11, 3],
    ['order.deleted', 11, null],
    ['order.created', 12, 1],
  ];

  /** Creates, updates, moves out and back, and deletes orders inside and outside the scope; returns the start. */
  async function sequence(): Promise<string> {
    const before = json(await api.admin.inject({ url: '/orders?limit=1' })).position as string;
    await write('POST', '/orders', { id: 10, customer_name: 'Alice', product_name: 'Desk' });
    await write('POST', '/orders', { id: 11, customer_name: 'Bob', product_name: 'Lamp' });
    await write('PUT', '/orders/10', { status: 'shipped' });
    await write('PUT', '/orders/11', { customer_name: 'Carol' });
    await write('PUT', '/orders/10', { customer_name: 'Alicia' });
    await write('PUT', '/orders/11', { customer_name: 'Bob again' });
    await write('DELETE', '/orders/10');
    await write('DELETE', '/orders/11');
    await write('POST', '/orders', { id: 12, customer_name: 'bob', product_name: 'Marker' });
    return before;
  }

  let start: string;
  let live: TestClient;
  let unscoped: TestClient;
  let scopedToken: string;

  beforeAll(async () => {
    scopedToken = await createToken(api.app, 'viewer', { scope: BOB });
    live = await subscribe(api.wsUrl, scopedToken);
    unscoped = await subscribe(api.wsUrl, await createToken(api.app, 'viewer'));
    start = await sequence();
    await unscoped.waitForEvents(9);
    await live.waitFor(() => live.events().some((e) => 'order' in e && e.order.id === 12), 'the marker');
  });

  const ids = (events: OrderEvent[]) => events.map((event) => ('order' in event ? event.order.id : event.id));

  it('live: only orders in scope, a move out as order.left, nothing of the others', () => {
    expect(live.events().map(summary)).toEqual(SCOPED);
    expect(ids(live.events())).not.toContain(10);
    expect(ids(unscoped.events()).filter((id) => id === 10)).toHaveLength(4);
  });

  it('a replay from the ring shows the same', async () => {
    const replayed = await subscribe(api.wsUrl, scopedToken, { since: start });
    await replayed.waitFor(() => ids(replayed.events()).includes(12), 'the marker');
    expect(replayed.events().map(summary)).toEqual(SCOPED);
  });

  it('a replay from the change history shows the same', async () => {
    const replayed = await subscribe(ringlessWsUrl, scopedToken, { since: start });
    await replayed.waitFor(() => ids(replayed.events()).includes(12), 'the marker');
    expect(replayed.events().map(summary)).toEqual(SCOPED);
    expect(replayed.control().some((m) => m.type === 'resync')).toBe(false);
  });

  it('a subscription filter narrows within the scope, never widens it', async () => {
    const narrowed = await subscribe(api.wsUrl, scopedToken, { since: start, filter: { customer: 'alice' } });
    const marker = await subscribe(api.wsUrl, scopedToken, { since: start });
    await marker.waitFor(() => ids(marker.events()).includes(12), 'the marker');
    await narrowed.waitFor(() => narrowed.control().some((m) => m.type === 'ready'), 'ready');
    expect(ids(narrowed.events())).not.toContain(10);
    expect(narrowed.events()).toEqual([]);
  });
});
