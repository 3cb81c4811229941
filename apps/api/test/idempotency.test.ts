import { beforeEach, describe, expect, it } from 'vitest';
import { hashRequestBody, type IdempotencyRecord } from '../src/orders/idempotency.js';
import { IDEMPOTENCY_COLLECTION } from '../src/routes/orders.js';
import { useApi } from './support/api.js';
import { json, seedOrder } from './support/app.js';

const api = useApi();

beforeEach(async () => {
  await api.orders().deleteMany({});
  await api.app.mongo.db.collection(IDEMPOTENCY_COLLECTION).deleteMany({});
});

function post(payload: unknown, key?: string) {
  return api.app.inject({
    method: 'POST',
    url: '/orders',
    payload: JSON.stringify(payload),
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
  });
}

describe('POST /orders with Idempotency-Key', () => {
  it('replays the stored response to a retry with the same key and body', async () => {
    const first = await post(seedOrder, 'key-1');
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const retry = await post(seedOrder, 'key-1');
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.headers.location).toBe('/orders/200');
    expect(retry.headers.etag).toBe('"1"');
    expect(json(retry)).toEqual(json(first));
    expect(await api.orders().countDocuments()).toBe(1);
  });

  it('treats the same body with keys in another order as the same request', async () => {
    await post(seedOrder, 'key-2');
    const retry = await post({ status: 'pending', product_name: 'T-shirt', customer_name: 'Bob', id: 200 }, 'key-2');
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
  });

  it('replays the response even after the order changed, because it is the answer to that request', async () => {
    const first = await post(seedOrder, 'key-3');
    await api.app.inject({ method: 'PUT', url: '/orders/200', payload: { status: 'shipped' } });
    const retry = await post(seedOrder, 'key-3');
    expect(json(retry)).toEqual(json(first));
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED for the same key with a different body, creating nothing', async () => {
    await post(seedOrder, 'key-4');
    const reused = await post({ ...seedOrder, id: 201 }, 'key-4');
    expect(reused.statusCode).toBe(422);
    expect(json(reused)).toMatchObject({
      statusCode: 422,
      code: 'IDEMPOTENCY_KEY_REUSED',
      field: 'headers/idempotency-key',
    });
    expect(await api.orders().countDocuments({ _id: 201 })).toBe(0);
  });

  it('answers 409 IDEMPOTENCY_IN_FLIGHT while the first request with the key is still running', async () => {
    // The first request has claimed the key but not finished (as a slow request would look from outside).
    const firstBody = seedOrder;
    await api.app.mongo.db.collection<IdempotencyRecord<unknown>>(IDEMPOTENCY_COLLECTION).insertOne({
      _id: 'key-5',
      request_hash: hashRequestBody(firstBody),
      status: 'in_flight',
      created_at: new Date(),
    });
    const retry = await post(firstBody, 'key-5');
    expect(retry.statusCode).toBe(409);
    expect(json(retry)).toMatchObject({ code: 'IDEMPOTENCY_IN_FLIGHT' });
    expect(retry.headers['retry-after']).toBe('1');
    expect(await api.orders().countDocuments()).toBe(0);
  });

  it('takes over a claim abandoned by a crashed request', async () => {
    await api.app.mongo.db.collection<IdempotencyRecord<unknown>>(IDEMPOTENCY_COLLECTION).insertOne({
      _id: 'key-6',
      request_hash: hashRequestBody(seedOrder),
      status: 'in_flight',
      created_at: new Date(Date.now() - 10 * 60_000),
    });
    const retry = await post(seedOrder, 'key-6');
    expect(retry.statusCode).toBe(201);
    expect(await api.orders().countDocuments()).toBe(1);
  });

  it('creates exactly one order when many retries with one key arrive at once', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, () => post(seedOrder, 'key-7')));
    const codes = responses.map((response) => response.statusCode);
    expect(codes.every((code) => code === 201 || code === 409)).toBe(true);
    const fresh = responses.filter(
      (response) => response.statusCode === 201 && response.headers['idempotent-replayed'] === undefined,
    );
    expect(fresh).toHaveLength(1);
    for (const response of responses.filter((r) => r.statusCode === 409)) {
      expect(json(response).code).toBe('IDEMPOTENCY_IN_FLIGHT');
    }
    expect(await api.orders().countDocuments()).toBe(1);
    // Once settled, every retry gets the stored answer.
    const later = await post(seedOrder, 'key-7');
    expect(later.statusCode).toBe(201);
    expect(later.headers['idempotent-replayed']).toBe('true');
    expect(json(later)).toEqual(json(fresh[0]!));
  });

  it('stores a 409 ORDER_EXISTS answer too, so a retry gets the same answer', async () => {
    await post(seedOrder);
    const first = await post(seedOrder, 'key-8');
    expect(first.statusCode).toBe(409);
    expect(json(first).code).toBe('ORDER_EXISTS');
    const retry = await post(seedOrder, 'key-8');
    expect(retry.statusCode).toBe(409);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(json(retry)).toEqual(json(first));
  });

  it('does not store a refused body: a corrected retry with the same key goes through', async () => {
    const invalid = await post({ ...seedOrder, status: 'lost' }, 'key-9');
    expect(invalid.statusCode).toBe(400);
    const corrected = await post(seedOrder, 'key-9');
    expect(corrected.statusCode).toBe(201);
    expect(corrected.headers['idempotent-replayed']).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    ['k'.repeat(201), 'over 200 characters'],
  ])('answers 400 for a key that is %s', async (key) => {
    const response = await post(seedOrder, key);
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ field: 'headers/idempotency-key' });
  });

  it('keeps keys for 24 hours with a TTL index', async () => {
    const indexes = await api.app.mongo.db.collection(IDEMPOTENCY_COLLECTION).indexes();
    expect(indexes.find((index) => index.name === 'created_at_ttl')).toMatchObject({
      key: { created_at: 1 },
      expireAfterSeconds: 86400,
    });
  });
});
