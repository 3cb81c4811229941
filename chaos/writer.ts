import { randomUUID } from 'node:crypto';
import type { Collection } from 'mongodb';
import { backoffDelay, ErrorCode, ORDER_STATUSES, type OrderStatus } from '@orders/contracts';
import type { OrderDocument } from '../apps/api/src/orders/order-document.js';
import { authHeaders } from './auth.js';
import type { Endpoint } from './client.js';
import { sleep, type Random } from './random.js';

/*
 * The writer: several lanes, each a sequential loop over its own ids (lane k owns ids ≡ k mod lanes, never
 * reused after a delete, so an (id, version) names one change). Each write goes either over HTTP to a random live
 * API process (POST with an Idempotency-Key, retried with the same key and body; PUT; DELETE) or directly through
 * the driver (which also bumps `version`, as the API does). A write whose outcome is unknown (the process died,
 * a 5xx) is retried a bounded number of times; the database, not the writer, is the truth the run checks against.
 */

export interface WriterStats {
  http: Record<string, number>;
  driver: Record<string, number>;
  /** HTTP answers by status (network failures as "network"). */
  statuses: Record<string, number>;
  retries: number;
  /** Writes given up after every retry failed. */
  abandoned: number;
  /** POST retries answered from the idempotency store (header idempotent-replayed). */
  idempotentReplays: number;
}

/** An order as the orders collection holds it: the API's stored shape, which the direct writes follow too. */
export type StoredOrder = OrderDocument;

export interface WriterOptions {
  lanes: number;
  /** Pause between two writes of a lane (ms). */
  pauseMs: number;
  endpoints: () => Endpoint[];
  orders: Collection<StoredOrder>;
  random: Random;
}

const REQUEST_TIMEOUT_MS = 5_000;
const MAX_ATTEMPTS = 8;
/** Retries wait 100 ms, 200 ms, … up to 1 s on average (full jitter, so the lanes do not retry together). */
const RETRY_BACKOFF = { baseMs: 200, capMs: 2_000 };
const CUSTOMERS = ['Ada', 'Bob', 'Cleo', 'Dev', 'Eve', 'Finn', 'Gus', 'Hana'];
const PRODUCTS = ['Lamp', 'Desk', 'Chair', 'Mug', 'Pen', 'Bike', 'Kite'];

export class Writer {
  readonly stats: WriterStats = { http: {}, driver: {}, statuses: {}, retries: 0, abandoned: 0, idempotentReplays: 0 };
  private readonly stopping = new AbortController();
  private lanes: Promise<void>[] = [];

  constructor(private readonly options: WriterOptions) {}

