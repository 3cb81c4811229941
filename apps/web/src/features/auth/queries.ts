import type { Me, Scope } from '@orders/contracts';
import { queryOptions, useQuery } from '@tanstack/react-query';
import { fetchMe, fetchTokens, fetchUsers } from './api.js';

/** Query keys for identity and access (TkDodo's key factory): who is signed in, and the admin lists. */
export const authKeys = {
  all: ['auth'] as const,
  me: () => [...authKeys.all, 'me'] as const,
  admin: () => [...authKeys.all, 'admin'] as const,
  users: () => [...authKeys.admin(), 'users'] as const,
  tokens: () => [...authKeys.admin(), 'tokens'] as const,
};

/**
 * Who this page is signed in as (`null`: nobody). Read once on load; after that only sign-in, sign-out, a 401 or a
 * socket closed for access change it, so it never goes stale by itself.
 */
export function meQuery() {
  return queryOptions({
    queryKey: authKeys.me(),
    queryFn: ({ signal }) => fetchMe(signal),
    staleTime: Infinity,
  });
}

/**
 * The users, for the admin page. Nothing pushes changes to these lists, so they are read again each time the page
 * shows them.
 */
export function usersQuery() {
  return queryOptions({ queryKey: authKeys.users(), queryFn: ({ signal }) => fetchUsers(signal), staleTime: 0 });
}

/** The API tokens (never their secrets), for the admin page. */
export function tokensQuery() {
  return queryOptions({ queryKey: authKeys.tokens(), queryFn: ({ signal }) => fetchTokens(signal), staleTime: 0 });
}

/** The signed-in principal, with the query's loading and error state. */
export function useMe() {
  return useQuery(meQuery());
}

/** The users list query (admin). */
export function useUsers() {
  return useQuery(usersQuery());
}

/** The tokens list query (admin). */
export function useTokens() {
  return useQuery(tokensQuery());
}

/** A stable text form of a scope: equal scopes (in any order of statuses) give equal strings; no scope is `all`. */
export function scopeKey(scope: Scope | null): string {
  if (!scope || (scope.customer === undefined && scope.status === undefined)) return 'all';
  return JSON.stringify({ customer: scope.customer ?? null, status: [...(scope.status ?? [])].sort() });
}

/**
 * What decides which orders a principal may see: who it is and its scope. Cached orders read under one access key
 * must not be shown under another.
 */
export function accessKey(me: Me): string {
  return `${me.kind}:${me.username}:${scopeKey(me.scope)}`;
}
