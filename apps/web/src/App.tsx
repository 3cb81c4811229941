import { CloseCode } from '@orders/contracts';
import { AccountBar } from './features/auth/components/AccountBar.js';
import { AdminPage } from './features/auth/components/AdminPage.js';
import { SignInPage } from './features/auth/components/SignInPage.js';
import { permissionsFor } from './features/auth/permissions.js';
import { accessKey, useMe } from './features/auth/queries.js';
import { SessionProvider, useSession } from './features/auth/session.js';
import { Dashboard } from './features/orders/components/Dashboard.js';
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
