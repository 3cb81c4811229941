import { orderTime } from '@orders/client/testing';
import type {
  ApiToken,
  CreatedToken,
  CreateTokenBody,
  CreateUserBody,
  CreateOrderBody,
  LoginBody,
  Me,
  Order,
  OrderStatus,
  UpdateUserBody,
  User,
} from '@orders/contracts';
import { ErrorCode, ORDER_SORTS, matchesOrderFilter, orderInScope, roleAllows } from '@orders/contracts';
import { comparatorFor, type ListFilter } from '../features/orders/cache.js';

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
/** The sort a list query asks for, as a list filter (absent: by last update). */
function sortFilterOf(search: URLSearchParams): ListFilter {
  const sort = ORDER_SORTS.find((candidate) => candidate === search.get('sort'));
  return sort === undefined ? {} : { sort };
}

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
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    409: 'Conflict',
    412: 'Precondition Failed',
    429: 'Too Many Requests',
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

/** The signed-in principal the fake API starts with: an unscoped admin, so every control shows. */
export const ADMIN: Me = { username: 'admin', kind: 'user', role: 'admin', scope: null };

/** A user record of the fake API, with the password it accepts. */
export function makeUser(id: number, username: string, overrides: Partial<User> = {}): User {
  const stamp = orderTime(0);
  return {
    id: id.toString(16).padStart(24, '0'),
    username,
    role: 'viewer',
    scope: null,
    disabled: false,
    created_at: stamp,
    updated_at: stamp,
    ...overrides,
  };
}

/**
 * An in-memory stand-in for the API behind `fetch`: the list (filtered, newest first, with a position), reads, and
 * writes with the API's refusals. `respondOnce` overrides the next matching request (a refusal, a held response).
 */
export class FakeApi {
  readonly orders = new Map<number, Order>();
  readonly requests: RecordedRequest[] = [];
  /** Who the session cookie belongs to; `null`: no valid session (every order route answers 401). */
  session: Me | null = ADMIN;
  /** Users by id, with the password each accepts at `POST /auth/login`. */
  readonly users = new Map<string, { user: User; password: string }>();
  readonly tokens = new Map<string, ApiToken>();
  private nextId = 0x100;
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

  /** The orders matching a list or counts query, newest first, as the signed-in principal may see them (its scope). */
  private matching(search: URLSearchParams): Order[] {
    const statuses = search.getAll('status') as OrderStatus[];
    const customer = search.get('customer')?.toLowerCase();
    const q = search.get('q');
    return [...this.orders.values()]
      .filter((o) => statuses.length === 0 || statuses.includes(o.status))
      .filter((o) => !customer || o.customer_name.toLowerCase().includes(customer))
      .filter((o) => q === null || matchesOrderFilter(o, { q }))
      .filter((o) => orderInScope(o, this.session?.scope ?? null))
      .sort(comparatorFor(sortFilterOf(search)));
  }

