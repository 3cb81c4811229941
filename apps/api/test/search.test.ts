import { beforeEach, describe, expect, it } from 'vitest';
import type { Order } from '@orders/contracts';
import { summary, useApi } from './support/api.js';
import { json } from './support/app.js';
import { bearer, createToken } from './support/auth.js';
import { TestClient } from './support/ws-client.js';

/*
 * One search over id, customer and product (`q`), the same in REST lists, counts and the stream; sorts by last
 * update, creation time or id with a keyset cursor each.
 */

const api = useApi({ listen: true });

beforeEach(async () => {
  await api.orders().deleteMany({});
});

async function create(id: number, customer_name: string, product_name: string, status = 'pending'): Promise<Order> {
  const response = await api.post({ id, customer_name, product_name, status });
  expect(response.statusCode, response.body).toBe(201);
  return JSON.parse(response.body) as Order;
}

async function idsFor(query: string, app = api.app, headers: Record<string, string> = {}): Promise<number[]> {
  const response = await app.inject({ url: `/orders?${query}`, headers });
  expect(response.statusCode, response.body).toBe(200);
  return (json(response).orders as Order[]).map((order) => order.id);
}

async function seedShop(): Promise<void> {
  await create(1001, 'Alice Martin', 'Winter gloves');
  await create(1002, 'Bob Stone', 'Gloves, leather');
  await create(1005, 'Carol Ng', 'Mug');
  await create(2000, 'Martina Alvarez', 'Coffee beans 1005g', 'shipped');
}

describe('GET /orders?q=', () => {
  it('finds an order by its id, a product word or a customer word, ignoring case and word order', async () => {
    await seedShop();
    expect(await idsFor('q=1005')).toEqual([2000, 1005]);
    expect(await idsFor(`q=${encodeURIComponent('#1001')}`)).toEqual([1001]);
    expect(await idsFor('q=GLOVES')).toEqual([1002, 1001]);
    expect(await idsFor('q=glo')).toEqual([1002, 1001]);
    expect(await idsFor('q=mart')).toEqual([2000, 1001]);
    expect(await idsFor(`q=${encodeURIComponent('gloves alice')}`)).toEqual([1001]);
    expect(await idsFor(`q=${encodeURIComponent('leather, bob!')}`)).toEqual([1002]);
    // Words match from their start only: "artin" is inside "Martin", not the start of a word.
    expect(await idsFor('q=artin')).toEqual([]);
    expect(await idsFor('q=mart&status=shipped')).toEqual([2000]);
  });

  it('keeps the terms right when one name changes, and finds documents other clients wrote without terms', async () => {
    await create(7, 'Dora', 'Lamp');
    const renamed = await api.put(7, { product_name: 'Desk chair' });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(await idsFor('q=lamp')).toEqual([]);
    expect(await idsFor(`q=${encodeURIComponent('dora desk')}`)).toEqual([7]);
    await api.foreignOrders().insertOne({
      _id: 8,
      customer_name: 'Élodie Durand',
      product_name: 'Night-lamp',
      status: 'pending',
      created_at: new Date(),
      updated_at: new Date(),
      version: 1,
    });
    expect(await idsFor('q=lamp')).toEqual([8]);
    expect(await idsFor('q=%C3%A9lo')).toEqual([8]);
    expect(await idsFor('q=amp')).toEqual([]);
  });

  it('counts what it lists', async () => {
    await seedShop();
    const counts = await api.app.inject({ url: '/orders/counts?q=1005' });
    expect(json(counts)).toMatchObject({ total: 2, by_status: { pending: 1, shipped: 1, delivered: 0 } });
  });

  it('matches regular-expression metacharacters literally, never as a pattern', async () => {
    await create(1, 'A.B (Ltd)', 'Cables');
    await create(2, 'Zed', 'Cups');
    // Punctuation separates words; the words are then matched as text: "a.b" is "a" and "b", "c|z" is "c" and "z".
    const cases: [string, number[]][] = [
      ['a.b', [1]],
      ['(ltd', [1]],
      ['^c', [2, 1]],
      ['c$', [2, 1]],
      ['[a-z]', []],
      ['$where', []],
      ['{"$gt":""}', []],
      ['c|z', [2]],
      ['z.*', [2]],
      ['ca+', [1]],
    ];
    for (const [hostile, expected] of cases) {
      expect(await idsFor(`q=${encodeURIComponent(hostile)}`), hostile).toEqual(expected);
    }
    for (const refused of ['.*', '\\', '^$']) {
      const response = await api.app.inject({ url: `/orders?q=${encodeURIComponent(refused)}` });
      expect(response.statusCode, refused).toBe(400);
    }
  });

  it('refuses a search that is blank, has no letter or digit, is too long, has too many words or is not text', async () => {
    const cases: [string, string][] = [
      ['q=', 'querystring/q'],
      ['q=%20%2A%20', 'querystring/q'],
      [`q=${'a'.repeat(101)}`, 'querystring/q'],
      [`q=${encodeURIComponent('a b c d e f g h i')}`, 'querystring/q'],
      ['q=ab%00', 'querystring/q'],
      ['q=a&q=b', 'querystring/q'],
      ['sort=name', 'querystring/sort'],
    ];
    for (const [query, field] of cases) {
      const response = await api.app.inject({ url: `/orders?${query}` });
      expect(response.statusCode, query).toBe(400);
      expect(json(response).field, query).toBe(field);
      const counts = await api.app.inject({ url: `/orders/counts?${query}` });
      expect(counts.statusCode, query).toBe(400);
    }
  });

  it('finds nothing outside a scoped reader’s scope', async () => {
    await seedShop();
    const viewer = await createToken(api.app, 'viewer', { name: 'bob-viewer', scope: { customer: 'bob' } });
    expect(await idsFor('q=gloves', api.app, bearer(viewer))).toEqual([1002]);
    expect(await idsFor('q=1001', api.app, bearer(viewer))).toEqual([]);
    const counts = await api.app.inject({ url: '/orders/counts?q=gloves', headers: bearer(viewer) });
    expect(json(counts).total).toBe(1);
  });
});

