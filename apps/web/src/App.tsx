import { CloseCode } from '@orders/contracts';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { AccountBar } from './features/auth/components/AccountBar.js';
import { AdminPage } from './features/auth/components/AdminPage.js';
import { SignInPage } from './features/auth/components/SignInPage.js';
import { permissionsFor } from './features/auth/permissions.js';
import { accessKey, useMe } from './features/auth/queries.js';
import { SessionProvider, useSession } from './features/auth/session.js';
import { boardFilter, readBoardUrl } from './features/orders/boardUrl.js';
import { Dashboard } from './features/orders/components/Dashboard.js';
import { orderListQuery } from './features/orders/queries.js';
import type { AccessCloseCode } from './features/realtime/useOrderSocket.js';
import { AnnouncerProvider } from './lib/announcer.js';
import { useHashPage } from './lib/useHashPage.js';

/** The dashboard application (providers live in `main.tsx`, so tests can supply their own). */
export function App() {
  return (
    <AnnouncerProvider>
      <SessionProvider>
        <SignedInOrNot />
      </SessionProvider>
    </AnnouncerProvider>
  );
}

/**
 * Asks the server who this page is, then shows sign-in or the pages. When a session ends (a 401 from any request, or
 * the socket closed with 4401) this falls back to sign-in; the board's cache stays, so signing in again as the same
 * principal resumes the live feed from its last position without a reload.
 */
function SignedInOrNot() {
  const me = useMe();
  const { end, recheck } = useSession();
  const page = useHashPage();
  const queryClient = useQueryClient();
  const checking = me.isPending;
  useEffect(() => {
    // The board's newest page is read while the page asks who it is, not after: on opening, the first card then
    // waits for one round trip instead of two. Both requests carry the same session cookie, so the page is read as
    // the principal `me` names; without a session it is refused (401) and read again once the board mounts.
    // A refusal is the board's to show (it reads again on mount), not this early read's. The filter is the one the
    // board will open with: the one in the address.
    if (!checking) return;
    const filter = boardFilter(readBoardUrl(window.location.search));
    queryClient.query(orderListQuery(filter)).catch(() => undefined);
  }, [checking, queryClient]);

  if (me.isPending) {
    return (
      <div className="app">
        <p className="app-checking" role="status">
          Checking who is signed in…
        </p>
      </div>
    );
  }
  if (me.isError) {
    return (
      <div className="app">
        <div className="board-error" role="alert">
          <p>The server cannot be reached, so the page cannot tell who is signed in.</p>
          <button type="button" onClick={() => void me.refetch()}>
            Try again
          </button>
        </div>
      </div>
    );
  }
  if (me.data === null) return <SignInPage />;

  const account = <AccountBar page={page} />;
  const onAccessClosed = (code: AccessCloseCode) => {
    if (code === CloseCode.Unauthenticated) end();
    else void recheck();
  };
  if (page === 'admin' && permissionsFor(me.data.role).manageAccess) return <AdminPage account={account} />;
  // Keyed by principal and scope: a scope change starts the board afresh rather than patching a list read under the
  // old scope.
  return <Dashboard key={accessKey(me.data)} account={account} onAccessClosed={onAccessClosed} />;
}
