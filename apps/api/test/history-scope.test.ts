import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { ListOrdersResponse, OrderHistoryResponse, Scope } from '@orders/contracts';
import { useAccessApi } from './support/api.js';
import { json } from './support/app.js';
import { bearer, createToken } from './support/auth.js';

/*
 * The order history and the past board under a scope: an order outside the caller's scope looks absent there too,
 * as on GET /orders/:id, and API writes name their author. See docs/ARCHITECTURE.md, "Access control".
 */

const BOB: Scope = { customer: 'bob' };

const api = useAccessApi();
let bobViewer: string;
/** A moment after the setup writes, before the moves made by the tests. */
let settled: string;

beforeAll(async () => {
  bobViewer = await createToken(api.app, 'viewer', { scope: BOB, name: 'bob-viewer' });
  await write('POST', '/orders', { id: 1, customer_name: 'Bob', product_name: 'Mug' });
  await write('PUT', '/orders/1', { status: 'shipped' });
  await write('POST', '/orders', { id: 2, customer_name: 'Alice', product_name: 'Mug' });
  await write('POST', '/orders', { id: 3, customer_name: 'Alice', product_name: 'Cap' });
  await write('DELETE', '/orders/3');
  await write('POST', '/orders', { id: 4, customer_name: 'Bobby', product_name: 'Hat' });
  await write('DELETE', '/orders/4');
  // Every write above recorded before the past board is asked for.
  await vi.waitFor(
    async () => {
      expect(await historyCount()).toBe(7);
    },
    { timeout: 10_000, interval: 50 },
  );
  settled = new Date().toISOString();
});

async function write(method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: object): Promise<void> {
  const response = await api.admin.inject({ method, url, ...(payload !== undefined && { payload }) });
  expect(response.statusCode, `${method} ${url}: ${response.body}`).toBeLessThan(300);
}

async function historyCount(): Promise<number> {
  let count = 0;
  for (const id of [1, 2, 3, 4]) {
    const response = await api.admin.inject({ url: `/orders/${String(id)}/history` });
    count += (JSON.parse(response.body) as OrderHistoryResponse).entries.length;
  }
  return count;
}

function asViewer(url: string) {
  return api.app.inject({ url, headers: bearer(bobViewer) });
}

describe('GET /orders/:id/history under a scope', () => {
  it('answers the history of an order inside the scope, each API write naming its author', async () => {
    const response = await asViewer('/orders/1/history');
    expect(response.statusCode, response.body).toBe(200);
    const { entries } = JSON.parse(response.body) as OrderHistoryResponse;
    expect(entries.map((entry) => [entry.operation, entry.actor, entry.order?.status])).toEqual([
      ['updated', 'root', 'shipped'],
      ['created', 'root', 'pending'],
    ]);
  });

  it("answers 404 for another customer's order, live or deleted, as GET /orders/:id does", async () => {
    for (const id of [2, 3]) {
      const history = await asViewer(`/orders/${String(id)}/history`);
      expect(history.statusCode, history.body).toBe(404);
      expect(json(history)).toMatchObject({ code: 'ORDER_NOT_FOUND' });
    }
    expect((await asViewer('/orders/2')).statusCode).toBe(404);
    // Unknown outright: the same answer, so a 404 tells nothing.
    expect((await asViewer('/orders/99/history')).statusCode).toBe(404);
  });

  it('answers the history of a deleted order that was inside the scope, its delete included', async () => {
    const response = await asViewer('/orders/4/history');
    expect(response.statusCode, response.body).toBe(200);
    const { entries } = JSON.parse(response.body) as OrderHistoryResponse;
    // A delete leaves no document to carry updated_by, so it names no one (README, "Order history").
    expect(entries.map((entry) => [entry.operation, entry.actor])).toEqual([
      ['deleted', 'external'],
      ['created', 'root'],
    ]);
  });

  it('answers 404 once the order has moved out of the scope', async () => {
    await write('POST', '/orders', { id: 5, customer_name: 'Bob', product_name: 'Pen' });
    await vi.waitFor(
      async () => {
        expect((await asViewer('/orders/5/history')).statusCode).toBe(200);
      },
      { timeout: 10_000, interval: 50 },
    );
    await write('PUT', '/orders/5', { customer_name: 'Carol' });
    const response = await asViewer('/orders/5/history');
    expect(response.statusCode, response.body).toBe(404);
  });
});

describe('GET /orders?as_of under a scope', () => {
  it("answers the past board without another customer's orders; unscoped, with them", async () => {
    const url = `/orders?as_of=${encodeURIComponent(settled)}`;
    const scoped = await asViewer(url);
    expect(scoped.statusCode, scoped.body).toBe(200);
    expect((JSON.parse(scoped.body) as ListOrdersResponse).orders.map((order) => order.id)).toEqual([1]);
    const all = await api.admin.inject({ url });
    expect((JSON.parse(all.body) as ListOrdersResponse).orders.map((order) => order.id).sort()).toEqual([1, 2]);
  });

  it('combines the scope with a filter: a customer filter cannot reach outside the scope', async () => {
    const response = await asViewer(`/orders?customer=alice&as_of=${encodeURIComponent(settled)}`);
    expect(response.statusCode, response.body).toBe(200);
    expect((JSON.parse(response.body) as ListOrdersResponse).orders).toEqual([]);
  });
});
