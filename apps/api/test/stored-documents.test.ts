import { beforeEach, describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import { orderValidator, type ListOrdersResponse, type Order } from '@orders/contracts';
import { useApi, type ForeignDocument } from './support/api.js';
import { buildApp } from '../src/app.js';
import { captureLog, json } from './support/app.js';

/*
 * Documents written straight through the driver, as another client would: one mapping decides how they are
 * shown, so REST and the socket agree on every field, and no document, however malformed, takes a read down.
 */

const log = captureLog();
const api = useApi({
  listen: true,
  build: (config) => buildApp(config, { logger: { level: 'warn', stream: log.stream } }),
});

beforeEach(async () => {
  await api.orders().deleteMany({});
});

async function getOrder(id: number): Promise<Order> {
  const response = await api.app.inject({ method: 'GET', url: `/orders/${id}` });
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body) as Order;
}

async function listAll(query = ''): Promise<ListOrdersResponse> {
  const response = await api.app.inject({ method: 'GET', url: `/orders${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body) as ListOrdersResponse;
}

/** Inserts the documents, then a well-formed sentinel, and returns the orders the socket showed before it. */
async function insertAndWatch(documents: ForeignDocument[]): Promise<Order[]> {
  const client = await api.subscribe();
  for (const document of documents) await api.foreignOrders().insertOne(document);
  await api
    .foreignOrders()
    .insertOne({ _id: 999_999, customer_name: 'Sentinel', product_name: 'End', status: 'pending' });
  await client.waitFor(
    () => client.events().some((event) => event.type === 'order.created' && event.order.id === 999_999),
    'the sentinel',
  );
  return client
    .events()
    .flatMap((event) => (event.type === 'order.created' && event.order.id !== 999_999 ? [event.order] : []));
}

describe('a document inserted without the fields the API stamps', () => {
  it('reads the same over GET /orders/:id, GET /orders and the socket, with the documented defaults', async () => {
    const [viaSocket] = await insertAndWatch([
      { _id: 4242, customer_name: 'Direct', product_name: 'Pen', status: 'pending' },
    ]);
    const expected: Order = {
      id: 4242,
      customer_name: 'Direct',
      product_name: 'Pen',
      status: 'pending',
      created_at: '1970-01-01T00:00:00.000Z',
      updated_at: '1970-01-01T00:00:00.000Z',
      version: 1,
    };
    expect(viaSocket).toEqual(expected);
    expect(await getOrder(4242)).toEqual(expected);
    expect((await listAll()).orders.find((order) => order.id === 4242)).toEqual(expected);
  });
});

describe('mistyped fields', () => {
  const documents: ForeignDocument[] = [
    // String dates that Date can read are taken as dates.
    {
      _id: 1,
      customer_name: 'Strings',
      product_name: 'Pen',
      status: 'shipped',
      created_at: '2026-05-01T10:00:00Z',
      updated_at: '2026-05-02T10:00:00.000Z',
      version: 4,
    },
    { _id: 2, customer_name: 'Bad version', product_name: 'Pen', status: 'pending', version: 'x' },
    { _id: 3, customer_name: 'Zero version', product_name: 'Pen', status: 'pending', version: 0 },
    { _id: 4, customer_name: 'Fraction', product_name: 'Pen', status: 'delivered', version: 2.5 },
    {
      _id: 5,
      customer_name: 'Bad dates',
      product_name: 'Pen',
      status: 'pending',
      created_at: 'yesterday',
      updated_at: 1_767_000_000_000,
    },
    {
      _id: 6,
      customer_name: 'Only created',
      product_name: 'Pen',
      status: 'pending',
      created_at: new Date('2026-01-01T00:00:00.000Z'),
    },
    { _id: 7, customer_name: 'Far future', product_name: 'Pen', status: 'pending', updated_at: new Date(8.6e15) },
  ];

  it('are shown with defaults, identically over REST and the socket, never NaN or an invalid date', async () => {
    const viaSocket = await insertAndWatch(documents);
    expect(viaSocket.map((order) => order.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const listed = (await listAll()).orders;
    for (const order of viaSocket) {
      expect(orderValidator.check(order), JSON.stringify(order)).toBe(true);
      expect(await getOrder(order.id)).toEqual(order);
      expect(listed.find((candidate) => candidate.id === order.id)).toEqual(order);
    }
    const shown = new Map(viaSocket.map((order) => [order.id, order]));
    expect(shown.get(1)).toMatchObject({
      created_at: '2026-05-01T10:00:00.000Z',
      updated_at: '2026-05-02T10:00:00.000Z',
      version: 4,
    });
    for (const id of [2, 3, 4]) expect(shown.get(id)?.version).toBe(1);
    expect(shown.get(5)).toMatchObject({
      created_at: '1970-01-01T00:00:00.000Z',
      updated_at: '1970-01-01T00:00:00.000Z',
    });
    // Without an updated_at, the creation date is not taken for it: the database sorts the order as undated.
    expect(shown.get(6)).toMatchObject({
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '1970-01-01T00:00:00.000Z',
    });
    expect(shown.get(7)?.updated_at).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('documents that cannot be orders', () => {
  const skipped: ForeignDocument[] = [
    { _id: 11, customer_name: 'Lost', product_name: 'Pen', status: 'lost' },
    { _id: 12, product_name: 'No customer', status: 'pending' },
    { _id: 13, customer_name: 42, product_name: 'Pen', status: 'pending' },
    { _id: 14, customer_name: '   ', product_name: 'Pen', status: 'pending' },
    { _id: 15, customer_name: 'Long', product_name: 'x'.repeat(201), status: 'pending' },
    { _id: 'abc', customer_name: 'String id', product_name: 'Pen', status: 'pending' },
    { _id: new ObjectId(), customer_name: 'ObjectId', product_name: 'Pen', status: 'pending' },
    { _id: 16.5, customer_name: 'Fraction id', product_name: 'Pen', status: 'pending' },
    { _id: -3, customer_name: 'Negative id', product_name: 'Pen', status: 'pending' },
  ];

  it('are skipped by the list and the socket alike, and a read of one answers 404, not 500', async () => {
    await api.post({ id: 20, customer_name: 'Fine', product_name: 'Mug' });
    const viaSocket = await insertAndWatch(skipped);
    expect(viaSocket).toEqual([]);

    const listed = await listAll();
    expect(listed.orders.map((order) => order.id).sort((a, b) => a - b)).toEqual([20, 999_999]);
    for (const id of [11, 12, 13, 14, 15]) {
      const response = await api.app.inject({ method: 'GET', url: `/orders/${id}` });
      expect(response.statusCode).toBe(404);
      expect(json(response)).toMatchObject({ code: 'ORDER_NOT_FOUND', field: 'params/id' });
    }
    const warnings = log.lines.filter((line) => line.msg === 'skipped a stored document that is not an order');
    expect(warnings).toContainEqual(
      expect.objectContaining({ id: '11', reason: 'status is not pending, shipped or delivered' }),
    );
    expect(warnings).toContainEqual(
      expect.objectContaining({ id: 'abc', reason: '_id is not an order id (a positive integer)' }),
    );
    // Most skipped documents would match this filter: the filtered list skips them too.
    expect((await listAll('?status=pending&customer=n')).orders.map((order) => order.id)).toEqual([20, 999_999]);
  });

  it('never break paging: every order is listed once, walking one order per page', async () => {
    const at = (day: number): Date => new Date(`2026-04-0${day}T00:00:00.000Z`);
    const documents: ForeignDocument[] = [
      { _id: 1, customer_name: 'A', product_name: 'P', status: 'pending', updated_at: at(1), version: 1 },
      { _id: 'text id', customer_name: 'B', product_name: 'P', status: 'pending', updated_at: at(2) },
      { _id: 2, customer_name: 'C', product_name: 'P', status: 'pending', updated_at: at(2), version: 1 },
      { _id: 3, customer_name: 'D', product_name: 'P', status: 'lost', updated_at: at(3) },
      { _id: 4, customer_name: 'E', product_name: 'P', status: 'pending', updated_at: at(4), version: 1 },
      { _id: 5.5, customer_name: 'F', product_name: 'P', status: 'pending', updated_at: at(4) },
      { _id: 5, customer_name: 'G', product_name: 'P', status: 'pending', updated_at: at(4), version: 1 },
    ];
    for (const document of documents) await api.foreignOrders().insertOne(document);

    const seen: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < documents.length + 2; page++) {
      const body: ListOrdersResponse = await listAll(
        `?limit=1${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      seen.push(...body.orders.map((order) => order.id));
      cursor = body.next_cursor;
      if (cursor === null) break;
    }
    expect(cursor).toBeNull();
    expect(seen).toEqual([5, 4, 2, 1]);
  });
});
