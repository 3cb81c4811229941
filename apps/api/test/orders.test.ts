import { beforeEach, describe, expect, it } from 'vitest';
import { useApi } from './support/api.js';
import { json, seedOrder } from './support/app.js';

const api = useApi({ env: { BODY_LIMIT_BYTES: '1024' } });
const { post: create, put: update } = api;

beforeEach(async () => {
  await api.orders().deleteMany({});
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('POST /orders', () => {
  it('creates the order: 201, Location, ETag, server-stamped fields', async () => {
    const response = await create(seedOrder);
    expect(response.statusCode).toBe(201);
    expect(response.headers.location).toBe('/orders/200');
    expect(response.headers.etag).toBe('"1"');
    const body = json(response);
    expect(body).toMatchObject({ ...seedOrder, version: 1 });
    expect(body.created_at).toMatch(ISO);
    expect(body.updated_at).toBe(body.created_at);
    expect(Object.keys(body).sort()).toEqual([
      'created_at',
      'customer_name',
      'id',
      'product_name',
      'status',
      'updated_at',
      'updated_by',
      'version',
    ]);
    // The API stamps who wrote it: the test's admin token.
    expect(body.updated_by).toBe('test-admin');
    // Stored with the id as _id. See docs/ARCHITECTURE.md, "Order identity".
    expect(await api.orders().findOne({ _id: 200 })).toMatchObject({ customer_name: 'Bob', version: 1 });
  });

  it('defaults status to pending', async () => {
    const response = await create({ id: 1, customer_name: 'Ann', product_name: 'Mug' });
    expect(response.statusCode).toBe(201);
    expect(json(response).status).toBe('pending');
  });

  it('answers 409 ORDER_EXISTS for a duplicate id and leaves the first order untouched', async () => {
    await create(seedOrder);
    const response = await create({ ...seedOrder, customer_name: 'Mallory' });
    expect(response.statusCode).toBe(409);
    expect(json(response)).toEqual({
      statusCode: 409,
      error: 'Conflict',
      code: 'ORDER_EXISTS',
      message: 'Order 200 already exists',
      field: 'body/id',
    });
    expect((await api.orders().findOne({ _id: 200 }))?.customer_name).toBe('Bob');
  });

  const badBodies: [string, unknown, string][] = [
    ['a missing required field', { id: 1, product_name: 'Mug' }, 'body/customer_name'],
    ['an id of the wrong type', { ...seedOrder, id: '200' }, 'body/id'],
    ['a fractional id', { ...seedOrder, id: 1.5 }, 'body/id'],
    ['a zero id', { ...seedOrder, id: 0 }, 'body/id'],
    ['an unknown status', { ...seedOrder, status: 'lost' }, 'body/status'],
    ['a name of the wrong type', { ...seedOrder, customer_name: 42 }, 'body/customer_name'],
    ['a blank name', { ...seedOrder, customer_name: '   ' }, 'body/customer_name'],
    ['a name over 200 characters', { ...seedOrder, product_name: 'x'.repeat(201) }, 'body/product_name'],
    ['an unknown field', { ...seedOrder, priority: 'high' }, 'body/priority'],
    ['a client-chosen version', { ...seedOrder, version: 7 }, 'body/version'],
    ['a $where key', { ...seedOrder, $where: 'sleep(1000)' }, 'body/$where'],
    ['an operator object as a value', { ...seedOrder, customer_name: { $gt: '' } }, 'body/customer_name'],
    ['an array instead of an object', [seedOrder], 'body'],
  ];
  it.each(badBodies)('refuses %s with 400 naming the field', async (_name, payload, field) => {
    const response = await create(payload);
    expect(response.statusCode).toBe(400);
    const body = json(response);
    expect(body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'VALIDATION_FAILED', field });
    expect(body.message).toContain(field);
    expect(await api.orders().countDocuments()).toBe(0);
  });

  it('says which values a status may take', async () => {
    const response = await create({ ...seedOrder, status: 'lost' });
    expect(json(response).message).toBe('body/status must be one of pending, shipped, delivered');
  });

  const rawBodies: [string, string, Record<string, unknown>][] = [
    [
      'a __proto__ key instead of dropping it',
      '{"id": 5, "customer_name": "Eve", "product_name": "Hat", "__proto__": {"admin": true}}',
      { code: 'FORBIDDEN_KEY', field: 'body/__proto__' },
    ],
    [
      'a constructor.prototype key',
      '{"id": 5, "customer_name": "Eve", "product_name": "Hat", "constructor": {"prototype": {"admin": true}}}',
      { code: 'FORBIDDEN_KEY', field: 'body/constructor' },
    ],
    ['a body that is not JSON as INVALID_JSON', '{"id": 1,', { code: 'INVALID_JSON', field: 'body' }],
    ['an empty JSON body as INVALID_JSON', '', { code: 'INVALID_JSON' }],
  ];
  it.each(rawBodies)('refuses %s with 400', async (_name, payload, expected) => {
    const response = await api.app.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject(expected);
    expect(await api.orders().countDocuments()).toBe(0);
  });

  it('answers 413 for a body over BODY_LIMIT_BYTES', async () => {
    const response = await create({ ...seedOrder, product_name: 'x'.repeat(2000) });
    expect(response.statusCode).toBe(413);
    expect(json(response)).toMatchObject({ statusCode: 413, code: 'BODY_TOO_LARGE' });
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/xml'])(
    'answers 415 for content type %s',
    async (type) => {
      const response = await api.app.inject({
        method: 'POST',
        url: '/orders',
        headers: { 'content-type': type },
        payload: 'id=200',
      });
      expect(response.statusCode).toBe(415);
      expect(json(response)).toMatchObject({
        statusCode: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        field: 'headers/content-type',
      });
    },
  );

  it('accepts application/json with a charset', async () => {
    const response = await api.app.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify(seedOrder),
    });
    expect(response.statusCode).toBe(201);
  });
});

