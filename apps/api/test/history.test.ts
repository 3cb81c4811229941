import { describe, expect, it, vi } from 'vitest';
import type { HistoryEntry, OrderHistoryResponse } from '@orders/contracts';
import { HISTORY_COLLECTION, type HistoryDocument } from '../src/history/entry.js';
import { createHistoryRepository } from '../src/history/store.js';
import { useApi } from './support/api.js';
import { json } from './support/app.js';

const api = useApi();

async function historyOf(id: number, query = ''): Promise<OrderHistoryResponse> {
  const response = await api.app.inject({ method: 'GET', url: `/orders/${String(id)}/history${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body) as OrderHistoryResponse;
}

/** Waits until the order's history holds `count` entries, and answers them newest first. */
async function entriesOf(id: number, count: number): Promise<HistoryEntry[]> {
  return vi.waitFor(
    async () => {
      const { entries } = await historyOf(id, '?limit=500');
      expect(entries).toHaveLength(count);
      return entries;
    },
    { timeout: 10_000, interval: 50 },
  );
}

describe('order history', () => {
  it('records a create, an update and a delete through the API, newest first, the deleted order included', async () => {
    expect((await api.post({ id: 701, customer_name: 'Ann', product_name: 'Mug' })).statusCode).toBe(201);
    expect((await api.put(701, { status: 'shipped', product_name: 'Big mug' })).statusCode).toBe(200);
    expect((await api.app.inject({ method: 'DELETE', url: '/orders/701' })).statusCode).toBe(204);

    const [deleted, updated, created] = await entriesOf(701, 3);
    expect(created).toMatchObject({
      order_id: 701,
      operation: 'created',
      // API writes name their author (the token's name); see "records writes from other clients" for the rest.
      actor: 'test-admin',
      order: { id: 701, customer_name: 'Ann', product_name: 'Mug', status: 'pending', version: 1 },
    });
    expect(created?.changes).toEqual([
      { field: 'created_at', before: null, after: created?.order?.created_at },
      { field: 'customer_name', before: null, after: 'Ann' },
      { field: 'product_name', before: null, after: 'Mug' },
      { field: 'status', before: null, after: 'pending' },
    ]);
    expect(updated).toMatchObject({
      operation: 'updated',
      actor: 'test-admin',
      order: { status: 'shipped', version: 2 },
    });
    expect(updated?.changes).toEqual([
      { field: 'product_name', before: 'Mug', after: 'Big mug' },
      { field: 'status', before: 'pending', after: 'shipped' },
    ]);
    expect(deleted).toMatchObject({ operation: 'deleted', order: null });
    expect(deleted?.changes.map((change) => [change.field, change.before, change.after])).toEqual([
      ['created_at', created?.order?.created_at, null],
      ['customer_name', 'Ann', null],
      ['product_name', 'Big mug', null],
      ['status', 'shipped', null],
    ]);
    // Commit times are the database's, in commit order.
    const times = [created, updated, deleted].map((entry) => Date.parse(entry?.committed_at ?? ''));
    expect(times.every((time) => Number.isFinite(time))).toBe(true);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('records writes from other clients, with the actor they stamp or "external"', async () => {
    const now = new Date();
    await api.foreignOrders().insertOne({
      _id: 702,
      customer_name: 'Cy',
      product_name: 'Pen',
      status: 'pending',
      created_at: now,
      updated_at: now,
      version: 1,
      // Another writer names its actor the way the API does: with the version that actor wrote.
      updated_by: 'alice',
      updated_by_version: 1,
    });
    await api.orders().updateOne({ _id: 702 }, { $set: { status: 'delivered' }, $unset: { updated_by: '' } });
    const [second, first] = await entriesOf(702, 2);
    expect(first).toMatchObject({ operation: 'created', actor: 'alice' });
    expect(second).toMatchObject({ operation: 'updated', actor: 'external' });
    expect(second?.changes).toEqual([{ field: 'status', before: 'pending', after: 'delivered' }]);
  });

  it('stores each change once, keyed by its position', async () => {
    await api.post({ id: 703, customer_name: 'Di', product_name: 'Cap' });
    for (const status of ['shipped', 'delivered', 'pending'] as const) await api.put(703, { status });
    const entries = await entriesOf(703, 4);
    const stored = await api.app.mongo.db
      .collection<HistoryDocument>(HISTORY_COLLECTION)
      .find({ order_id: 703 })
      .toArray();
    expect(stored.map((document) => document._id).sort()).toEqual(entries.map((entry) => entry.position).sort());
    expect(entries.map((entry) => entry.order?.version)).toEqual([4, 3, 2, 1]);
  });

  it('stores an entry recorded again (another process, or after a restart) once, keeping the first', async () => {
    const collection = api.app.mongo.db.collection<HistoryDocument>(HISTORY_COLLECTION);
    const history = createHistoryRepository(collection);
    const entry = (position: string, actor: string): HistoryDocument => ({
      _id: position,
      order_id: 9001,
      operation: 'created',
      committed_at: new Date('2026-12-01T00:00:00.000Z'),
      actor,
      changes: [],
      order: null,
    });
    await history.insertMissing([entry('F0000001', 'first')]);
    await history.insertMissing([entry('F0000001', 'again'), entry('F0000002', 'first')]);
    await Promise.all([
      history.insertMissing([entry('F0000002', 'again'), entry('F0000003', 'first')]),
      history.insertMissing([entry('F0000003', 'first')]),
    ]);
    const stored = await collection.find({ order_id: 9001 }).sort({ _id: 1 }).toArray();
    expect(stored.map((document) => [document._id, document.actor])).toEqual([
      ['F0000001', 'first'],
      ['F0000002', 'first'],
      ['F0000003', 'first'],
    ]);
  });

  it('pages newest first with a cursor, without gaps or repeats', async () => {
    await api.post({ id: 704, customer_name: 'Ed', product_name: 'Hat' });
    for (let step = 0; step < 6; step++) {
      await api.put(704, { product_name: `Hat ${String(step)}` });
    }
    const all = await entriesOf(704, 7);
    const seen: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const body: OrderHistoryResponse = await historyOf(704, `?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`);
      seen.push(...body.entries.map((entry) => entry.order?.version ?? 0));
      cursor = body.next_cursor;
      if (cursor === null) break;
    }
    expect(seen).toEqual(all.map((entry) => entry.order?.version ?? 0));
    expect(seen).toEqual([7, 6, 5, 4, 3, 2, 1]);
  });

  it('answers an empty history for an order that never existed', async () => {
    expect(await historyOf(99_999)).toEqual({ entries: [], next_cursor: null });
  });

  it.each([
    ['/orders/abc/history', 'params/id'],
    ['/orders/0/history', 'params/id'],
    ['/orders/1/history?limit=0', 'querystring/limit'],
    ['/orders/1/history?limit=501', 'querystring/limit'],
    ['/orders/1/history?limit=x', 'querystring/limit'],
    ['/orders/1/history?cursor=not-ours', 'querystring/cursor'],
    ['/orders/1/history?cursor=%24%24', 'querystring/cursor'],
    ['/orders/1/history?other=1', 'querystring'],
  ])('refuses %s with 400 naming %s', async (url, field) => {
    const response = await api.app.inject({ method: 'GET', url });
    expect(response.statusCode).toBe(400);
    expect(String(json(response).field)).toContain(field);
  });
});
