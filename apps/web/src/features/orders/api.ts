import type { CreateOrderBody, ListOrdersResponse, Order, OrderFilter, UpdateOrderBody } from '@orders/contracts';
import { MAX_PAGE_SIZE } from '@orders/contracts';
import { request } from '../../lib/http.js';
import { listFromPages, type OrderList } from './cache.js';

export { ApiError, NETWORK_ERROR } from '../../lib/http.js';

/** Query string for one page of `GET /orders`. Repeated `status` keys, as the API expects. */
export function listSearchParams(filter: OrderFilter, cursor?: string): URLSearchParams {
  const params = new URLSearchParams({ limit: String(MAX_PAGE_SIZE) });
  for (const status of filter.status ?? []) params.append('status', status);
  if (filter.customer) params.set('customer', filter.customer);
  if (cursor) params.set('cursor', cursor);
  return params;
}

/** The most pages one snapshot reads (a bound on the loop, far above any board a person watches). */
const MAX_SNAPSHOT_PAGES = 1000;

/**
 * Reads every page of the filtered list. The first page's position was taken before its read, so everything that
 * changes while later pages are read arrives as events after it.
 */
export async function fetchOrderList(filter: OrderFilter, signal?: AbortSignal): Promise<OrderList> {
  const pages: ListOrdersResponse[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_SNAPSHOT_PAGES; page++) {
    const response = await request<ListOrdersResponse>(`/orders?${listSearchParams(filter, cursor).toString()}`, {
      signal,
    });
    pages.push(response);
    if (!response.next_cursor) break;
    cursor = response.next_cursor;
  }
  return listFromPages(pages);
}

/** `GET /orders/:id`. */
export function fetchOrder(id: number, signal?: AbortSignal): Promise<Order> {
  return request<Order>(`/orders/${id}`, { signal });
}

/** `POST /orders`; 409 ORDER_EXISTS when the id is taken. */
export function createOrder(body: CreateOrderBody): Promise<Order> {
  return request<Order>('/orders', { method: 'POST', body: JSON.stringify(body) });
}

/** `PUT /orders/:id`; with `expectedVersion`, 412 VERSION_MISMATCH when the order changed since. */
export function updateOrder(id: number, changes: UpdateOrderBody, expectedVersion?: number): Promise<Order> {
  return request<Order>(`/orders/${id}`, {
    method: 'PUT',
    body: JSON.stringify(changes),
    headers: expectedVersion === undefined ? {} : { 'if-match': `"${expectedVersion}"` },
  });
}

/** `DELETE /orders/:id`. */
export function deleteOrder(id: number): Promise<undefined> {
  return request<undefined>(`/orders/${id}`, { method: 'DELETE' });
}
