import type {
  CreateOrderBody,
  ErrorBody,
  ListOrdersResponse,
  Order,
  OrderFilter,
  UpdateOrderBody,
} from '@orders/contracts';
import { MAX_PAGE_SIZE } from '@orders/contracts';
import { listFromPages, type OrderList } from './cache.js';

/** `ApiError.code` when the server could not be reached at all (so it sent no `ErrorCode`). */
export const NETWORK_ERROR = 'NETWORK';

/** A refusal from the API (its ErrorBody), or a failure to reach it (`status` 0, code `NETWORK_ERROR`). */
export class ApiError extends Error {
  readonly status: number;
  /**
   * The API's `ErrorCode` (compare with its constants), `NETWORK_ERROR`, or `HTTP_<status>` for an answer without
   * an error body. A string, not the union: a newer server may send a code this dashboard does not know yet.
   */
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const body = value as Record<string, unknown>;
  return typeof body.code === 'string' && typeof body.message === 'string';
}

export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  // The caller's headers win over these defaults, whatever form (object, pairs, Headers) they come in.
  const headers = new Headers(init.headers);
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw new ApiError(0, NETWORK_ERROR, 'The server cannot be reached.');
  }
  if (response.status === 204) return undefined as T;
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    if (isErrorBody(body)) {
      const field = typeof body.field === 'string' ? body.field : undefined;
      throw new ApiError(response.status, body.code, body.message, field);
    }
    throw new ApiError(response.status, 'HTTP_' + String(response.status), `The server answered ${response.status}.`);
  }
  return body as T;
}

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