  /**
   * One page of the list as the real API would answer it now: `limit` orders after `cursor` (keyset on the sort's key
   * and id, here spelled `<updated_at>|<created_at>|<id>`), and the cursor of the next page when more follow.
   */
  listBody(search = new URLSearchParams()) {
    const limit = Number(search.get('limit') ?? '100');
    const cursor = search.get('cursor');
    let orders = this.matching(search);
    if (cursor) {
      const [updated_at = '', created_at = '', id = '0'] = cursor.split('|');
      const compare = comparatorFor(sortFilterOf(search));
      const last = { ...orders[0]!, id: Number(id), updated_at, created_at };
      orders = orders.filter((o) => compare(o, last) > 0);
    }
    const page = orders.slice(0, limit);
    const last = page.at(-1);
    const more = orders.length > limit && last !== undefined;
    return {
      orders: page,
      position: this.position,
      next_cursor: more ? `${last.updated_at}|${last.created_at}|${last.id}` : null,
    };
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

  /** Adds a user who can sign in with `password`. */
  addUser(user: User, password: string): void {
    this.users.set(user.id, { user, password });
  }

  private newId(): string {
    this.nextId++;
    return this.nextId.toString(16).padStart(24, '0');
  }

  private handleAuth(request: RecordedRequest): Response {
    const { method, path } = request;
    if (path === '/auth/login' && method === 'POST') {
      const body = request.body as LoginBody;
      const entry = [...this.users.values()].find((e) => e.user.username === body.username);
      if (!entry || entry.password !== body.password || entry.user.disabled) {
        return apiError(401, ErrorCode.InvalidCredentials, 'Wrong username or password');
      }
      this.session = { username: entry.user.username, kind: 'user', role: entry.user.role, scope: entry.user.scope };
      return json(200, this.session);
    }
    if (path === '/auth/logout' && method === 'POST') {
      this.session = null;
      return json(204, null);
    }
    if (!this.session) return apiError(401, ErrorCode.Unauthenticated, 'Sign in first');
    if (path === '/auth/me' && method === 'GET') return json(200, this.session);
    if (this.session.role !== 'admin') return apiError(403, ErrorCode.Forbidden, 'Admins only');
    if (path === '/auth/users' && method === 'GET') {
      return json(200, { users: [...this.users.values()].map((e) => e.user) });
    }
    if (path === '/auth/users' && method === 'POST') {
      const body = request.body as CreateUserBody;
      if ([...this.users.values()].some((e) => e.user.username === body.username)) {
        return apiError(409, ErrorCode.UserExists, `User ${body.username} already exists`);
      }
      const stamp = this.stamp();
      const user: User = {
        id: this.newId(),
        username: body.username,
        role: body.role,
        scope: body.scope ?? null,
        disabled: false,
        created_at: stamp,
        updated_at: stamp,
      };
      this.users.set(user.id, { user, password: body.password });
      return json(201, user);
    }
    const userMatch = /^\/auth\/users\/([0-9a-f]{24})$/.exec(path);
    if (userMatch && method === 'PATCH') {
      const entry = this.users.get(userMatch[1] ?? '');
      if (!entry) return apiError(404, ErrorCode.UserNotFound, 'No such user');
      const { password, ...changes } = request.body as UpdateUserBody;
      entry.user = { ...entry.user, ...changes, updated_at: this.stamp() };
      if (password !== undefined) entry.password = password;
      return json(200, entry.user);
    }
    if (path === '/auth/tokens' && method === 'GET') return json(200, { tokens: [...this.tokens.values()] });
    if (path === '/auth/tokens' && method === 'POST') {
      const body = request.body as CreateTokenBody;
      const token: ApiToken = {
        id: this.newId(),
        name: body.name,
        role: body.role,
        scope: body.scope ?? null,
        expires_at: new Date(this.clock + (body.expires_in_days ?? 90) * 86_400_000).toISOString(),
        created_at: this.stamp(),
        created_by: this.session.username,
        last_used_at: null,
      };
      this.tokens.set(token.id, token);
      const created: CreatedToken = { ...token, token: `ord_secret_${token.id}` };
      return json(201, created);
    }
    const tokenMatch = /^\/auth\/tokens\/([0-9a-f]{24})$/.exec(path);
    if (tokenMatch && method === 'DELETE') {
      if (!this.tokens.delete(tokenMatch[1] ?? '')) return apiError(404, ErrorCode.TokenNotFound, 'No such token');
      return json(204, null);
    }
    return apiError(404, 'NOT_FOUND', 'No such route');
  }

  private handle(request: RecordedRequest): Response {
    if (request.path.startsWith('/auth/')) return this.handleAuth(request);
    if (!this.session) return apiError(401, ErrorCode.Unauthenticated, 'Sign in first');
    const needed = request.method === 'DELETE' ? 'admin' : request.method === 'GET' ? 'viewer' : 'operator';
    if (!roleAllows(this.session.role, needed)) return apiError(403, ErrorCode.Forbidden, `Needs the ${needed} role`);
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
    const ifMatch = request.headers.get('if-match');
    if ((request.method === 'DELETE' || request.method === 'PUT') && ifMatch && ifMatch !== `"${existing.version}"`) {
      return apiError(412, ErrorCode.VersionMismatch, `Order ${id} has changed`);
    }
    if (request.method === 'DELETE') {
      this.orders.delete(id);
      return json(204, null);
    }
    if (request.method === 'PUT') {
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