describe('GET /orders/:id', () => {
  it('returns the order with its ETag', async () => {
    await create(seedOrder);
    const response = await api.app.inject({ method: 'GET', url: '/orders/200' });
    expect(response.statusCode).toBe(200);
    expect(response.headers.etag).toBe('"1"');
    expect(json(response)).toMatchObject(seedOrder);
  });

  it('answers 404 ORDER_NOT_FOUND for an unknown id', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/orders/999' });
    expect(response.statusCode).toBe(404);
    expect(json(response)).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'ORDER_NOT_FOUND',
      message: 'Order 999 does not exist',
      field: 'params/id',
    });
  });

  it.each(['abc', '0', '-3', '1.5', '99999999999999999999'])('answers 400 naming params/id for id %s', async (id) => {
    const response = await api.app.inject({ method: 'GET', url: `/orders/${id}` });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ code: 'VALIDATION_FAILED', field: 'params/id' });
  });
});

describe('PUT /orders/:id', () => {
  it("applies the seed's partial update, stamps updated_at and increments version", async () => {
    const created = json(await create(seedOrder));
    const response = await update(200, { status: 'shipped', product_name: 'T-shirt XL' });
    expect(response.statusCode).toBe(200);
    expect(response.headers.etag).toBe('"2"');
    const body = json(response);
    expect(body).toMatchObject({
      id: 200,
      customer_name: 'Bob',
      product_name: 'T-shirt XL',
      status: 'shipped',
      version: 2,
    });
    expect(body.created_at).toBe(created.created_at);
    expect(Date.parse(String(body.updated_at))).toBeGreaterThanOrEqual(Date.parse(String(created.updated_at)));
    expect(json(await api.app.inject({ method: 'GET', url: '/orders/200' }))).toEqual(body);
  });

  it('answers 404 ORDER_NOT_FOUND for an unknown id and creates nothing', async () => {
    const response = await update(404, { status: 'shipped' });
    expect(response.statusCode).toBe(404);
    expect(json(response)).toMatchObject({ code: 'ORDER_NOT_FOUND' });
    expect(await api.orders().countDocuments()).toBe(0);
  });

  it('honours If-Match in each accepted form', async () => {
    await create(seedOrder);
    expect((await update(200, { status: 'shipped' }, { 'if-match': '"1"' })).statusCode).toBe(200);
    expect((await update(200, { status: 'delivered' }, { 'if-match': '2' })).statusCode).toBe(200);
    const third = await update(200, { product_name: 'Hoodie' }, { 'if-match': 'W/"3"' });
    expect(third.statusCode).toBe(200);
    expect(json(third).version).toBe(4);
  });

  it('answers 412 VERSION_MISMATCH with the current ETag when the order has moved on, and changes nothing', async () => {
    await create(seedOrder);
    await update(200, { status: 'shipped' });
    const response = await update(200, { status: 'delivered' }, { 'if-match': '"1"' });
    expect(response.statusCode).toBe(412);
    expect(response.headers.etag).toBe('"2"');
    expect(json(response)).toMatchObject({ statusCode: 412, code: 'VERSION_MISMATCH', field: 'headers/if-match' });
    expect((await api.orders().findOne({ _id: 200 }))?.status).toBe('shipped');
  });

  it('answers 404, not 412, when If-Match names an order that does not exist', async () => {
    const response = await update(31, { status: 'shipped' }, { 'if-match': '"1"' });
    expect(response.statusCode).toBe(404);
  });

  it('answers 400 for a malformed If-Match', async () => {
    await create(seedOrder);
    const response = await update(200, { status: 'shipped' }, { 'if-match': 'yesterday' });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ field: 'headers/if-match' });
  });

  const badUpdates: [string, unknown, string][] = [
    ['an empty body', {}, 'body'],
    ['an unknown status', { status: 'teleported' }, 'body/status'],
    ['an id change', { id: 201 }, 'body/id'],
    ['a version', { version: 99 }, 'body/version'],
    ['an updated_at', { updated_at: '2000-01-01T00:00:00.000Z' }, 'body/updated_at'],
    ['a $set operator', { $set: { status: 'shipped' } }, 'body/$set'],
    ['a wrong type', { product_name: ['T-shirt'] }, 'body/product_name'],
  ];
  it.each(badUpdates)('refuses %s with 400 naming the field', async (_name, payload, field) => {
    await create(seedOrder);
    const response = await update(200, payload);
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ code: 'VALIDATION_FAILED', field });
    expect((await api.orders().findOne({ _id: 200 }))?.version).toBe(1);
  });

  it('answers 415 for a non-JSON update', async () => {
    await create(seedOrder);
    const response = await api.app.inject({
      method: 'PUT',
      url: '/orders/200',
      headers: { 'content-type': 'text/plain' },
      payload: 'shipped',
    });
    expect(response.statusCode).toBe(415);
  });
});