describe('sorting', () => {
  async function seedTimes(): Promise<void> {
    // Creation order 3, 1, 2; last update order 1, 2, 3 (1 updated last).
    const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute));
    const docs = [
      { _id: 3, created: at(1), updated: at(2) },
      { _id: 1, created: at(3), updated: at(9) },
      { _id: 2, created: at(5), updated: at(6) },
    ];
    await api.orders().insertMany(
      docs.map(({ _id, created, updated }) => ({
        _id,
        customer_name: `Customer ${String(_id)}`,
        product_name: 'Thing',
        status: 'pending' as const,
        created_at: created,
        updated_at: updated,
        version: 1,
      })),
    );
  }

  it('lists newest first by last update, creation time or id', async () => {
    await seedTimes();
    expect(await idsFor('')).toEqual([1, 2, 3]);
    expect(await idsFor('sort=updated')).toEqual([1, 2, 3]);
    expect(await idsFor('sort=created')).toEqual([2, 1, 3]);
    expect(await idsFor('sort=id')).toEqual([3, 2, 1]);
  });

  it('pages each sort with its own cursor, and refuses a cursor of another sort', async () => {
    await seedTimes();
    for (const [sort, expected] of [
      ['created', [2, 1, 3]],
      ['id', [3, 2, 1]],
      ['updated', [1, 2, 3]],
    ] as const) {
      const seen: number[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 5; page++) {
        const response = await api.app.inject({
          url: `/orders?sort=${sort}&limit=1${cursor === null ? '' : `&cursor=${cursor}`}`,
        });
        const body = json(response) as { orders: Order[]; next_cursor: string | null };
        seen.push(...body.orders.map((order) => order.id));
        cursor = body.next_cursor;
        if (cursor === null) break;
      }
      expect(seen, sort).toEqual(expected);
    }
    const first = json(await api.app.inject({ url: '/orders?sort=created&limit=1' })) as { next_cursor: string };
    const mixed = await api.app.inject({ url: `/orders?sort=id&cursor=${first.next_cursor}` });
    expect(mixed.statusCode).toBe(400);
    expect(json(mixed).code).toBe('INVALID_CURSOR');
  });
});

