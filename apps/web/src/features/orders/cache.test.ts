import { created, deleted, left, makeOrder as order, orderTime as at, updated } from '@orders/client/testing';
import { matchesOrderFilter as matchesFilter } from '@orders/contracts';
import { describe, expect, it } from 'vitest';
import {
  applyEventsToCounts,
  applyOrderEvents,
  countByStatus,
  listFromPages,
  removeOrder,
  replaceIfUnchanged,
  upsertOrder,
  type OrderList,
} from './cache.js';

const ids = (list: OrderList) => list.orders.map((o) => o.id);

/** Three orders, newest first: 3 (t=30), 2 (t=20), 1 (t=10). */
function board(): OrderList {
  return { orders: [order(3, 30), order(2, 20), order(1, 10)], position: 'p0' };
}

describe('applyOrderEvents', () => {
  it('puts a created order at the top and advances the position', () => {
    const next = applyOrderEvents(board(), [created(order(4, 40))]);
    expect(ids(next)).toEqual([4, 3, 2, 1]);
    expect(next.position).toBe('p4.1');
  });

  it('updates an order in place of its old card and moves it to the top, once', () => {
    const next = applyOrderEvents(board(), [updated(order(1, 50, { version: 2, status: 'shipped' }))]);
    expect(ids(next)).toEqual([1, 3, 2]);
    expect(next.orders[0]).toMatchObject({ id: 1, status: 'shipped', version: 2 });
  });

  it('removes a deleted order', () => {
    expect(ids(applyOrderEvents(board(), [deleted(2)]))).toEqual([3, 1]);
  });

  it('removes an order that left the filter', () => {
    expect(ids(applyOrderEvents(board(), [left(3)]))).toEqual([2, 1]);
  });

  it('ignores a duplicate event (same version) and keeps the same list object', () => {
    const start = applyOrderEvents(board(), [updated(order(2, 60, { version: 2 }), 'pX')]);
    const again = applyOrderEvents(start, [updated(order(2, 60, { version: 2 }), 'pX')]);
    expect(again).toBe(start);
    expect(ids(again)).toEqual([2, 3, 1]);
  });

  it('ignores an older version arriving after a newer one (out of order)', () => {
    const list = applyOrderEvents(board(), [
      updated(order(1, 70, { version: 3, product_name: 'newest' })),
      updated(order(1, 60, { version: 2, product_name: 'older' })),
      created(order(1, 10, { version: 1 })),
    ]);
    expect(ids(list)).toEqual([1, 3, 2]);
    expect(list.orders[0]?.product_name).toBe('newest');
  });

  it('does not let a replay older than the snapshot move a card', () => {
    const snapshot: OrderList = {
      orders: [order(2, 90, { version: 5 }), order(1, 80, { version: 4 })],
      position: 'p9',
    };
    const replayed = applyOrderEvents(snapshot, [
      updated(order(1, 95, { version: 3 })),
      updated(order(2, 99, { version: 5 })),
    ]);
    expect(ids(replayed)).toEqual([2, 1]);
    expect(replayed.orders.map((o) => o.version)).toEqual([5, 4]);
  });

  it('applies a batch in commit order: delete then re-create shows the new order', () => {
    const next = applyOrderEvents(board(), [
      deleted(2),
      created(order(2, 80, { version: 1, customer_name: 'reborn' })),
    ]);
    expect(ids(next)).toEqual([2, 3, 1]);
    expect(next.orders[0]?.customer_name).toBe('reborn');
  });

  it('ignores a delete of an order it does not hold, but still records the position', () => {
    const start = board();
    const next = applyOrderEvents(start, [deleted(99, 'p-late')]);
    expect(next.orders).toBe(start.orders);
    expect(next.position).toBe('p-late');
  });

  it('drops an update that no longer matches the list filter, and ignores one that never did', () => {
    const filter = { status: ['pending' as const] };
    const next = applyOrderEvents(
      board(),
      [updated(order(3, 90, { version: 2, status: 'shipped' })), created(order(9, 91, { status: 'delivered' }))],
      filter,
    );
    expect(ids(next)).toEqual([2, 1]);
  });

  it('keeps newest-first order when many events land in one batch', () => {
    const events = [updated(order(1, 35, { version: 2 })), created(order(5, 25)), created(order(6, 45)), deleted(3)];
    expect(ids(applyOrderEvents(board(), events))).toEqual([6, 1, 5, 2]);
  });

  it('returns the same list for an empty batch', () => {
    const start = board();
    expect(applyOrderEvents(start, [])).toBe(start);
  });
});

describe('listFromPages', () => {
  it('merges pages newest first, keeps the first page position and the highest version of a duplicate', () => {
    const list = listFromPages([
      { orders: [order(3, 30), order(2, 20)], position: 'first', next_cursor: 'c1' },
      { orders: [order(3, 31, { version: 2 }), order(1, 10)], position: 'second', next_cursor: null },
    ]);
    expect(ids(list)).toEqual([3, 2, 1]);
    expect(list.orders[0]?.version).toBe(2);
    expect(list.position).toBe('first');
  });

  it('gives an empty list with a null position for no pages', () => {
    expect(listFromPages([])).toEqual({ orders: [], position: null });
  });
});

