import {
  matchesOrderFilter,
  matchesPreparedFilter,
  prepareOrderFilter,
  type ListOrdersResponse,
  type Order,
  type OrderEvent,
  type OrderFilter,
  type OrderStatus,
  type Position,
} from '@orders/contracts';

/**
 * What the cache holds for one filtered list: the orders, newest `updated_at` first, and the feed position the list
 * reflects (the snapshot's position, advanced by every event applied), so a subscription can resume from it.
 */
export interface OrderList {
  readonly orders: readonly Order[];
  readonly position: Position | null;
}

function updatedAtMs(order: Order): number {
  return Date.parse(order.updated_at);
}

/** Newest `updated_at` first; ties broken by the larger id so the order is total and stable across renders. */
export function compareOrders(a: Order, b: Order): number {
  return updatedAtMs(b) - updatedAtMs(a) || b.id - a.id;
}

/** Merges two lists already sorted by `compareOrders`. */
function mergeSorted(left: readonly Order[], right: readonly Order[]): Order[] {
  if (right.length === 0) return left.slice();
  const merged: Order[] = new Array<Order>(left.length + right.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < left.length && j < right.length) {
    const a = left[i]!;
    const b = right[j]!;
    if (compareOrders(a, b) <= 0) {
      merged[k++] = a;
      i++;
    } else {
      merged[k++] = b;
      j++;
    }
  }
  while (i < left.length) merged[k++] = left[i++]!;
  while (j < right.length) merged[k++] = right[j++]!;
  return merged;
}

/**
 * Builds the cached list from the pages of one snapshot. The position is the first page's: it was taken before any
 * page was read, so subscribing since it misses nothing. An order updated between two page reads can show up twice;
 * the higher version wins.
 */
export function listFromPages(pages: readonly ListOrdersResponse[]): OrderList {
  const byId = new Map<number, Order>();
  for (const page of pages) {
    for (const order of page.orders) {
      const seen = byId.get(order.id);
      if (!seen || seen.version < order.version) byId.set(order.id, order);
    }
  }
  return { orders: [...byId.values()].sort(compareOrders), position: pages[0]?.position ?? null };
}

/** The effect of a batch on individual ids: an order to show, or `null` to remove it. */
type Overlay = Map<number, Order | null>;

function buildList(list: OrderList, overlay: Overlay, position: Position | null): OrderList {
  const kept = overlay.size === 0 ? list.orders : list.orders.filter((order) => !overlay.has(order.id));
  const inserted: Order[] = [];
  for (const order of overlay.values()) if (order) inserted.push(order);
  inserted.sort(compareOrders);
  return { orders: overlay.size === 0 ? list.orders : mergeSorted(kept, inserted), position };
}

/**
 * Applies change events, in order, to a cached list and returns the new list (the same object when nothing changed).
 *
 * Idempotent by id and version, so replays and duplicates are harmless: a create or update whose version is not
 * newer than the cached order's is ignored. Deletes and `order.left` always remove. An order that no longer matches
 * the list's filter is removed (the server says so with `order.left`; this keeps the list right even before it does).
 */
export function applyOrderEvents(list: OrderList, events: readonly OrderEvent[], filter: OrderFilter = {}): OrderList {
  if (events.length === 0) return list;
  let baseById: Map<number, Order> | undefined;
  const overlay: Overlay = new Map();
  const current = (id: number): Order | undefined => {
    if (overlay.has(id)) return overlay.get(id) ?? undefined;
    baseById ??= new Map(list.orders.map((order) => [order.id, order]));
    return baseById.get(id);
  };

  // The server's rule for what a subscription receives, so the list keeps exactly what the socket sends.
  const rule = prepareOrderFilter(filter);
  let changed = false;
  let position = list.position;
  for (const event of events) {
    position = event.position;
    switch (event.type) {
      case 'order.created':
      case 'order.updated': {
        const cached = current(event.order.id);
        if (cached && cached.version >= event.order.version) break;
        const visible = matchesPreparedFilter(rule, event.order);
        if (!visible && !cached) break;
        overlay.set(event.order.id, visible ? event.order : null);
        changed = true;
        break;
      }
      case 'order.deleted':
      case 'order.left': {
        if (!current(event.id)) break;
        overlay.set(event.id, null);
        changed = true;
        break;
      }
    }
  }
  if (!changed) return position === list.position ? list : { orders: list.orders, position };
  return buildList(list, overlay, position);
}

/**
 * Puts one order into a list (an optimistic write, or the server's answer to one) without moving the position.
 * Ignored when the list already holds the same or a newer version, unless `force` (used to roll back to an older copy).
 */
export function upsertOrder(list: OrderList, order: Order, filter: OrderFilter = {}, force = false): OrderList {
  const index = list.orders.findIndex((o) => o.id === order.id);
  const cached = index === -1 ? undefined : list.orders[index];
  if (cached && !force && cached.version >= order.version) return list;
  const overlay: Overlay = new Map([[order.id, matchesOrderFilter(order, filter) ? order : null]]);
  if (!cached && !overlay.get(order.id)) return list;
  return buildList(list, overlay, list.position);
}

/** Removes one order from a list (same object when it was not there). */
export function removeOrder(list: OrderList, id: number): OrderList {
  if (!list.orders.some((o) => o.id === id)) return list;
  return { orders: list.orders.filter((o) => o.id !== id), position: list.position };
}

/** Replaces the order with this id only if the cache still holds exactly `expected` (used to undo our own write). */
export function replaceIfUnchanged(
  list: OrderList,
  expected: Order,
  replacement: Order | null,
  filter: OrderFilter = {},
): OrderList {
  const cached = list.orders.find((o) => o.id === expected.id);
  if (cached !== expected) return list;
  if (!replacement) return removeOrder(list, expected.id);
  return upsertOrder(list, replacement, filter, true);
}

/** Finds an order by id in a cached list. */
export function findOrder(list: OrderList | undefined, id: number): Order | undefined {
  return list?.orders.find((o) => o.id === id);
}

/** How many orders of each status a list holds. */
export function countByStatus(orders: readonly Order[]): Record<OrderStatus, number> {
  const counts: Record<OrderStatus, number> = { pending: 0, shipped: 0, delivered: 0 };
  for (const order of orders) counts[order.status]++;
  return counts;
}