describe('the stream with a search', () => {
  it('sends what REST lists: an order that comes to match arrives, one that stops matching leaves', async () => {
    await create(1, 'Alice', 'Mug');
    await create(2, 'Bob', 'Gloves');
    const client = await api.subscribe({ filter: { q: 'glo' } });
    expect(await idsFor('q=glo')).toEqual([2]);
    await create(3, 'Carol', 'Glove box');
    await create(4, 'Dan', 'Hat');
    expect((await api.put(1, { product_name: 'Gloss paint' })).statusCode).toBe(200);
    expect((await api.put(2, { product_name: 'Scarf' })).statusCode).toBe(200);
    expect((await api.put(4, { customer_name: 'Dan Glover' })).statusCode).toBe(200);
    await client.waitFor(() => client.events().length >= 4, 'four events');
    expect(client.events().map(summary)).toEqual([
      ['order.created', 3, 1],
      ['order.updated', 1, 2],
      ['order.left', 2, null],
      ['order.updated', 4, 2],
    ]);
    expect(await idsFor('q=glo')).toEqual([4, 1, 3]);
  });

  it('never sends a scoped socket an order outside its scope, however well it matches the search', async () => {
    const viewer = await createToken(api.app, 'viewer', { name: 'bob-stream', scope: { customer: 'bob' } });
    const client = api.closeAfterTest(
      await TestClient.subscribe(api.wsUrl, { filter: { q: 'gloves' } }, bearer(viewer)),
    );
    await create(11, 'Alice', 'Gloves');
    await create(12, 'Bob', 'Gloves');
    await create(13, 'Bob', 'Hat');
    // Renamed out of the scope: it leaves, without the new name ever reaching the socket.
    expect((await api.put(12, { customer_name: 'Carl' })).statusCode).toBe(200);
    await client.waitFor(() => client.events().length >= 2, 'two events');
    expect(client.events().map(summary)).toEqual([
      ['order.created', 12, 1],
      ['order.left', 12, null],
    ]);
  });

  it('matches an order by id in the stream as in REST', async () => {
    const client = await api.subscribe({ filter: { q: '#42' } });
    await create(41, 'Eve', 'Kite');
    await create(42, 'Frank', 'Kite');
    await client.waitFor(() => client.events().length >= 1, 'one event');
    expect(client.events().map(summary)).toEqual([['order.created', 42, 1]]);
  });

  it('keeps an order found by its id through updates that change its names', async () => {
    await create(801, 'Kim', 'Kayak');
    const client = await api.subscribe({ filter: { q: '#801' } });
    expect((await api.put(801, { product_name: 'Sea kayak' }, { 'if-match': '"1"' })).statusCode).toBe(200);
    expect((await api.put(801, { customer_name: 'Kim Lee' })).statusCode).toBe(200);
    await client.waitFor(() => client.events().length >= 2, 'two events');
    expect(client.events().map(summary)).toEqual([
      ['order.updated', 801, 2],
      ['order.updated', 801, 3],
    ]);
  });

  it('answers a subscription with a search it cannot search for with an error frame', async () => {
    const client = await api.connect();
    client.send({ type: 'subscribe', filter: { q: '***' } });
    await client.waitFor(() => client.control().some((m) => m.type === 'error'), 'an error');
    expect(client.control()).toContainEqual(expect.objectContaining({ type: 'error', code: 'BAD_MESSAGE' }));
  });
});