describe('upsertOrder / replaceIfUnchanged / removeOrder', () => {
  it('inserts a new order by updated_at and does not overwrite a newer cached one', () => {
    const withNew = upsertOrder(board(), order(7, 25));
    expect(ids(withNew)).toEqual([3, 7, 2, 1]);
    expect(upsertOrder(withNew, order(7, 99, { version: 0 }))).toBe(withNew);
  });

  it('rolls back only when the cache still holds our optimistic copy', () => {
    const original = order(2, 20, { product_name: 'product 2' });
    const start: OrderList = { orders: [order(3, 30), original], position: 'p' };
    const optimistic = { ...original, product_name: 'optimistic', updated_at: at(40) };
    const afterOptimistic = replaceIfUnchanged(start, original, optimistic);
    expect(ids(afterOptimistic)).toEqual([2, 3]);

    const rolledBack = replaceIfUnchanged(afterOptimistic, optimistic, original);
    expect(ids(rolledBack)).toEqual([3, 2]);
    expect(rolledBack.orders[1]?.product_name).toBe('product 2');

    const newerFromSocket = applyOrderEvents(afterOptimistic, [
      updated(order(2, 50, { version: 2, product_name: 'theirs' })),
    ]);
    expect(replaceIfUnchanged(newerFromSocket, optimistic, original)).toBe(newerFromSocket);
  });

  it('removes by id and leaves the list alone for an unknown id', () => {
    const start = board();
    expect(ids(removeOrder(start, 3))).toEqual([2, 1]);
    expect(removeOrder(start, 42)).toBe(start);
  });
});

describe('the filter rule (shared with the server) / countByStatus', () => {
  it('matches status and a case-insensitive customer substring', () => {
    const o = order(1, 0, { customer_name: 'Bobby Tables', status: 'shipped' });
    expect(matchesFilter(o, { customer: 'bob' })).toBe(true);
    expect(matchesFilter(o, { customer: 'alice' })).toBe(false);
    expect(matchesFilter(o, { status: ['pending', 'shipped'] })).toBe(true);
    expect(matchesFilter(o, { status: ['delivered'] })).toBe(false);
  });

  it('keeps in a filtered list what the server sends to that subscription, as the server decides it', () => {
    const empty: OrderList = { orders: [], position: 'p0' };
    const events = [
      created(order(1, 10, { customer_name: 'BOBBY', status: 'shipped' })),
      created(order(2, 20, { customer_name: 'Alice', status: 'shipped' })),
    ];
    expect(ids(applyOrderEvents(empty, events, { customer: 'bob' }))).toEqual([1]);
    // An empty status list is no status filter at all, on both sides.
    expect(ids(applyOrderEvents(empty, events, { status: [] }))).toEqual([2, 1]);
  });

  it('moves the counts once for an event repeated in the same batch, and not for one at their position', () => {
    const counts = { total: 3, byStatus: { pending: 1, shipped: 2, delivered: 0 }, position: 'p1' };
    const change = updated(order(2, 40, { status: 'delivered', version: 2 }), 'p3');
    const withPrevious = { ...change, previous: { status: 'shipped', customer_name: 'Customer 2' } } as const;
    const { counts: next, unknown } = applyEventsToCounts(counts, [withPrevious, withPrevious], board());
    expect(unknown).toBe(false);
    expect(next).toEqual({ total: 3, byStatus: { pending: 1, shipped: 1, delivered: 1 }, position: 'p3' });
    const replayed = created(order(7, 50), 'p1');
    expect(applyEventsToCounts(counts, [replayed], board()).counts).toEqual(counts);
  });

  it('counts orders per status', () => {
    const orders = [order(1, 0), order(2, 0, { status: 'shipped' }), order(3, 0, { status: 'shipped' })];
    expect(countByStatus(orders)).toEqual({ pending: 1, shipped: 2, delivered: 0 });
  });
});

describe('lists sorted by creation time or id', () => {
  /** Created 1 (t=10), 3 (t=20), 2 (t=30); last updated 1, then 2, then 3. */
  function byCreation(): OrderList {
    return {
      orders: [
        order(2, 35, { created_at: at(30) }),
        order(3, 40, { created_at: at(20) }),
        order(1, 32, { created_at: at(10) }),
      ],
      position: 'p0',
    };
  }

  it('keeps an updated order in place under the creation sort, and puts a new one at the top', () => {
    const sort = { sort: 'created' } as const;
    const next = applyOrderEvents(byCreation(), [updated(order(1, 90, { created_at: at(10), version: 2 }))], sort);
    expect(ids(next)).toEqual([2, 3, 1]);
    expect(next.orders[2]?.version).toBe(2);
    expect(ids(applyOrderEvents(next, [created(order(4, 95))], sort))).toEqual([4, 2, 3, 1]);
  });

  it('orders by id under the id sort, whatever the times', () => {
    const sort = { sort: 'id' } as const;
    const list = listFromPages([{ orders: byCreation().orders.slice(), position: 'p0', next_cursor: null }], sort);
    expect(ids(list)).toEqual([3, 2, 1]);
    const next = applyOrderEvents(list, [updated(order(2, 99, { version: 2 })), created(order(7, 1))], sort);
    expect(ids(next)).toEqual([7, 3, 2, 1]);
  });

  it('keeps only what the search finds', () => {
    const search = { q: 'gloves' };
    const list = { orders: [order(1, 10, { product_name: 'Winter gloves' })], position: 'p0' };
    const next = applyOrderEvents(
      list,
      [created(order(2, 20, { product_name: 'Mug' })), updated(order(1, 30, { product_name: 'Scarf', version: 2 }))],
      search,
    );
    expect(ids(next)).toEqual([]);
    expect(matchesFilter(order(5, 1, { customer_name: 'Glover' }), { q: 'glove' })).toBe(true);
  });
});
