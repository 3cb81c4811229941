import { describe, expect, it, vi } from 'vitest';
import type { HistoryEntry, ListOrdersResponse, OrderHistoryResponse, OrderStatus } from '@orders/contracts';
import { useApi } from './support/api.js';
import { json } from './support/app.js';

const api = useApi({ env: { HISTORY_RETENTION_DAYS: '2' } });

/** A small deterministic generator (mulberry32), so a failing sequence can be replayed from its seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ModelOrder {
  id: number;
  customer_name: string;
  product_name: string;
  status: OrderStatus;
  version: number;
}
type Write =
  { kind: 'created'; order: ModelOrder } | { kind: 'updated'; order: ModelOrder } | { kind: 'deleted'; id: number };

const STATUSES: readonly OrderStatus[] = ['pending', 'shipped', 'delivered'];
const CUSTOMERS = ['Ann', 'Bob', 'Cyd', 'anna'];

/** Applies `writes` to an empty board: what the orders were after them. */
function replay(writes: readonly Write[]): Map<number, ModelOrder> {
  const board = new Map<number, ModelOrder>();
  for (const write of writes) {
    if (write.kind === 'deleted') board.delete(write.id);
    else board.set(write.order.id, write.order);
  }
  return board;
}

/** Every page of the board as of `asOf`, following next_cursor (bounded). */
async function boardAsOf(asOf: string, filter = ''): Promise<ListOrdersResponse['orders']> {
  const orders: ListOrdersResponse['orders'] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 50; page++) {
    const url: string = `/orders?limit=2&as_of=${encodeURIComponent(asOf)}${filter}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const response = await api.app.inject({ method: 'GET', url });
    expect(response.statusCode, response.body).toBe(200);
    const body = JSON.parse(response.body) as ListOrdersResponse;
    expect(body.position).toBeNull();
    orders.push(...body.orders);
    cursor = body.next_cursor;
    if (cursor === null) return orders;
  }
  throw new Error('more pages than the test allows');
}

function shape(order: ModelOrder | ListOrdersResponse['orders'][number]): ModelOrder {
  const { id, customer_name, product_name, status, version } = order;
  return { id, customer_name, product_name, status, version };
}

describe('GET /orders?as_of', () => {
  it('answers the board as a model replayed from a random sequence of writes says it was', async () => {
    const random = seeded(20261205);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const live = new Map<number, ModelOrder>();
    const writes: Write[] = [];
    for (let step = 0; step < 40; step++) {
      const id = 900 + Math.floor(random() * 6);
      const current = live.get(id);
      if (current === undefined) {
        const order = { id, customer_name: pick(CUSTOMERS), product_name: `P${String(step)}`, status: pick(STATUSES) };
        expect((await api.post(order)).statusCode).toBe(201);
        const created = { ...order, version: 1 };
        live.set(id, created);
        writes.push({ kind: 'created', order: created });
      } else if (random() < 0.25) {
        const response = await api.app.inject({ method: 'DELETE', url: `/orders/${String(id)}` });
        expect(response.statusCode).toBe(204);
        live.delete(id);
        writes.push({ kind: 'deleted', id });
      } else {
        const changes =
          random() < 0.5
            ? { status: pick(STATUSES) }
            : { customer_name: pick(CUSTOMERS), product_name: `Q${String(step)}` };
        expect((await api.put(id, changes)).statusCode).toBe(200);
        const updated = { ...current, ...changes, version: current.version + 1 };
        live.set(id, updated);
        writes.push({ kind: 'updated', order: updated });
      }
    }

    // The history, in commit order, is the sequence of writes: one entry per write, in the order they were made.
    const ids = [...new Set(writes.map((write) => (write.kind === 'deleted' ? write.id : write.order.id)))];
    const entries = await vi.waitFor(
      async () => {
        const all: HistoryEntry[] = [];
        for (const id of ids) {
          const response = await api.app.inject({ method: 'GET', url: `/orders/${String(id)}/history?limit=500` });
          all.push(...(JSON.parse(response.body) as OrderHistoryResponse).entries);
        }
        expect(all).toHaveLength(writes.length);
        return all.sort((a, b) => (a.position < b.position ? -1 : 1));
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(entries.map((entry) => [entry.operation, entry.order_id])).toEqual(
      writes.map((write) => [write.kind, write.kind === 'deleted' ? write.id : write.order.id]),
    );

    // At each commit time, the board is the model after every write committed by then.
    for (const entry of entries) {
      const asOf = entry.committed_at;
      const expected = replay(writes.filter((_, index) => entries[index]!.committed_at <= asOf));
      const board = await boardAsOf(asOf);
      expect(board.map(shape).sort((a, b) => a.id - b.id)).toEqual([...expected.values()].sort((a, b) => a.id - b.id));
      // Paged like the live list: newest change first, no order twice.
      const stamps = board.map((order) => `${order.updated_at}|${String(order.id).padStart(6, '0')}`);
      expect([...stamps].sort().reverse()).toEqual(stamps);
    }

    // Filters apply to the past board as they do to the live one.
    const lastTime = entries.at(-1)!.committed_at;
    const final = [...replay(writes).values()];
    const shipped = await boardAsOf(lastTime, '&status=shipped&status=delivered');
    expect(shipped.map((order) => order.id).sort()).toEqual(
      final
        .filter((order) => order.status !== 'pending')
        .map((order) => order.id)
        .sort(),
    );
    const annas = await boardAsOf(lastTime, '&customer=ANN');
    expect(annas.map((order) => order.id).sort()).toEqual(
      final
        .filter((order) => order.customer_name.toLowerCase().includes('ann'))
        .map((order) => order.id)
        .sort(),
    );
    // Before the first write the board was empty.
    const before = new Date(Date.parse(entries[0]!.committed_at) - 1).toISOString();
    expect(await boardAsOf(before)).toEqual([]);
  });

  it.each([
    ['in the future', () => new Date(Date.now() + 60_000).toISOString(), 'AS_OF_OUT_OF_RANGE'],
    ['older than the retention', () => new Date(Date.now() - 3 * 86_400_000).toISOString(), 'AS_OF_OUT_OF_RANGE'],
    ['not a date', () => 'yesterday', 'VALIDATION_FAILED'],
    ['a date without a time', () => '2026-12-01', 'VALIDATION_FAILED'],
  ])('refuses an as_of %s with 400', async (_, asOf, code) => {
    const response = await api.app.inject({ method: 'GET', url: `/orders?as_of=${encodeURIComponent(asOf())}` });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ code, field: 'querystring/as_of' });
  });
});
