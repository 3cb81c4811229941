import type { ListOrdersResponse, Order, OrderFilter, OrderHistoryResponse } from '@orders/contracts';
import { MAX_PAGE_SIZE } from '@orders/contracts';
import { request } from '../../lib/http.js';

/** The most history entries a timeline shows (the newest). */
export const TIMELINE_LIMIT = 100;

/** `GET /orders/:id/history`: the newest changes of one order, newest first. */
export function fetchOrderHistory(id: number, signal?: AbortSignal): Promise<OrderHistoryResponse> {
  return request<OrderHistoryResponse>(`/orders/${String(id)}/history?limit=${String(TIMELINE_LIMIT)}`, { signal });
}

/** The most pages a past board reads (a bound on the loop). */
const MAX_PAST_PAGES = 100;

/** Every page of `GET /orders?as_of=`: the board as it was at `asOf`, newest change first. */
export async function fetchBoardAsOf(asOf: string, filter: OrderFilter, signal?: AbortSignal): Promise<Order[]> {
  const orders: Order[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAST_PAGES; page++) {
    const params = new URLSearchParams({ limit: String(MAX_PAGE_SIZE), as_of: asOf });
    for (const status of filter.status ?? []) params.append('status', status);
    if (filter.customer) params.set('customer', filter.customer);
    if (cursor !== null) params.set('cursor', cursor);
    const response: ListOrdersResponse = await request<ListOrdersResponse>(`/orders?${params.toString()}`, { signal });
    orders.push(...response.orders);
    cursor = response.next_cursor;
    if (cursor === null) break;
  }
  return orders;
}
