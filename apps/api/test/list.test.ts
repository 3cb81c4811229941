import { beforeEach, describe, expect, it } from 'vitest';
import type { Order } from '@orders/contracts';
import type { OrderDocument } from '../src/orders/order-document.js';
import { useApi } from './support/api.js';
import { json } from './support/app.js';

const api = useApi();

beforeEach(async () => {
  await api.orders().deleteMany({});
});

interface ListBody {
  orders: Order[];
  position: string | null;
  next_cursor: string | null;
}

async function list(query = ''): Promise<ListBody> {
  const response = await api.app.inject({ method: 'GET', url: `/orders${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body) as ListBody;
}

const statuses = ['pending', 'shipped', 'delivered'] as const;

/** Inserts orders directly, with controlled timestamps: several share one updated_at to exercise the tie-break. */
async function seedOrders(count: number): Promise<OrderDocument[]> {
  const base = Date.parse('2026-03-01T00:00:00.000Z');
  const docs: OrderDocument[] = Array.from({ length: count }, (_, index) => ({
    _id: index + 1,
    customer_name: index % 4 === 0 ? `Bob ${index}` : `Alice ${index}`,
    product_name: `Product ${index}`,
    status: statuses[index % 3]!,
    created_at: new Date(base),
    // Groups of three orders share a timestamp.
    updated_at: new Date(base + Math.floor(index / 3) * 1000),
    version: 1,
  }));
  await api.orders().insertMany(docs);
  return docs;
}

/** The documented order: updated_at descending, then id descending. */
function expectedOrder(docs: OrderDocument[]): number[] {
  return [...docs]
    .sort((a, b) => b.updated_at.getTime() - a.updated_at.getTime() || b._id - a._id)
    .map((doc) => doc._id);
}

describe('GET /orders', () => {
  it('answers an empty list with no next page', async () => {
    const body = await list();
    expect(body.orders).toEqual([]);
    expect(body.next_cursor).toBeNull();
    expect(body).toHaveProperty('position');
  });

  it('sorts by updated_at descending, then id descending', async () => {
    const docs = await seedOrders(10);
    const body = await list();
    expect(body.orders.map((order) => order.id)).toEqual(expectedOrder(docs));
    expect(body.next_cursor).toBeNull();
  });

  it('moves an updated order to the top', async () => {
    await seedOrders(5);
    const put = await api.app.inject({ method: 'PUT', url: '/orders/1', payload: { status: 'delivered' } });
    expect(put.statusCode).toBe(200);
    const body = await list();
    expect(body.orders[0]).toMatchObject({ id: 1, status: 'delivered', version: 2 });
  });

  it('defaults to 100 per page', async () => {
    await seedOrders(105);
    const body = await list();
    expect(body.orders).toHaveLength(100);
    expect(body.next_cursor).not.toBeNull();
  });

  it('pages through every order exactly once with the cursor', async () => {
    const docs = await seedOrders(47);
    const seen: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 20; page++) {
      const body = await list(`?limit=5${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      expect(body.orders.length).toBeLessThanOrEqual(5);
      seen.push(...body.orders.map((order) => order.id));
      cursor = body.next_cursor;
      if (cursor === null) break;
    }
    expect(cursor).toBeNull();
    expect(seen).toEqual(expectedOrder(docs));
    expect(new Set(seen).size).toBe(47);
  });

  it('ends with no cursor when the last page is exactly full', async () => {
    await seedOrders(10);
    const first = await list('?limit=5');
    expect(first.next_cursor).not.toBeNull();
    const second = await list(`?limit=5&cursor=${first.next_cursor}`);
    expect(second.orders).toHaveLength(5);
    expect(second.next_cursor).toBeNull();
  });

  it('does not shift later pages when an order of an earlier page is updated between requests', async () => {
    const docs = await seedOrders(12);
    const first = await list('?limit=4');
    const firstIds = first.orders.map((order) => order.id);
    // Update an order already seen: it moves to the top, and must not push another order out of the next page.
    await api.app.inject({ method: 'PUT', url: `/orders/${firstIds[3]}`, payload: { status: 'delivered' } });
    const rest: number[] = [];
    let cursor = first.next_cursor;
    for (let page = 0; page < 10 && cursor !== null; page++) {
      const body = await list(`?limit=4&cursor=${cursor}`);
      rest.push(...body.orders.map((order) => order.id));
      cursor = body.next_cursor;
    }
    expect(rest).toEqual(expectedOrder(docs).slice(4));
  });

  it('filters by one status', async () => {
    const docs = await seedOrders(12);
    const body = await list('?status=shipped');
    expect(body.orders.map((order) => order.id)).toEqual(expectedOrder(docs.filter((doc) => doc.status === 'shipped')));
  });

  it('filters by several statuses given as repeated parameters', async () => {
    const docs = await seedOrders(12);
    const body = await list('?status=pending&status=delivered');
    expect(body.orders.map((order) => order.id)).toEqual(expectedOrder(docs.filter((doc) => doc.status !== 'shipped')));
  });

  it('filters by a case-insensitive customer substring', async () => {
    const docs = await seedOrders(12);
    const body = await list('?customer=bOB');
    expect(body.orders.map((order) => order.id)).toEqual(
      expectedOrder(docs.filter((doc) => doc.customer_name.startsWith('Bob'))),
    );
    expect(body.orders.length).toBe(3);
  });

  it('combines filters with paging', async () => {
    const docs = await seedOrders(30);
    const wanted = expectedOrder(docs.filter((doc) => doc.status === 'pending' && doc.customer_name.includes('Alice')));
    const first = await list('?status=pending&customer=alice&limit=3');
    const second = await list(`?status=pending&customer=alice&limit=3&cursor=${first.next_cursor}`);
    expect([...first.orders, ...second.orders].map((order) => order.id)).toEqual(wanted.slice(0, 6));
  });

  it('matches regular-expression metacharacters in the customer filter literally', async () => {
    await api.orders().insertMany([
      {
        _id: 1,
        customer_name: 'A.B (Ltd)',
        product_name: 'x',
        status: 'pending',
        created_at: new Date(),
        updated_at: new Date(),
        version: 1,
      },
      {
        _id: 2,
        customer_name: 'AxB Ltd',
        product_name: 'x',
        status: 'pending',
        created_at: new Date(),
        updated_at: new Date(),
        version: 1,
      },
    ]);
    expect((await list('?customer=A.B')).orders.map((order) => order.id)).toEqual([1]);
    expect((await list(`?customer=${encodeURIComponent('(Ltd)')}`)).orders.map((order) => order.id)).toEqual([1]);
    // A pattern that would match everything, or blow up the regex engine, finds nothing instead.
    expect((await list(`?customer=${encodeURIComponent('.*')}`)).orders).toEqual([]);
    expect((await list(`?customer=${encodeURIComponent('(a+)+$')}`)).orders).toEqual([]);
  });

  it('refuses operator injection through the query string', async () => {
    await seedOrders(3);
    for (const query of ['?customer[$ne]=x', '?status[$ne]=pending', '?$where=1', '?customer=x&$or=1']) {
      const response = await api.app.inject({ method: 'GET', url: `/orders${query}` });
      expect(response.statusCode, query).toBe(400);
      expect(json(response).code).toBe('VALIDATION_FAILED');
      expect(String(json(response).field)).toMatch(/^querystring\//);
    }
    // A JSON-looking customer is just text to match.
    expect((await list(`?customer=${encodeURIComponent('{"$gt":""}')}`)).orders).toEqual([]);
  });

  const badQueries: [string, string][] = [
    ['?limit=0', 'querystring/limit'],
    ['?limit=501', 'querystring/limit'],
    ['?limit=ten', 'querystring/limit'],
    ['?limit=2.5', 'querystring/limit'],
    ['?status=lost', 'querystring/status'],
    ['?status=pending&status=lost', 'querystring/status'],
    ['?customer=', 'querystring/customer'],
    ['?sort=name', 'querystring/sort'],
  ];
  it.each(badQueries)('answers 400 for %s naming %s', async (query, field) => {
    const response = await api.app.inject({ method: 'GET', url: `/orders${query}` });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ code: 'VALIDATION_FAILED', field });
  });

  it('accepts limit=500', async () => {
    await seedOrders(3);
    expect((await list('?limit=500')).orders).toHaveLength(3);
  });

  it.each([
    'garbage',
    Buffer.from('v1:notanumber:3').toString('base64url'),
    Buffer.from('{"$gt":1}').toString('base64url'),
  ])('answers 400 INVALID_CURSOR for a cursor it did not issue (%s)', async (cursor) => {
    const response = await api.app.inject({ method: 'GET', url: `/orders?cursor=${cursor}` });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ code: 'INVALID_CURSOR', field: 'querystring/cursor' });
  });

  it('answers the feed position with the snapshot once the feed has seen a change', async () => {
    await api.app.inject({
      method: 'POST',
      url: '/orders',
      payload: { id: 1, customer_name: 'Ann', product_name: 'Mug' },
    });
    for (let attempt = 0; attempt < 100 && api.app.realtime.position() === null; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const body = await list();
    expect(typeof body.position).toBe('string');
    expect(body.orders.map((order) => order.id)).toEqual([1]);
  });
});
