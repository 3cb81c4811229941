import type { OrderFilter, OrderHistoryResponse } from '@orders/contracts';
import { queryOptions, useQuery, type QueryClient } from '@tanstack/react-query';
import { fetchBoardAsOf, fetchOrderHistory } from './api.js';

/** Query keys for the order history: one timeline per order, one past board per moment and filter. */
export const historyKeys = {
  all: ['history'] as const,
  timelines: () => [...historyKeys.all, 'timeline'] as const,
  timeline: (id: number) => [...historyKeys.timelines(), id] as const,
  board: (asOf: string, filter: OrderFilter) => [...historyKeys.all, 'board', asOf, filter] as const,
};

/** An order's timeline. Kept fresh by the socket: an event for the order invalidates it (see `refreshTimelines`). */
export function orderTimelineQuery(id: number) {
  return queryOptions({
    queryKey: historyKeys.timeline(id),
    queryFn: ({ signal }) => fetchOrderHistory(id, signal),
    staleTime: Infinity,
  });
}

export function useOrderTimeline(id: number) {
  return useQuery(orderTimelineQuery(id));
}

/** The board at a past moment: it never changes, so it is never refetched. */
export function useBoardAsOf(asOf: string, filter: OrderFilter) {
  return useQuery({
    queryKey: historyKeys.board(asOf, filter),
    queryFn: ({ signal }) => fetchBoardAsOf(asOf, filter, signal),
    staleTime: Infinity,
  });
}

/** How many times, and how far apart, a timeline looks again for a change the history had not stored yet. */
const CATCH_UP_TRIES = 10;
const CATCH_UP_INTERVAL_MS = 200;

/**
 * Refetches the open timelines of the orders these events are about. The history writer stores a change just after
 * the socket carries it, so a refetch may come back without it: the timeline looks again (a bounded number of
 * times) until its newest entry has reached the event's position.
 */
export function refreshTimelines(queryClient: QueryClient, events: Iterable<{ id: number; position: string }>): void {
  const open = new Set<unknown>(
    queryClient
      .getQueryCache()
      .findAll({ queryKey: historyKeys.timelines(), type: 'active' })
      .map((query) => query.queryKey[2]),
  );
  if (open.size === 0) return;
  const latest = new Map<number, string>();
  for (const event of events) if (open.has(event.id)) latest.set(event.id, event.position);
  for (const [id, position] of latest) void catchUp(queryClient, id, position, CATCH_UP_TRIES);
}

async function catchUp(queryClient: QueryClient, id: number, position: string, tries: number): Promise<void> {
  await queryClient.invalidateQueries({ queryKey: historyKeys.timeline(id) });
  const newest = queryClient.getQueryData<OrderHistoryResponse>(historyKeys.timeline(id))?.entries[0]?.position;
  if (tries <= 1 || (newest !== undefined && newest >= position)) return;
  await new Promise((resolve) => setTimeout(resolve, CATCH_UP_INTERVAL_MS));
  if (queryClient.getQueryCache().find({ queryKey: historyKeys.timeline(id), type: 'active' }) === undefined) return;
  await catchUp(queryClient, id, position, tries - 1);
}
