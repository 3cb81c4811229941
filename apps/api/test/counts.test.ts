import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, type OrderCountsResponse } from '@orders/contracts';
import type { App } from '../src/app.js';
import type { OrderDocument } from '../src/orders/order-document.js';
import { startDatabase, testConfig, type EmbeddedDatabase } from './support/app.js';
import { startAppAsAdmin } from './support/auth.js';

let database: EmbeddedDatabase;
let app: App;

beforeAll(async () => {
  database = await startDatabase();
  app = await startAppAsAdmin(testConfig(database.uri));
});
afterAll(async () => {
  await app.close();
  await database.close();
});
beforeEach(async () => {
  await app.mongo.orders.deleteMany({});
});

const statuses = ['pending', 'shipped', 'delivered'] as const;

/** 30 orders: statuses in turn (10 each), every third customer a Bob. */
async function seed(): Promise<void> {
  const now = new Date('2026-03-01T00:00:00.000Z');
  const docs: OrderDocument[] = Array.from({ length: 30 }, (_, index) => ({
    _id: index + 1,
    customer_name: index % 3 === 0 ? `Bob ${index}` : `Alice ${index}`,
    product_name: `Product ${index}`,
    status: statuses[index % 3]!,
    created_at: now,
    updated_at: now,
    version: 1,
  }));
  await app.mongo.orders.insertMany(docs);
}

async function counts(query = ''): Promise<OrderCountsResponse> {
  const response = await app.inject({ method: 'GET', url: `/orders/counts${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body) as OrderCountsResponse;
}

describe('GET /orders/counts', () => {
  it('counts every order per status, with the total', async () => {
    await seed();
    const body = await counts();
    expect(body.by_status).toEqual({ pending: 10, shipped: 10, delivered: 10 });
    expect(body.total).toBe(30);
  });

  it('counts only the statuses the filter keeps, and narrows by customer', async () => {
    await seed();
    expect((await counts('?status=pending&status=delivered')).by_status).toEqual({
      pending: 10,
      shipped: 0,
      delivered: 10,
    });
    // Bobs are every third order, which are exactly the pending ones.
    const bobs = await counts('?customer=bob');
    expect(bobs.by_status).toEqual({ pending: 10, shipped: 0, delivered: 0 });
    expect(bobs.total).toBe(10);
  });

  it('treats the customer text literally', async () => {
    await seed();
    expect((await counts('?customer=.*')).total).toBe(0);
  });

  it('answers a position once writes exist, and follows writes', async () => {
    await seed();
    await app.inject({ method: 'DELETE', url: '/orders/1' });
    await app.inject({ method: 'PUT', url: '/orders/2', payload: { status: 'delivered' } });
    const body = await counts();
    expect(body.by_status).toEqual({ pending: 9, shipped: 9, delivered: 11 });
    await expect.poll(async () => (await counts()).position).not.toBeNull();
  });

  it('marks the counts with a position after every change they include and before every later one', async () => {
    const listPosition = async () => {
      const response = await app.inject({ method: 'GET', url: '/orders?limit=1' });
      return (JSON.parse(response.body) as { position: string | null }).position;
    };
    await app.inject({ method: 'POST', url: '/orders', payload: { id: 1, customer_name: 'A', product_name: 'B' } });
    // The feed's position once it has seen the create: the create's own position.
    await expect.poll(listPosition).not.toBeNull();
    const created = (await listPosition())!;
    const counted = await counts();
    expect(counted.total).toBe(1);
    expect(counted.position! > created).toBe(true);
    await app.inject({ method: 'PUT', url: '/orders/1', payload: { status: 'shipped' } });
    await expect.poll(listPosition).not.toBe(created);
    expect((await listPosition())! > counted.position!).toBe(true);
  });

  it('refuses an unknown status, an unknown field and an empty customer', async () => {
    for (const query of ['?status=lost', '?limit=5', '?customer=']) {
      const response = await app.inject({ method: 'GET', url: `/orders/counts${query}` });
      expect(response.statusCode, query).toBe(400);
      expect((JSON.parse(response.body) as { code: string }).code, query).toBe(ErrorCode.ValidationFailed);
    }
  });
});
