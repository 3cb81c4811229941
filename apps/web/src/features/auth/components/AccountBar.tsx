import { PAGE_HREF, type Page } from '../../../lib/useHashPage.js';
import { describeAdminProblem } from '../errors.js';
import { useSignOut } from '../mutations.js';
import { permissionsFor } from '../permissions.js';
import { useMe } from '../queries.js';
import { describeScope, ROLE_LABELS } from '../scope.js';

/** The header's right side: the pages this role may open, who is signed in with which role, and "Sign out". */
export function AccountBar({ page }: { page: Page }) {
  const me = useMe().data;
  const signOut = useSignOut();
  if (!me) return null;
  const { manageAccess } = permissionsFor(me.role);
  return (
    <div className="account-bar">
      {manageAccess && (
        <nav className="pages" aria-label="Pages">
          <a href={PAGE_HREF.board} aria-current={page === 'board' ? 'page' : undefined}>
            Board
          </a>
          <a href={PAGE_HREF.admin} aria-current={page === 'admin' ? 'page' : undefined}>
            Users and tokens
          </a>
        </nav>
      )}
      <section className="account" aria-label="Account">
        <p className="account-who">
          Signed in as <strong>{me.username}</strong> <span className="role-badge">{ROLE_LABELS[me.role]}</span>
          {me.scope && <span className="account-scope"> · sees {describeScope(me.scope)}</span>}
        </p>
        <button
          type="button"
          onClick={() => {
            if (!signOut.isPending) signOut.mutate();
          }}
          aria-disabled={signOut.isPending || undefined}
        >
          {signOut.isPending ? 'Signing out…' : 'Sign out'}
        </button>
        {signOut.isError && (
          <p className="form-error" role="alert">
            {describeAdminProblem(signOut.error, 'sign out')}
          </p>
        )}
      </section>
    </div>
  );
}