describe('DELETE /orders/:id', () => {
  it('deletes: 204 with no body, then 404', async () => {
    await create(seedOrder);
    const response = await api.app.inject({ method: 'DELETE', url: '/orders/200' });
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect((await api.app.inject({ method: 'GET', url: '/orders/200' })).statusCode).toBe(404);
    const again = await api.app.inject({ method: 'DELETE', url: '/orders/200' });
    expect(again.statusCode).toBe(404);
    expect(json(again)).toMatchObject({ code: 'ORDER_NOT_FOUND' });
  });

  it('honours If-Match: 412 on a stale version, 204 on the current one', async () => {
    await create(seedOrder);
    await update(200, { status: 'shipped' });
    const stale = await api.app.inject({ method: 'DELETE', url: '/orders/200', headers: { 'if-match': '"1"' } });
    expect(stale.statusCode).toBe(412);
    expect(json(stale)).toMatchObject({ code: 'VERSION_MISMATCH' });
    expect(await api.orders().countDocuments()).toBe(1);
    const current = await api.app.inject({ method: 'DELETE', url: '/orders/200', headers: { 'if-match': '"2"' } });
    expect(current.statusCode).toBe(204);
    expect(await api.orders().countDocuments()).toBe(0);
  });
});

describe('unknown routes', () => {
  it('answer 404 with the shared error body', async () => {
    const response = await api.app.inject({ method: 'POST', url: '/nope' });
    expect(response.statusCode).toBe(404);
    expect(json(response)).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'ROUTE_NOT_FOUND',
      message: 'Route POST /nope does not exist',
    });
  });
});
