import { created, deleted, left, makeOrder, updated } from '@orders/client/testing';
import { describe, expect, it } from 'vitest';
import { createOwnWrites } from '../orders/ownWrites.js';
import { createActivityStore } from './activity.js';

describe('activity store', () => {
  it('lists changes newest first and counts them per second', () => {
    const store = createActivityStore();
    store.record([created(makeOrder(1, 0), 'a')], 10_000);
    store.record([updated(makeOrder(1, 0, { status: 'shipped' }), 'b'), deleted(2, 'c')], 10_500);
    store.record([left(3, 'd')], 12_000);
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
    const event = created(makeOrder(1, 0), 'a');
    let notified = 0;
    const unsubscribe = store.subscribe(() => notified++);
    store.record([event], 1000);
    store.record([event], 2000);
    unsubscribe();
    store.record([deleted(1, 'b')], 3000);
    expect(store.getSnapshot().entries).toHaveLength(2);
    expect(notified).toBe(1);
  });

  it('forgets seconds that fell out of the chart window', () => {
    const store = createActivityStore();
    store.record([deleted(1, 'a')], 0);
    store.record([deleted(2, 'b')], 500_000);
    expect([...store.getSnapshot().perSecond.keys()]).toEqual([500]);
  });

  it('counts the changes this page made apart from the ones made elsewhere', () => {
    const own = createOwnWrites();
    const store = createActivityStore(own);
    own.note({ id: 1, version: 1 }, 1000);
    own.note({ id: 2, deleted: true }, 1000);
    own.note({ id: 3, version: 6 }, 1000);
    store.record(
      [
        created(makeOrder(1, 0), 'a'),
        deleted(2, 'b'),
        updated(makeOrder(3, 0, { version: 6 }), 'c'),
        // Someone else's: another order, and a later version of one this page wrote.
        updated(makeOrder(4, 0, { version: 2 }), 'd'),
        updated(makeOrder(3, 0, { version: 7 }), 'e'),
        left(3, 'f'),
      ],
      1500,
    );
    const { totals, remoteTotals, entries } = store.getSnapshot();
    expect(totals).toEqual({ created: 1, updated: 3, deleted: 1, left: 1 });
    // The order left the filter after this page's write to it, which may be what moved it out.
    expect(remoteTotals).toEqual({ created: 0, updated: 2, deleted: 0, left: 0 });
    expect(entries.filter((entry) => entry.own).map((entry) => entry.seq)).toEqual([6, 3, 2, 1]);
  });
});
