import type { OrderFilter, OrderStatus } from './order.js';
import { matchesSearch, prepareSearch, type PreparedSearch } from './search.js';

/*
 * The subscription filter's matching rule, shared by the server (which decides what each socket receives) and the
 * dashboard (which decides what stays in a cached list): a status filter keeps orders whose status is listed (an
 * empty list keeps every status), a customer filter keeps orders whose customer_name contains it, ignoring case, and
 * a search (`q`) keeps the orders the search rule finds (see search.ts).
 */

/** The fields of an order a filter looks at. */
export interface FilterFields {
  readonly status: OrderStatus;
  readonly customer_name: string;
  /** Read by a search only; absent, a search cannot find the order by id. */
  readonly id?: number;
  /** Read by a search only; absent, a search looks at the customer alone. */
  readonly product_name?: string;
}

/** A filter prepared for matching many orders: statuses as a set, the customer needle case-folded. */
export interface PreparedOrderFilter {
  /** Equal for filters that match the same orders, whatever their spelling (status order, customer case). */
  readonly key: string;
  /** null: every status. */
  readonly statuses: ReadonlySet<OrderStatus> | null;
  /** The case-folded customer substring; null: every customer. */
  readonly customer: string | null;
  /** The search; null: no search. A search text that is refused matches nothing. */
  readonly search: PreparedSearch | null;
}

/** A search text no order matches: what a refused search keeps (the API refuses it before it gets here). */
const MATCH_NOTHING: PreparedSearch = { key: '!', words: [' '], id: null }; // no term holds a space

/** The filter that matches every order. */
export const MATCH_ALL_ORDERS: PreparedOrderFilter = { key: '*', statuses: null, customer: null, search: null };

/** Case folding used on both sides of the customer match. */
function fold(text: string): string {
  return text.toLowerCase();
}

/** Prepares a filter for repeated matching; no filter (or an empty one) is `MATCH_ALL_ORDERS`. */
export function prepareOrderFilter(filter: OrderFilter | undefined): PreparedOrderFilter {
  const statuses = filter?.status !== undefined && filter.status.length > 0 ? [...filter.status].sort() : null;
  const customer = filter?.customer !== undefined && filter.customer !== '' ? fold(filter.customer) : null;
  const search = filter?.q === undefined ? null : (prepareSearch(filter.q) ?? MATCH_NOTHING);
  if (statuses === null && customer === null && search === null) return MATCH_ALL_ORDERS;
  // The search part is left out of the key when absent, so filters without one keep the key they always had.
  const parts: unknown[] = [statuses, customer];
  if (search !== null) parts.push(search.key);
  return { key: JSON.stringify(parts), statuses: statuses ? new Set(statuses) : null, customer, search };
}

/** Whether an order passes a prepared filter. */
export function matchesPreparedFilter(filter: PreparedOrderFilter, order: FilterFields): boolean {
  if (filter.statuses !== null && !filter.statuses.has(order.status)) return false;
  if (filter.customer !== null && !fold(order.customer_name).includes(filter.customer)) return false;
  if (filter.search !== null && !matchesSearch(filter.search, order)) return false;
  return true;
}

/** Whether an order belongs in a list or subscription with this filter. */
export function matchesOrderFilter(order: FilterFields, filter: OrderFilter | undefined): boolean {
  return matchesPreparedFilter(prepareOrderFilter(filter), order);
}
