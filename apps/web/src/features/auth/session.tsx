import type { Me } from '@orders/contracts';
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { onUnauthenticated } from '../../lib/http.js';
import { orderKeys } from '../orders/queries.js';
import { fetchMe } from './api.js';
import { accessKey, authKeys } from './queries.js';

/** How the page moves between signed in and signed out. */
export interface Session {
  /**
   * Who was signed in when the session ended by itself (expired, revoked, signed out elsewhere); `null` on a fresh
   * page or after signing out here.
   */
  ended: Me | null;
  /** The server no longer accepts this session (a 401, or the socket closed with 4401): back to sign-in. */
  end: () => void;
  /** The role or scope may have changed (the socket closed with 4403): ask the server who this page is now. */
  recheck: () => Promise<void>;
  /** Signed in as `me`: the board comes back, resuming from what it had if `me` may see the same orders. */
  signedIn: (me: Me) => void;
  /** Signed out on purpose: every cached order and admin list is forgotten. */
  signedOut: () => void;
}

const SessionContext = createContext<Session | null>(null);

function forgetData(queryClient: QueryClient): void {
  queryClient.removeQueries({ queryKey: orderKeys.all });
  queryClient.removeQueries({ queryKey: authKeys.admin() });
}

/**
 * Switches to `next`. The cached orders stay only when `next` may see exactly what `previous` saw (same principal,
 * same scope): then the board resumes from its last position instead of reading everything again, and nothing read
 * under one principal is ever shown to another.
 */
function adopt(queryClient: QueryClient, previous: Me | null | undefined, next: Me): void {
  if (previous && accessKey(previous) !== accessKey(next)) forgetData(queryClient);
  else if (previous && previous.role !== next.role) queryClient.removeQueries({ queryKey: authKeys.admin() });
  queryClient.setQueryData(authKeys.me(), next);
}

/** Owns the session state of the page and listens for 401s from any request. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [ended, setEnded] = useState<Me | null>(null);

  const end = useCallback(() => {
    const current = queryClient.getQueryData<Me | null>(authKeys.me());
    if (!current) return;
    setEnded(current);
    queryClient.setQueryData(authKeys.me(), null);
  }, [queryClient]);

  useEffect(() => onUnauthenticated(end), [end]);

  const recheck = useCallback(async () => {
    const previous = queryClient.getQueryData<Me | null>(authKeys.me());
    let next: Me | null;
    try {
      next = await fetchMe();
    } catch {
      // The server cannot be reached: the socket keeps reconnecting, and the next refusal asks again.
      return;
    }
    if (next === null) {
      end();
      return;
    }
    adopt(queryClient, previous, next);
  }, [queryClient, end]);

  const signedIn = useCallback(
    (me: Me) => {
      adopt(queryClient, ended, me);
      setEnded(null);
    },
    [queryClient, ended],
  );

  const signedOut = useCallback(() => {
    forgetData(queryClient);
    setEnded(null);
    queryClient.setQueryData(authKeys.me(), null);
  }, [queryClient]);

  const session = useMemo<Session>(
    () => ({ ended, end, recheck, signedIn, signedOut }),
    [ended, end, recheck, signedIn, signedOut],
  );
  return <SessionContext value={session}>{children}</SessionContext>;
}

/** The session actions and state; only inside `SessionProvider`. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession is used outside SessionProvider');
  return session;
}
