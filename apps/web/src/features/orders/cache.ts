import {
  matchesOrderFilter,
  type FilterFields,
  matchesPreparedFilter,
  prepareOrderFilter,
  type ListOrdersResponse,
  type Order,
  type OrderEvent,
  type OrderFilter,
  type OrderSort,
  type OrderStatus,
  type PreviousFields,
  type Position,
} from '@orders/contracts';

/**
 * A board list's filter: the subscription's filter and the order the list is sorted in (absent: by last update).
 * The sort is the board's alone; the socket's filter leaves it out (`subscriptionFilter`).
 */
export type ListFilter = OrderFilter & { readonly sort?: OrderSort };

/** The part of a list's filter the server matches events with. */
export function subscriptionFilter({ sort: _sort, ...filter }: ListFilter): OrderFilter {
  return filter;
}

/**
 * What the cache holds for one filtered list: the orders, newest `updated_at` first, and the feed position the list
 * reflects (the snapshot's position, advanced by every event applied), so a subscription can resume from it.
 */
export interface OrderList {
  readonly orders: readonly Order[];
  readonly position: Position | null;
  /**
   * Where the next older page starts; absent when the list holds every matching order. The board holds a window of
   * the book (the newest pages it has read), never necessarily all of it.
   */
  readonly nextCursor?: string;
}

function updatedAtMs(order: Order): number {
  return Date.parse(order.updated_at);
}

/** Newest `updated_at` first; ties broken by the larger id so the order is total and stable across renders. */
export function compareOrders(a: Order, b: Order): number {
  return updatedAtMs(b) - updatedAtMs(a) || b.id - a.id;
}

/** Newest `created_at` first, then the larger id: an update never moves an order. */
function compareByCreation(a: Order, b: Order): number {
  return Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id;
}

/** The larger id first. */
function compareById(a: Order, b: Order): number {
  return b.id - a.id;
}

export type OrderComparator = (a: Order, b: Order) => number;

/** The order a list with this filter is sorted in, as the server sorts its pages. */
export function comparatorFor(filter: ListFilter): OrderComparator {
  switch (filter.sort) {
    case undefined:
    case 'updated':
      return compareOrders;
    case 'created':
      return compareByCreation;
    case 'id':
      return compareById;
  }
}

