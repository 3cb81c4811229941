import { ORDER_STATUSES, searchProblem, type OrderFilter, type OrderSort, type OrderStatus } from '@orders/contracts';
import { queryOptions, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { fetchOrder, fetchOrderCounts, fetchOrderList } from './api.js';
import { upsertOrder, type ListFilter, type OrderList } from './cache.js';

export type { ListFilter } from './cache.js';

/**
 * Normalizes what the user picked into the filter the API and the subscription understand: statuses in a fixed
 * order, no statuses meaning all of them, a trimmed customer, a search only when it can be searched for, and a sort
 * only when it is not the default. Equal filters give equal query keys.
 */
export function normalizeFilter(input: {
  status?: readonly OrderStatus[];
  customer?: string;
  q?: string;
  sort?: OrderSort;
}): ListFilter {
  const filter: { -readonly [K in keyof ListFilter]: ListFilter[K] } = {};
  const picked = ORDER_STATUSES.filter((status) => input.status?.includes(status));
  if (picked.length > 0 && picked.length < ORDER_STATUSES.length) filter.status = picked;
  const customer = input.customer?.trim().slice(0, 200);
  if (customer) filter.customer = customer;
  const q = input.q?.trim();
  if (q && searchProblem(q) === null) filter.q = q;
  if (input.sort !== undefined && input.sort !== 'updated') filter.sort = input.sort;
  return filter;
}

/** Query keys for orders (TkDodo's key factory): everything under `all`, lists by filter, details by id. */
export const orderKeys = {
  all: ['orders'] as const,
  lists: () => [...orderKeys.all, 'list'] as const,
  list: (filter: ListFilter) => [...orderKeys.lists(), filter] as const,
  counts: (filter: OrderFilter) => [...orderKeys.all, 'counts', filter] as const,
  details: () => [...orderKeys.all, 'detail'] as const,
  detail: (id: number) => [...orderKeys.details(), id] as const,
};

/** The filter a list key was built from. */
export function filterOfListKey(key: readonly unknown[]): ListFilter {
  const filter = key[2];
  return typeof filter === 'object' && filter !== null ? filter : {};
}

/**
 * The board's list. `staleTime: Infinity`: the socket keeps it fresh, so it is never refetched on focus or mount;
 * only a resync replaces it. No structural sharing: the cache functions already keep every unchanged order's object,
 * while deep comparison index by index would copy all ten thousand orders each time one is inserted at the top (and
 * break the identity checks that make rollbacks safe).
 */
export function orderListQuery(filter: ListFilter) {
  return queryOptions({
    queryKey: orderKeys.list(filter),
    queryFn: ({ signal }) => fetchOrderList(filter, signal),
    staleTime: Infinity,
    structuralSharing: false,
  });
}

/** One order, read fresh (used to reload an order that was edited elsewhere). */
export function orderDetailQuery(id: number) {
  return queryOptions({
    queryKey: orderKeys.detail(id),
    queryFn: ({ signal }) => fetchOrder(id, signal),
    staleTime: 0,
  });
}

/** The cached list for a filter, with its loading and error state. */
export function useOrderList(filter: ListFilter) {
  return useQuery(orderListQuery(filter));
}

/**
 * The server's exact counts for a filter; the list patcher keeps them exact as events arrive. `staleTime: Infinity`
 * for the same reason as the list.
 */
export function orderCountsQuery(filter: OrderFilter) {
  return queryOptions({
    queryKey: orderKeys.counts(filter),
    queryFn: ({ signal }) => fetchOrderCounts(filter, signal),
    staleTime: Infinity,
  });
}

/**
 * Orders per status matching `filter`, counted by the server (undefined until they have loaded). They are read once
 * the list has loaded: the counts' position is then at or after the list's, so every event after it reaches both.
 */
export function useStatusCounts(filter: OrderFilter): Record<OrderStatus, number> | undefined {
  const listLoaded = useQuery({ ...orderListQuery(filter), select: selectLoaded }).data === true;
  return useQuery({ ...orderCountsQuery(filter), enabled: listLoaded }).data?.byStatus;
}

/** How many orders match `filter`, counted by the server (undefined until the counts have loaded). */
export function useOrderTotal(filter: OrderFilter): number | undefined {
  const listLoaded = useQuery({ ...orderListQuery(filter), select: selectLoaded }).data === true;
  return useQuery({ ...orderCountsQuery(filter), enabled: listLoaded }).data?.total;
}

/** Reads one order by id (a person looking it up); undefined `id` reads nothing. */
export function useOrderLookup(id: number | undefined) {
  return useQuery({ ...orderDetailQuery(id ?? 0), enabled: id !== undefined, retry: false });
}

function selectLoaded(): boolean {
  return true;
}

/** Applies `patch` to every cached order list that has data, each with its own filter. */
export function patchOrderLists(
  queryClient: QueryClient,
  patch: (list: OrderList, filter: ListFilter) => OrderList,
): void {
  for (const [key, list] of queryClient.getQueriesData<OrderList>({ queryKey: orderKeys.lists() })) {
    if (!list) continue;
    const next = patch(list, filterOfListKey(key));
    if (next !== list) queryClient.setQueryData<OrderList>(key, next);
  }
}

/**
 * Reads one order from the server and puts it into every cached list (newer version wins), returning it;
 * used after a 412 to show what the order looks like now.
 */
export function useReloadOrder() {
  const queryClient = useQueryClient();
  return useCallback(
    async (id: number) => {
      const order = await queryClient.query(orderDetailQuery(id));
      patchOrderLists(queryClient, (list, filter) => upsertOrder(list, order, filter));
      return order;
    },
    [queryClient],
  );
}
