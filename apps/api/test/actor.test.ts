import { describe, expect, it, vi } from 'vitest';
import type { HistoryEntry, Order, OrderHistoryResponse } from '@orders/contracts';
import { createOrdersRepository } from '../src/orders/repository.js';
import { useApi } from './support/api.js';

const api = useApi({ listen: true });

/** The order a JSON answer carries. */
function orderOf(response: { body: string }): Order {
  return JSON.parse(response.body) as Order;
}

async function readOrder(id: number): Promise<Order> {
  const response = await api.app.inject({ method: 'GET', url: `/orders/${String(id)}` });
  expect(response.statusCode, response.body).toBe(200);
  return orderOf(response);
}

/** The order's history, newest first, once it holds `count` entries. */
async function historyOf(id: number, count: number): Promise<HistoryEntry[]> {
  return vi.waitFor(
    async () => {
      const response = await api.app.inject({ method: 'GET', url: `/orders/${String(id)}/history` });
      const { entries } = JSON.parse(response.body) as OrderHistoryResponse;
      expect(entries).toHaveLength(count);
      return entries;
    },
    { timeout: 10_000, interval: 50 },
  );
}

describe('who wrote an order (updated_by)', () => {
  it('names the API writer on REST, on the socket and in the history', async () => {
    const client = await api.subscribe();
    expect(orderOf(await api.post({ id: 801, customer_name: 'Ann', product_name: 'Mug' })).updated_by).toBe(
      'test-admin',
    );
    expect(orderOf(await api.put(801, { status: 'shipped' })).updated_by).toBe('test-admin');
    await client.waitForEvents(2);
    expect(client.events().map((event) => ('order' in event ? event.order.updated_by : null))).toEqual([
      'test-admin',
      'test-admin',
    ]);
    expect((await readOrder(801)).updated_by).toBe('test-admin');
    expect((await historyOf(801, 2)).map((entry) => entry.actor)).toEqual(['test-admin', 'test-admin']);
  });

  it('stops naming the API writer once another client writes the next version', async () => {
    expect((await api.post({ id: 802, customer_name: 'Bo', product_name: 'Pen' })).statusCode).toBe(201);
    const client = await api.subscribe();
    // A script moves the order on the way the README asks other writers to: a new version, no actor of its own.
    await api.orders().updateOne({ _id: 802 }, { $set: { status: 'delivered' }, $inc: { version: 1 } });

    await client.waitForEvents(1);
    const [event] = client.events();
    expect(event).toMatchObject({ type: 'order.updated', order: { id: 802, version: 2, status: 'delivered' } });
    expect(event !== undefined && 'order' in event ? event.order : null).not.toHaveProperty('updated_by');
    expect(await readOrder(802)).not.toHaveProperty('updated_by');
    const [foreign, created] = await historyOf(802, 2);
    expect(created?.actor).toBe('test-admin');
    expect(foreign?.actor).toBe('external');
  });

  it('records a foreign write that leaves the version alone as external, though the stamp is still there', async () => {
    expect((await api.post({ id: 803, customer_name: 'Cy', product_name: 'Cap' })).statusCode).toBe(201);
    await api.foreignOrders().updateOne({ _id: 803 }, { $set: { product_name: 'Hat' } });
    const [foreign] = await historyOf(803, 2);
    expect(foreign).toMatchObject({
      actor: 'external',
      changes: [{ field: 'product_name', before: 'Cap', after: 'Hat' }],
    });
  });

  it('names the API writer again after its next write', async () => {
    expect((await api.post({ id: 804, customer_name: 'Di', product_name: 'Cup' })).statusCode).toBe(201);
    await api.orders().updateOne({ _id: 804 }, { $set: { status: 'shipped' }, $inc: { version: 1 } });
    expect(await readOrder(804)).not.toHaveProperty('updated_by');
    const response = await api.put(804, { status: 'delivered' }, { 'if-match': '"2"' });
    expect(response.statusCode, response.body).toBe(200);
    expect(orderOf(response)).toMatchObject({ version: 3, updated_by: 'test-admin' });
    expect(await api.orders().findOne({ _id: 804 })).toMatchObject({ version: 3, updated_by_version: 3 });
  });

  it('names the writer on an order whose stored version needed repair', async () => {
    await api.foreignOrders().insertOne({ _id: 805, customer_name: 'Ed', product_name: 'Box', status: 'pending' });
    const response = await api.put(805, { status: 'shipped' });
    expect(response.statusCode, response.body).toBe(200);
    expect(orderOf(response)).toMatchObject({ version: 2, updated_by: 'test-admin' });
    expect(await readOrder(805)).toMatchObject({ version: 2, updated_by: 'test-admin' });
  });

  it('shows an actor another client stamps only with the version it names', async () => {
    const now = new Date();
    const base = { customer_name: 'Fay', product_name: 'Jar', status: 'pending', created_at: now, updated_at: now };
    await api.foreignOrders().insertMany([
      { _id: 806, ...base, version: 4, updated_by: 'import-job', updated_by_version: 4 },
      { _id: 807, ...base, version: 4, updated_by: 'import-job', updated_by_version: 3 },
      { _id: 808, ...base, version: 4, updated_by: 'import-job' },
      { _id: 809, ...base, version: 4, updated_by: 'import-job', updated_by_version: '4' },
    ]);
    expect((await readOrder(806)).updated_by).toBe('import-job');
    for (const id of [807, 808, 809]) expect(await readOrder(id)).not.toHaveProperty('updated_by');
  });

  it('stores names that look like operators or field paths as text', async () => {
    expect((await api.post({ id: 810, customer_name: 'Gus', product_name: 'Ink' })).statusCode).toBe(201);
    const response = await api.put(810, { customer_name: '$status', product_name: '$$ROOT' });
    expect(response.statusCode, response.body).toBe(200);
    expect(await readOrder(810)).toMatchObject({ customer_name: '$status', product_name: '$$ROOT', version: 2 });
  });

  it('removes an earlier actor when a write names none', async () => {
    expect((await api.post({ id: 811, customer_name: 'Hal', product_name: 'Key' })).statusCode).toBe(201);
    const repository = createOrdersRepository(api.orders());
    const result = await repository.update(811, { status: 'shipped' });
    expect(result.status).toBe('updated');
    const stored = await api.orders().findOne({ _id: 811 });
    expect(stored).toMatchObject({ status: 'shipped', version: 2 });
    expect(stored).not.toHaveProperty('updated_by');
    expect(stored).not.toHaveProperty('updated_by_version');
  });
});