/** Merges two lists already sorted by `compare`. */
function mergeSorted(left: readonly Order[], right: readonly Order[], compare: OrderComparator): Order[] {
  if (right.length === 0) return left.slice();
  const merged: Order[] = new Array<Order>(left.length + right.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < left.length && j < right.length) {
    const a = left[i]!;
    const b = right[j]!;
    if (compare(a, b) <= 0) {
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
export function listFromPages(pages: readonly ListOrdersResponse[], filter: ListFilter = {}): OrderList {
  const byId = new Map<number, Order>();
  for (const page of pages) {
    for (const order of page.orders) {
      const seen = byId.get(order.id);
      if (!seen || seen.version < order.version) byId.set(order.id, order);
    }
  }
  const nextCursor = pages.at(-1)?.next_cursor ?? undefined;
  return {
    orders: [...byId.values()].sort(comparatorFor(filter)),
    position: pages[0]?.position ?? null,
    ...(nextCursor ? { nextCursor } : {}),
  };
}

/** The effect of a batch on individual ids: an order to show, or `null` to remove it. */
type Overlay = Map<number, Order | null>;

function buildList(list: OrderList, overlay: Overlay, position: Position | null, compare: OrderComparator): OrderList {
  const kept = overlay.size === 0 ? list.orders : list.orders.filter((order) => !overlay.has(order.id));
  const inserted: Order[] = [];
  for (const order of overlay.values()) if (order) inserted.push(order);
  inserted.sort(compare);
  return { ...list, orders: overlay.size === 0 ? list.orders : mergeSorted(kept, inserted, compare), position };
}

/**
 * Applies change events, in order, to a cached list and returns the new list (the same object when nothing changed).
 *
 * Idempotent by id and version, so replays and duplicates are harmless: a create or update whose version is not
 * newer than the cached order's is ignored. Deletes and `order.left` always remove. An order that no longer matches
 * the list's filter is removed (the server says so with `order.left`; this keeps the list right even before it does).
 */
export function applyOrderEvents(list: OrderList, events: readonly OrderEvent[], filter: ListFilter = {}): OrderList {
  if (events.length === 0) return list;
  let baseById: Map<number, Order> | undefined;
  const overlay: Overlay = new Map();
  const current = (id: number): Order | undefined => {
    if (overlay.has(id)) return overlay.get(id) ?? undefined;
    baseById ??= new Map(list.orders.map((order) => [order.id, order]));
    return baseById.get(id);
  };

  // The server's rule for what a subscription receives, so the list keeps exactly what the socket sends.
  const rule = prepareOrderFilter(subscriptionFilter(filter));
  const compare = comparatorFor(filter);
  // A window with older pages still to read ends at its last order; a complete list has no end.
  const end = list.nextCursor === undefined ? undefined : list.orders.at(-1);
  let changed = false;
  let position = list.position;
  for (const event of events) {
    position = event.position;
    switch (event.type) {
      case 'order.created':
      case 'order.updated': {
        const cached = current(event.order.id);
        if (cached && cached.version >= event.order.version) break;
        // An order that sorts below the window's end belongs to a page not read yet (which will show it), not here.
        const visible = matchesPreparedFilter(rule, event.order) && !(end && compare(event.order, end) > 0);
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
  if (!changed) return position === list.position ? list : { ...list, position };
  return buildList(list, overlay, position, compare);
}

/**
 * Puts one order into a list (an optimistic write, or the server's answer to one) without moving the position.
 * Ignored when the list already holds the same or a newer version, unless `force` (used to roll back to an older copy).
 */
export function upsertOrder(list: OrderList, order: Order, filter: ListFilter = {}, force = false): OrderList {
  const index = list.orders.findIndex((o) => o.id === order.id);
  const cached = index === -1 ? undefined : list.orders[index];
  if (cached && !force && cached.version >= order.version) return list;
  const overlay: Overlay = new Map([[order.id, matchesOrderFilter(order, subscriptionFilter(filter)) ? order : null]]);
  if (!cached && !overlay.get(order.id)) return list;
  return buildList(list, overlay, list.position, comparatorFor(filter));
}

/** Removes one order from a list (same object when it was not there). */
export function removeOrder(list: OrderList, id: number): OrderList {
  if (!list.orders.some((o) => o.id === id)) return list;
  return { ...list, orders: list.orders.filter((o) => o.id !== id) };
}

/** Replaces the order with this id only if the cache still holds exactly `expected` (used to undo our own write). */
export function replaceIfUnchanged(
  list: OrderList,
  expected: Order,
  replacement: Order | null,
  filter: ListFilter = {},
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

/**
 * Whether position `a` comes after `b` in the feed. Positions are the database's resume tokens, whose text sorts in
 * stream order (the hub orders its ring the same way); `null` is before every event.
 */
export function isAfter(a: Position, b: Position | null): boolean {
  return b === null || a > b;
}

/**
 * Adds an older page to the end of a window. The page was read after its `position`; `eventsSince` are the events
 * after that position the list has already seen. The window's own copies win (they are live); an order those events
 * deleted or took out of the filter is left out; one they changed is shown as the events say, in the page's range
 * only (above it, the window already shows it). The window leaves events for orders below its end to the pages. See docs/ARCHITECTURE.md,
 * "Snapshot with position".
 */
export function appendOlderPage(
  list: OrderList,
  page: ListOrdersResponse,
  eventsSince: readonly OrderEvent[],
  filter: ListFilter = {},
): OrderList {
  const rule = prepareOrderFilter(subscriptionFilter(filter));
  const compare = comparatorFor(filter);
  const held = new Set(list.orders.map((order) => order.id));
  // What the events since the page's read say each order is now (null: gone or outside the filter).
  const latest = new Map<number, Order | null>();
  for (const event of eventsSince) {
    if (event.type === 'order.created' || event.type === 'order.updated') {
      const seen = latest.get(event.order.id);
      if (!seen || seen.version < event.order.version) latest.set(event.order.id, event.order);
    } else {
      latest.set(event.id, null);
    }
  }
  const older = new Map<number, Order>();
  for (const order of page.orders) {
    if (held.has(order.id)) continue;
    const now = latest.get(order.id);
    if (now === null) continue;
    const shown = now && now.version >= order.version ? now : order;
    if (matchesPreparedFilter(rule, shown)) older.set(shown.id, shown);
  }
  // Orders the window left for this page (they sorted below its end) but that the page read too early to see.
  const from = list.orders.at(-1);
  const to = page.next_cursor ? page.orders.at(-1) : undefined;
  for (const order of latest.values()) {
    if (!order || held.has(order.id) || older.has(order.id) || !matchesPreparedFilter(rule, order)) continue;
    if (from && compare(order, from) <= 0) continue;
    if (to && compare(order, to) > 0) continue;
    older.set(order.id, order);
  }
  // Each order once, in list order: one that moved within the range is where its newest copy says.
  const below = [...older.values()].sort(compare);
  return {
    position: list.position,
    orders: mergeSorted(list.orders, below, compare),
    ...(page.next_cursor ? { nextCursor: page.next_cursor } : {}),
  };
}

/** An event's pre-image as filter fields (its id added), or undefined when it cannot say what a search needs. */
function knownPrevious(id: number, previous: PreviousFields | undefined, searching: boolean): FilterFields | undefined {
  if (previous === undefined || (searching && previous.product_name === undefined)) return undefined;
  return { ...previous, id };
}

/** Exact counts for one filter, as the server counted them at `position`, moved on by every event applied since. */
export interface OrderCounts {
  readonly total: number;
  readonly byStatus: Record<OrderStatus, number>;
  readonly position: Position | null;
}

/** The counts after some events; `unknown` when an event's effect could not be known and the counts must be read again. */
export interface CountsUpdate {
  counts: OrderCounts;
  unknown: boolean;
}

/**
 * Moves counts on by events, in order. What an order was before a change comes from the event's `previous` (the
 * server's pre-image) or else from the window's copy of the version just before; when neither says, the change's
 * effect is unknown (`unknown: true`) and the caller reads the counts again. Events at or before the counts' position
 * are already counted. `list` is the window as it was before these events.
 */
export function applyEventsToCounts(
  counts: OrderCounts,
  events: readonly OrderEvent[],
  list: OrderList | undefined,
  filter: OrderFilter = {},
): CountsUpdate {
  const rule = prepareOrderFilter(subscriptionFilter(filter));
  // A search reads the product and id too: a pre-image without the product cannot say whether it matched.
  const searching = rule.search !== null;
  const byStatus = { ...counts.byStatus };
  let position = counts.position;
  let unknown = false;
  // What each order touched in this batch is now (null: gone), so a second change in one batch knows the first.
  const known = new Map<number, FilterFields | null>();
  let loadedById: Map<number, Order> | undefined;
  /** The order just before its change to `version`, when that can be known here. */
  const before = (id: number, version: number): FilterFields | null | undefined => {
    if (known.has(id)) return known.get(id);
    loadedById ??= new Map((list?.orders ?? []).map((order) => [order.id, order]));
    const loaded = loadedById.get(id);
    // Only the version just before says what changed: an optimistic write may already have put a newer one there.
    return loaded?.version === version - 1 ? loaded : undefined;
  };
  const leave = (fields: FilterFields | null) => {
    if (fields && matchesPreparedFilter(rule, fields)) byStatus[fields.status]--;
  };
  for (const event of events) {
    // Counted already (a read's position is taken before it counts, and replays may repeat what it holds), or
    // earlier in this same batch: a repeated event must not move the counts twice.
    if (!isAfter(event.position, position)) continue;
    position = event.position;
    switch (event.type) {
      case 'order.created': {
        if (matchesPreparedFilter(rule, event.order)) byStatus[event.order.status]++;
        known.set(event.order.id, event.order);
        break;
      }
      case 'order.updated': {
        const previous =
          knownPrevious(event.order.id, event.previous, searching) ?? before(event.order.id, event.order.version);
        if (previous === undefined) unknown = true;
        else leave(previous);
        if (matchesPreparedFilter(rule, event.order)) byStatus[event.order.status]++;
        known.set(event.order.id, event.order);
        break;
      }
      case 'order.deleted':
      case 'order.left': {
        const previous =
          knownPrevious(event.id, event.previous, searching) ?? (known.has(event.id) ? known.get(event.id) : undefined);
        if (previous === undefined) unknown = true;
        else leave(previous);
        known.set(event.id, null);
        break;
      }
    }
  }
  for (const status of Object.keys(byStatus) as OrderStatus[]) byStatus[status] = Math.max(0, byStatus[status]);
  const total = byStatus.pending + byStatus.shipped + byStatus.delivered;
  return { counts: { total, byStatus, position }, unknown };
}
