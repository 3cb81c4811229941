import {
  MATCH_ALL_ORDERS,
  prepareOrderFilter,
  type OrderFilter,
  type PreparedOrderFilter,
  type Scope,
} from '@orders/contracts';

/**
 * What one socket receives: its subscription's filter, confined to its principal's scope (null: unscoped). Sockets
 * with equal filters and equal scopes share a key, hence a filter group and one frame per fan-out: a scope costs at
 * most one more frame per distinct (scope, filter), never one per socket. See docs/ARCHITECTURE.md,
 * "Access control" and "Fan-out".
 */
export interface EffectiveFilter {
  readonly key: string;
  readonly filter: PreparedOrderFilter;
  readonly scope: PreparedOrderFilter | null;
}

/** The unscoped filter that matches every order (the key unscoped sockets have always had). */
export const EVERY_ORDER: EffectiveFilter = { key: MATCH_ALL_ORDERS.key, filter: MATCH_ALL_ORDERS, scope: null };

/** Prepares a principal's scope once per socket; null or `{}` is no scope at all. */
export function prepareScope(scope: Scope | null | undefined): PreparedOrderFilter | null {
  const prepared = prepareOrderFilter(scope ?? undefined);
  return prepared === MATCH_ALL_ORDERS ? null : prepared;
}

/** The effective filter of a subscription made under `scope`. */
export function effectiveFilter(filter: OrderFilter | undefined, scope: PreparedOrderFilter | null): EffectiveFilter {
  const prepared = prepareOrderFilter(filter);
  if (scope === null)
    return prepared === MATCH_ALL_ORDERS ? EVERY_ORDER : { key: prepared.key, filter: prepared, scope };
  return { key: `${prepared.key}|scope:${scope.key}`, filter: prepared, scope };
}
