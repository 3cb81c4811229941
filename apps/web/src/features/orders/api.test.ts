import { describe, expect, it, vi } from 'vitest';
import { makeOrder } from '@orders/client/testing';
import { apiError, json } from '../../test/fakeApi.js';
import { ApiError, createOrder, deleteOrder, fetchOrderList, listSearchParams, updateOrder } from './api.js';

function stubFetch(...responses: Array<Response | Error>) {
  const calls: Array<{ url: string; init: RequestInit | undefined }> = [];
  let next = 0;
  vi.stubGlobal('fetch', (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    const response = responses[next++];
    if (!response) throw new Error(`unexpected request ${url}`);
    return response instanceof Error ? Promise.reject(response) : Promise.resolve(response);
  });
  return calls;
}

describe('fetchOrderList', () => {
  it('reads pages through next_cursor until it holds the window asked for, keeping the first page position', async () => {
    const calls = stubFetch(
      json(200, { orders: [makeOrder(3, 30), makeOrder(2, 20)], position: 'before-first-read', next_cursor: 'c1' }),
      json(200, { orders: [makeOrder(2, 40, { version: 2 }), makeOrder(1, 10)], position: 'later', next_cursor: null }),
    );
    const list = await fetchOrderList({ status: ['pending', 'shipped'], customer: 'bob' }, undefined, { minOrders: 4 });
    expect(list.position).toBe('before-first-read');
    expect(list.orders.map((o) => [o.id, o.version])).toEqual([
      [2, 2],
      [3, 1],
      [1, 1],
    ]);
    expect(calls.map((c) => c.url)).toEqual([
      '/orders?limit=500&status=pending&status=shipped&customer=bob',
      '/orders?limit=500&status=pending&status=shipped&customer=bob&cursor=c1',
    ]);
  });

  it('reads only the newest page by default, and keeps where the next one starts', async () => {
    const calls = stubFetch(
      json(200, { orders: [makeOrder(3, 30), makeOrder(2, 20)], position: 'p', next_cursor: 'c1' }),
    );
    const list = await fetchOrderList({});
    expect(list.orders.map((o) => o.id)).toEqual([3, 2]);
    expect(list.nextCursor).toBe('c1');
    expect(calls).toHaveLength(1);
  });

  it('turns an unreachable server into a NETWORK ApiError', async () => {
    stubFetch(new TypeError('Failed to fetch'));
    await expect(fetchOrderList({})).rejects.toMatchObject({ name: 'ApiError', status: 0, code: 'NETWORK' });
  });
});

describe('writes', () => {
  it('sends If-Match with the expected version and returns the updated order', async () => {
    const calls = stubFetch(json(200, makeOrder(4, 10, { version: 3 })));
    const order = await updateOrder(4, { status: 'shipped' }, 2);
    expect(order.version).toBe(3);
    expect(calls[0]?.init?.method).toBe('PUT');
    expect(new Headers(calls[0]?.init?.headers).get('if-match')).toBe('"2"');
    expect(calls[0]?.init?.body).toBe('{"status":"shipped"}');
  });

  it('turns an ErrorBody into a typed ApiError with code and field', async () => {
    stubFetch(
      apiError(400, 'VALIDATION_FAILED', 'body/status must be equal to one of the allowed values', 'body/status'),
    );
    const error = await createOrder({ id: 1, customer_name: 'a', product_name: 'b' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', field: 'body/status' });
  });

  it('reports a non-JSON failure by its status', async () => {
    stubFetch(new Response('<html>Bad gateway</html>', { status: 502 }));
    await expect(deleteOrder(9)).rejects.toMatchObject({ status: 502, code: 'HTTP_502' });
  });

  it('accepts a 204 for a delete', async () => {
    stubFetch(new Response(null, { status: 204 }));
    await expect(deleteOrder(9)).resolves.toBeUndefined();
  });
});

describe('listSearchParams', () => {
  it('leaves out what the filter does not set', () => {
    expect(listSearchParams({}).toString()).toBe('limit=500');
  });
});
