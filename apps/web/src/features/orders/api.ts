import type {
  CreateOrderBody,
  ListOrdersResponse,
  Order,
  OrderCountsResponse,
  OrderFilter,
  UpdateOrderBody,
} from '@orders/contracts';
import { MAX_PAGE_SIZE } from '@orders/contracts';
import { request } from '../../lib/http.js';
import { listFromPages, type ListFilter, type OrderCounts, type OrderList } from './cache.js';
import { ownWrites } from './ownWrites.js';

export { ApiError, NETWORK_ERROR } from '../../lib/http.js';

/** Query string for one page of `GET /orders`. Repeated `status` keys, as the API expects. */
export function listSearchParams(filter: ListFilter, cursor?: string): URLSearchParams {
  const params = new URLSearchParams({ limit: String(MAX_PAGE_SIZE) });
  for (const status of filter.status ?? []) params.append('status', status);
  if (filter.customer) params.set('customer', filter.customer);
  if (filter.q) params.set('q', filter.q);
  if (filter.sort && filter.sort !== 'updated') params.set('sort', filter.sort);
  if (cursor) params.set('cursor', cursor);
  return params;
}

/** The most pages one window read takes (a bound on the loop, far above any window a person scrolls through). */
const MAX_WINDOW_PAGES = 1000;

/**
 * Reads the newest orders of the filtered list: one page, or as many pages as it takes to hold `minOrders` (a resync
 * reads back the window the board had). The first page's position was taken before its read, so everything that
 * changes while later pages are read arrives as events after it. The rest of the book is read page by page as the
 * board scrolls (`fetchOrderPage`).
 */
export async function fetchOrderList(
  filter: ListFilter,
  signal?: AbortSignal,
  { minOrders = 1 }: { minOrders?: number } = {},
): Promise<OrderList> {
  const pages: ListOrdersResponse[] = [];
  let cursor: string | undefined;
  let read = 0;
  for (let page = 0; page < MAX_WINDOW_PAGES; page++) {
    const response = await fetchOrderPage(filter, cursor, signal);
    pages.push(response);
    read += response.orders.length;
    if (!response.next_cursor || read >= minOrders) break;
    cursor = response.next_cursor;
  }
  return listFromPages(pages, filter);
}

/** One page of `GET /orders`: the newest without a cursor, else the page after `cursor`. */
export function fetchOrderPage(
  filter: ListFilter,
  cursor: string | undefined,
  signal?: AbortSignal,
): Promise<ListOrdersResponse> {
  return request<ListOrdersResponse>(`/orders?${listSearchParams(filter, cursor).toString()}`, { signal });
}

/** `GET /orders/counts` for a filter: the exact counts per status and the position they were counted at. */
export async function fetchOrderCounts(filter: OrderFilter, signal?: AbortSignal): Promise<OrderCounts> {
  const params = listSearchParams(filter);
  params.delete('limit');
  params.delete('sort');
  const response = await request<OrderCountsResponse>(`/orders/counts?${params.toString()}`, { signal });
  return { total: response.total, byStatus: response.by_status, position: response.position };
}

/** `GET /orders/:id`. */
export function fetchOrder(id: number, signal?: AbortSignal): Promise<Order> {
  return request<Order>(`/orders/${id}`, { signal });
}

/*
 * Every write notes itself in `ownWrites` as it is sent, so that its change event, which may arrive before the
 * answer, is not announced to this page as a change from elsewhere. A created order is always version 1, and a
 * versioned update makes the version after the one it names.
 */

/** `POST /orders`; 409 ORDER_EXISTS when the id is taken. */
export function createOrder(body: CreateOrderBody): Promise<Order> {
  ownWrites.note({ id: body.id, version: 1 });
  return request<Order>('/orders', { method: 'POST', body: JSON.stringify(body) });
}

/** `PUT /orders/:id`; with `expectedVersion`, 412 VERSION_MISMATCH when the order changed since. */
export async function updateOrder(id: number, changes: UpdateOrderBody, expectedVersion?: number): Promise<Order> {
  ownWrites.note({ id, ...(expectedVersion === undefined ? {} : { version: expectedVersion + 1 }) });
  const order = await request<Order>(`/orders/${id}`, {
    method: 'PUT',
    body: JSON.stringify(changes),
    headers: expectedVersion === undefined ? {} : { 'if-match': `"${expectedVersion}"` },
  });
  ownWrites.note({ id, version: order.version });
  return order;
}

/** `DELETE /orders/:id`; with `expectedVersion`, 412 VERSION_MISMATCH when the order changed since. */
export function deleteOrder(id: number, expectedVersion?: number): Promise<undefined> {
  ownWrites.note({ id, deleted: true });
  return request<undefined>(`/orders/${id}`, {
    method: 'DELETE',
    headers: expectedVersion === undefined ? {} : { 'if-match': `"${expectedVersion}"` },
    // keepalive: a delete sent as the page goes away (its undo window cut short) still reaches the server.
    keepalive: true,
  });
}

/** The link that downloads the orders of a list's filter as CSV (`GET /orders/export.csv`, every page). */
export function exportHref(filter: ListFilter): string {
  const params = listSearchParams(filter);
  params.delete('limit');
  const query = params.toString();
  return `/orders/export.csv${query === '' ? '' : `?${query}`}`;
}
