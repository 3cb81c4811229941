import { orderTime } from '@orders/client/testing';
import { ErrorCode, type CreateOrderBody, type Order, type OrderStatus } from '@orders/contracts';

/** One request the page made. */
export interface RecordedRequest {
  method: string;
  path: string;
  search: URLSearchParams;
  headers: Headers;
  body: unknown;
}

type Responder = (request: RecordedRequest) => Response | Promise<Response>;

/** A JSON response. */
export function json(status: number, body: unknown): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

/** An ErrorBody response as the API sends it. */
export function apiError(status: number, code: string, message: string, field?: string): Response {
  const reasons: Record<number, string> = {
    400: 'Bad Request',
    404: 'Not Found',
    409: 'Conflict',
    412: 'Precondition Failed',
  };
  return json(status, {
    statusCode: status,
    error: reasons[status] ?? 'Error',
    code,
    message,
    ...(field ? { field } : {}),
  });
}

/** A promise the test settles by hand, to hold a response "in flight". */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * An in-memory stand-in for the API behind `fetch`: the list (filtered, newest first, with a position), reads, and
 * writes with the API's refusals. `respondOnce` overrides the next matching request (a refusal, a held response).
 */
export class FakeApi {
  readonly orders = new Map<number, Order>();
  readonly requests: RecordedRequest[] = [];
  position = 'pos-0';
  /** The server's clock for writes: a day after every test order made with `makeOrder`, so writes sort first. */
  private clock = Date.parse(orderTime(24 * 60));
  private readonly overrides: Array<{ method: string; path: string; respond: Responder }> = [];

  constructor(orders: Order[] = []) {
    for (const order of orders) this.orders.set(order.id, order);
  }

  /** Answers the next `method path` request with `respond` instead of the in-memory API. */
  respondOnce(method: string, path: string, respond: Responder): void {
    this.overrides.push({ method, path, respond });
  }

  /** Requests of one method to one path. */
  calls(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  readonly fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(
      typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
      'http://localhost',
    );
    const request: RecordedRequest = {
      method: (init.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      search: url.searchParams,
      headers: new Headers(init.headers),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    this.requests.push(request);
    const index = this.overrides.findIndex((o) => o.method === request.method && o.path === request.path);
    if (index !== -1) {
      const [override] = this.overrides.splice(index, 1);
      if (override) return override.respond(request);
    }
    return this.handle(request);
  };

  /** The orders matching a list or counts query, newest first. */
  private matching(search: URLSearchParams): Order[] {
    const statuses = search.getAll('status') as OrderStatus[];
    const customer = search.get('customer')?.toLowerCase();
    return [...this.orders.values()]
      .filter((o) => statuses.length === 0 || statuses.includes(o.status))
      .filter((o) => !customer || o.customer_name.toLowerCase().includes(customer))
      .sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at) || b.id - a.id);
  }

  /**
   * One page of the list as the real API would answer it now: `limit` orders after `cursor` (keyset on updated_at and
   * id, here spelled `<updated_at>|<id>`), and the cursor of the next page when more follow.
   */
  listBody(search = new URLSearchParams()) {
    const limit = Number(search.get('limit') ?? '100');
    const cursor = search.get('cursor');
    let orders = this.matching(search);
    if (cursor) {
      const [at = '', id = '0'] = cursor.split('|');
      const afterMs = Date.parse(at);
      orders = orders.filter((o) => {
        const ms = Date.parse(o.updated_at);
        return ms < afterMs || (ms === afterMs && o.id < Number(id));
      });
    }
    const page = orders.slice(0, limit);
    const last = page.at(-1);
    const more = orders.length > limit && last !== undefined;
    return { orders: page, position: this.position, next_cursor: more ? `${last.updated_at}|${last.id}` : null };
  }

  /** The counts as the real API would answer them now. */
  countsBody(search = new URLSearchParams()) {
    const byStatus = { pending: 0, shipped: 0, delivered: 0 };
    for (const order of this.matching(search)) byStatus[order.status]++;
    const total = byStatus.pending + byStatus.shipped + byStatus.delivered;
    return { total, by_status: byStatus, position: this.position };
  }

  private stamp(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  private handle(request: RecordedRequest): Response {
    const match = /^\/orders\/(\d+)$/.exec(request.path);
    const id = match ? Number(match[1]) : undefined;
    if (request.path === '/orders' && request.method === 'GET') return json(200, this.listBody(request.search));
    if (request.path === '/orders/counts' && request.method === 'GET') {
      return json(200, this.countsBody(request.search));
    }
    if (request.path === '/orders' && request.method === 'POST') {
      const body = request.body as CreateOrderBody;
      if (this.orders.has(body.id)) return apiError(409, ErrorCode.OrderExists, `Order ${body.id} already exists`);
      const now = this.stamp();
      const order: Order = { ...body, status: body.status ?? 'pending', created_at: now, updated_at: now, version: 1 };
      this.orders.set(order.id, order);
      return json(201, order);
    }
    if (id === undefined) return apiError(404, ErrorCode.RouteNotFound, 'No such route');
    const existing = this.orders.get(id);
    if (!existing) return apiError(404, ErrorCode.OrderNotFound, `Order ${id} not found`);
    if (request.method === 'GET') return json(200, existing);
    if (request.method === 'DELETE') {
      this.orders.delete(id);
      return json(204, null);
    }
    if (request.method === 'PUT') {
      const ifMatch = request.headers.get('if-match');
      if (ifMatch && ifMatch !== `"${existing.version}"`) {
        return apiError(412, ErrorCode.VersionMismatch, `Order ${id} has changed`);
      }
      const updated: Order = {
        ...existing,
        ...(request.body as Partial<Order>),
        updated_at: this.stamp(),
        version: existing.version + 1,
      };
      this.orders.set(id, updated);
      return json(200, updated);
    }
    return apiError(404, ErrorCode.RouteNotFound, 'No such route');
  }
}
