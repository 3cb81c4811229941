import type { OrderEvent } from '@orders/contracts';
import { describe, expect, it } from 'vitest';
import { createActivityStore } from './activity.js';

const order = (id: number, status: 'pending' | 'shipped' = 'pending') => ({
  id,
  customer_name: `C${id}`,
  product_name: 'P',
  status,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  version: 1,
});

describe('activity store', () => {
  it('lists changes newest first and counts them per second', () => {
    const store = createActivityStore();
    store.record([{ type: 'order.created', order: order(1), position: 'a' }], 10_000);
    store.record(
      [
        { type: 'order.updated', order: order(1, 'shipped'), position: 'b' },
        { type: 'order.deleted', id: 2, position: 'c' },
      ],
      10_500,
    );
    store.record([{ type: 'order.left', id: 3, position: 'd' }], 12_000);
    const { entries, perSecond } = store.getSnapshot();
    expect(entries.map((e) => [e.kind, e.orderId])).toEqual([
      ['left', 3],
      ['deleted', 2],
      ['updated', 1],
      ['created', 1],
    ]);
    expect([...perSecond.entries()]).toEqual([
      [10, 3],
      [12, 1],
    ]);
  });

  it('does not list a replayed event twice (same position) and does not notify for it', () => {
    const store = createActivityStore();
    const event: OrderEvent = { type: 'order.created', order: order(1), position: 'a' };
    let notified = 0;
    const unsubscribe = store.subscribe(() => notified++);
    store.record([event], 1000);
    store.record([event], 2000);
    unsubscribe();
    store.record([{ type: 'order.deleted', id: 1, position: 'b' }], 3000);
    expect(store.getSnapshot().entries).toHaveLength(2);
    expect(notified).toBe(1);
  });

  it('forgets seconds that fell out of the chart window', () => {
    const store = createActivityStore();
    store.record([{ type: 'order.deleted', id: 1, position: 'a' }], 0);
    store.record([{ type: 'order.deleted', id: 2, position: 'b' }], 500_000);
    expect([...store.getSnapshot().perSecond.keys()]).toEqual([500]);
  });
});