  start(): void {
    for (let lane = 0; lane < this.options.lanes; lane++) this.lanes.push(this.runLane(lane));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.lanes);
  }

  private async runLane(lane: number): Promise<void> {
    const { lanes, random, pauseMs } = this.options;
    const signal = this.stopping.signal;
    const live: number[] = [];
    let nextId = lane + 1;
    while (!signal.aborted) {
      const kind = live.length < 3 ? 'create' : random.weighted({ create: 30, update: 55, delete: 15 } as const);
      const viaHttp = random.chance(0.7);
      try {
        if (kind === 'create') {
          const id = nextId;
          nextId += lanes;
          if (await this.create(id, viaHttp)) live.push(id);
        } else {
          const index = random.int(0, live.length - 1);
          const id = live[index];
          if (id === undefined) continue;
          if (kind === 'update') {
            const exists = await this.update(id, viaHttp);
            if (!exists) live.splice(index, 1);
          } else {
            await this.remove(id, viaHttp);
            live.splice(index, 1);
          }
        }
      } catch (err) {
        this.stats.abandoned += 1;
        if (this.stats.abandoned % 20 === 1) process.stderr.write(`[writer] ${(err as Error).message}\n`);
      }
      await sleep(pauseMs / 2 + random.next() * pauseMs, signal);
    }
  }

  private count(via: 'http' | 'driver', kind: string): void {
    const bucket = via === 'http' ? this.stats.http : this.stats.driver;
    bucket[kind] = (bucket[kind] ?? 0) + 1;
  }

  /** Creates order `id`; false when it could not be created. */
  private async create(id: number, viaHttp: boolean): Promise<boolean> {
    const { random } = this.options;
    const status: OrderStatus = 'pending';
    const body = { id, customer_name: random.pick(CUSTOMERS), product_name: random.pick(PRODUCTS), status };
    if (viaHttp) {
      const key = randomUUID();
      const answer = await this.http('POST', '/orders', body, { 'idempotency-key': key }, [201, 409]);
      this.count('http', 'create');
      return answer === 201 || answer === 409;
    }
    const now = new Date();
    await this.driverWrite(() =>
      this.options.orders.insertOne({
        _id: id,
        ...omitId(body),
        created_at: now,
        updated_at: now,
        version: 1,
      }),
    );
    this.count('driver', 'create');
    return true;
  }

  /** Updates order `id`; false when it no longer exists. */
  private async update(id: number, viaHttp: boolean): Promise<boolean> {
    const { random } = this.options;
    const change = random.chance(0.5)
      ? { status: random.pick(ORDER_STATUSES) }
      : { product_name: `${random.pick(PRODUCTS)} ${random.int(1, 999)}` };
    if (viaHttp) {
      const status = await this.http('PUT', `/orders/${id}`, change, {}, [200, 404]);
      this.count('http', 'update');
      return status === 200;
    }
    if (random.chance(0.2)) {
      const current = await this.driverWrite(() => this.options.orders.findOne({ _id: id }));
      if (current === null) return false;
      const { _id: _ignored, ...rest } = current;
      await this.driverWrite(() =>
        this.options.orders.replaceOne(
          { _id: id },
          { ...rest, ...change, updated_at: new Date(), version: current.version + 1 },
        ),
      );
      this.count('driver', 'replace');
      return true;
    }
    const result = await this.driverWrite(() =>
      this.options.orders.updateOne({ _id: id }, { $set: { ...change, updated_at: new Date() }, $inc: { version: 1 } }),
    );
    this.count('driver', 'update');
    return result.matchedCount === 1;
  }

  private async remove(id: number, viaHttp: boolean): Promise<void> {
    if (viaHttp) {
      await this.http('DELETE', `/orders/${id}`, undefined, {}, [204, 404]);
      this.count('http', 'delete');
      return;
    }
    await this.driverWrite(() => this.options.orders.deleteOne({ _id: id }));
    this.count('driver', 'delete');
  }

  /** How long to wait before retry number `retry` (1-based). */
  private retryDelay(retry: number): number {
    return backoffDelay(retry, { ...RETRY_BACKOFF, random: () => this.options.random.next() });
  }

  /** Retries a driver write (bounded); the driver already retries once itself (retryable writes). */
  private async driverWrite<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || this.stopping.signal.aborted) throw err;
        this.stats.retries += 1;
        await sleep(this.retryDelay(attempt));
      }
    }
  }

  /**
   * One HTTP write, retried on network errors, 5xx and 409 IDEMPOTENCY_IN_FLIGHT (bounded), each attempt on a
   * random live process. Resolves with the final status when it is one of `accept`.
   */
  private async http(
    method: string,
    path: string,
    body: object | undefined,
    headers: Record<string, string>,
    accept: number[],
  ): Promise<number> {
    const { random, endpoints } = this.options;
    let last = 'none';
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempt > 1) {
        this.stats.retries += 1;
        await sleep(this.retryDelay(attempt - 1));
      }
      const all = endpoints();
      if (all.length === 0) continue;
      const endpoint = random.pick(all);
      let status: number;
      let code: string | null = null;
      try {
        const response = await fetch(`${endpoint.baseUrl}${path}`, {
          method,
          headers: {
            ...authHeaders(),
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...headers,
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        status = response.status;
        if (response.headers.get('idempotent-replayed') === 'true') this.stats.idempotentReplays += 1;
        const text = await response.text();
        if (status === 409) code = (JSON.parse(text) as { code?: string }).code ?? null;
      } catch {
        this.stats.statuses.network = (this.stats.statuses.network ?? 0) + 1;
        last = 'network';
        continue;
      }
      this.stats.statuses[status] = (this.stats.statuses[status] ?? 0) + 1;
      last = String(status);
      if (code === ErrorCode.IdempotencyInFlight) continue;
      if (accept.includes(status)) return status;
      if (status >= 500) continue;
      throw new Error(`${method} ${path} answered ${status}`);
    }
    throw new Error(`${method} ${path} failed ${MAX_ATTEMPTS} times (last: ${last})`);
  }
}

function omitId<T extends { id: number }>(body: T): Omit<T, 'id'> {
  const { id: _id, ...rest } = body;
  return rest;
}
