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
import { listFromPages, type OrderCounts, type OrderList } from './cache.js';

export { ApiError, NETWORK_ERROR } from '../../lib/http.js';

/** Query string for one page of `GET /orders`. Repeated `status` keys, as the API expects. */
export function listSearchParams(filter: OrderFilter, cursor?: string): URLSearchParams {
  const params = new URLSearchParams({ limit: String(MAX_PAGE_SIZE) });
  for (const status of filter.status ?? []) params.append('status', status);
  if (filter.customer) params.set('customer', filter.customer);
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
  filter: OrderFilter,
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
  return listFromPages(pages);
}

/** One page of `GET /orders`: the newest without a cursor, else the page after `cursor`. */
export function fetchOrderPage(
  filter: OrderFilter,
  cursor: string | undefined,
  signal?: AbortSignal,
): Promise<ListOrdersResponse> {
  return request<ListOrdersResponse>(`/orders?${listSearchParams(filter, cursor).toString()}`, { signal });
}

/** `GET /orders/counts` for a filter: the exact counts per status and the position they were counted at. */
export async function fetchOrderCounts(filter: OrderFilter, signal?: AbortSignal): Promise<OrderCounts> {
  const params = listSearchParams(filter);
  params.delete('limit');
  const response = await request<OrderCountsResponse>(`/orders/counts?${params.toString()}`, { signal });
  return { total: response.total, byStatus: response.by_status, position: response.position };
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
  // keepalive: a delete sent as the page goes away (its undo window cut short) still reaches the server.
  return request<undefined>(`/orders/${id}`, { method: 'DELETE', keepalive: true });
}
