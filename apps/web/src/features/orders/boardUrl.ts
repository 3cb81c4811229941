import {
  MAX_SEARCH_LENGTH,
  ORDER_SORTS,
  ORDER_STATUSES,
  OrderSort,
  type OrderSort as OrderSortValue,
  type OrderStatus,
} from '@orders/contracts';
import { useCallback, useMemo, useSyncExternalStore } from 'react';
import type { ListFilter } from './cache.js';
import { normalizeFilter } from './queries.js';

/*
 * The board's state in the URL's query string: the filters, the search, the sort and the order whose panel is open
 * (`?status=pending&q=gloves&sort=created&order=1042`). A reload or a shared link shows the same board; back and
 * forward step through the changes. The hash stays the page's (`#/admin`), so the two never overwrite each other.
 */

/** What the reader picked on the board. */
export interface BoardFilters {
  statuses: OrderStatus[];
  /** The search text as typed (the list uses it once it can be searched for). */
  q: string;
  sort: OrderSortValue;
}

/** The board's URL state: the filters and the order whose detail panel is open (null: none). */
export interface BoardUrlState extends BoardFilters {
  order: number | null;
}

export const NO_FILTERS: BoardFilters = { statuses: [], q: '', sort: OrderSort.Updated };

/** Reads a query string; anything it does not understand is left out, never an error. */
export function readBoardUrl(search: string): BoardUrlState {
  const params = new URLSearchParams(search);
  const wanted = params.getAll('status');
  const orderText = params.get('order') ?? '';
  const order = /^\d{1,16}$/.test(orderText) ? Number(orderText) : Number.NaN;
  return {
    statuses: ORDER_STATUSES.filter((status) => wanted.includes(status)),
    q: (params.get('q') ?? '').slice(0, MAX_SEARCH_LENGTH),
    sort: ORDER_SORTS.find((sort) => sort === params.get('sort')) ?? OrderSort.Updated,
    order: Number.isSafeInteger(order) && order >= 1 ? order : null,
  };
}

/** The query string for a state (`''` for the default board), in one spelling so equal states give equal URLs. */
export function boardSearch(state: BoardUrlState): string {
  const params = new URLSearchParams();
  for (const status of ORDER_STATUSES) if (state.statuses.includes(status)) params.append('status', status);
  if (state.q !== '') params.set('q', state.q);
  if (state.sort !== OrderSort.Updated) params.set('sort', state.sort);
  if (state.order !== null) params.set('order', String(state.order));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Our own URL changes: `pushState` fires no event, so the board hears of them through this one. */
const BOARD_URL_CHANGED = 'orders:board-url';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(BOARD_URL_CHANGED, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(BOARD_URL_CHANGED, onChange);
  };
}

/** `push` adds a history entry (back returns to the state before), `replace` refines the current one. */
export type UrlChangeMode = 'push' | 'replace';

/** Changes the board's URL state; does nothing when the state would not change. */
export type SetBoardUrl = (change: (current: BoardUrlState) => BoardUrlState, mode?: UrlChangeMode) => void;

/** The board's URL state, and a setter that writes it to the URL. */
export function useBoardUrl(): [BoardUrlState, SetBoardUrl] {
  const search = useSyncExternalStore(
    subscribe,
    () => window.location.search,
    () => '',
  );
  const state = useMemo(() => readBoardUrl(search), [search]);
  const setState = useCallback<SetBoardUrl>((change, mode = 'push') => {
    const current = readBoardUrl(window.location.search);
    const next = boardSearch(change(current));
    if (next === boardSearch(current)) return;
    const url = `${window.location.pathname}${next}${window.location.hash}`;
    if (mode === 'push') window.history.pushState(null, '', url);
    else window.history.replaceState(null, '', url);
    window.dispatchEvent(new Event(BOARD_URL_CHANGED));
  }, []);
  return [state, setState];
}

/** The list filter the board reads for what the address says (the board and the early read on opening agree). */
export function boardFilter({ statuses, q, sort }: Pick<BoardUrlState, 'statuses' | 'q' | 'sort'>): ListFilter {
  return normalizeFilter({ status: statuses, q, sort });
}
