import { MAX_TOKEN_DAYS, type ApiToken, type CreatedToken, type Role } from '@orders/contracts';
import { useId, useState, type SubmitEvent } from 'react';
import { formatAbsolute } from '../../../lib/format.js';
import { describeAdminProblem } from '../errors.js';
import { useCreateToken, useRevokeToken } from '../mutations.js';
import { useTokens } from '../queries.js';
import { describeScope, ROLE_LABELS, scopeFromForm } from '../scope.js';
import { EMPTY_SCOPE_DRAFT, RoleSelect, ScopeFields, type ScopeDraft } from './AccessFields.js';

/** API tokens for scripts: create one (its secret shown once), see them all, revoke one. */
export function TokensPanel() {
  const prefix = useId();
  const tokens = useTokens();
  const createToken = useCreateToken();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [days, setDays] = useState('');
  const [scope, setScope] = useState<ScopeDraft>(EMPTY_SCOPE_DRAFT);
  const [problem, setProblem] = useState<string | null>(null);
  const errorId = `${prefix}-error`;

  function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (createToken.isPending) return;
    if (!name.trim()) {
      setProblem('Give the token a name (say which script uses it).');
      return;
    }
    let expiresInDays: number | undefined;
    if (days.trim()) {
      expiresInDays = Number(days);
      if (!Number.isSafeInteger(expiresInDays) || expiresInDays < 1 || expiresInDays > MAX_TOKEN_DAYS) {
        setProblem(`Expiry must be a whole number of days from 1 to ${MAX_TOKEN_DAYS}.`);
        return;
      }
    }
    setProblem(null);
    const tokenScope = scopeFromForm(scope.customer, scope.statuses);
    createToken.mutate(
      {
        name: name.trim(),
        role,
        ...(tokenScope ? { scope: tokenScope } : {}),
        ...(expiresInDays === undefined ? {} : { expires_in_days: expiresInDays }),
      },
      {
        onSuccess: () => {
          setName('');
          setDays('');
          setScope(EMPTY_SCOPE_DRAFT);
        },
        onError: (error) => setProblem(describeAdminProblem(error, 'create the token')),
      },
    );
  }

  return (
    <section className="panel admin-panel" aria-labelledby={`${prefix}-heading`}>
      <h2 id={`${prefix}-heading`}>API tokens</h2>
      <p className="muted">
        For scripts: sent as <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      {createToken.data && <NewTokenSecret created={createToken.data} onDone={() => createToken.reset()} />}
      <form className="admin-form" aria-label="New token" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={`${prefix}-name`}>Token name</label>
          <input
            id={`${prefix}-name`}
            autoComplete="off"
            value={name}
            onChange={(e) => setName(e.target.value)}
            {...(problem ? { 'aria-describedby': errorId } : {})}
          />
        </div>
        <RoleSelect id={`${prefix}-role`} value={role} onChange={setRole} />
        <div className="field">
          <label htmlFor={`${prefix}-days`}>Expires in (days)</label>
          <input
            id={`${prefix}-days`}
            inputMode="numeric"
            placeholder="90"
            autoComplete="off"
            value={days}
            onChange={(e) => setDays(e.target.value)}
          />
        </div>
        <ScopeFields idPrefix={prefix} draft={scope} onChange={setScope} />
        {problem && (
          <p id={errorId} className="form-error" role="alert">
            {problem}
          </p>
        )}
        <div className="form-actions">
          <button type="submit" className="primary" aria-disabled={createToken.isPending || undefined}>
            Create token
          </button>
        </div>
      </form>
      <TokenTable tokens={tokens.data} loading={tokens.isPending} error={tokens.error} />
    </section>
  );
}

/**
 * The secret of the token just created. It exists only here, in this answer: once dismissed it is gone from the page
 * and from memory, and the server never sends it again.
 */
function NewTokenSecret({ created, onDone }: { created: CreatedToken; onDone: () => void }) {
  const [copy, setCopy] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copySecret = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopy('copied');
    } catch {
      setCopy('failed');
    }
  };
  return (
    <div className="token-secret" role="region" aria-label={`Secret of token ${created.name}`}>
      <p>
        <strong>Copy the secret of “{created.name}” now:</strong> it is shown this once and cannot be read again.
      </p>
      <code className="secret">{created.token}</code>
      <div className="form-actions">
        <button type="button" className="primary" onClick={() => void copySecret()}>
          Copy token
        </button>
        <button type="button" onClick={onDone}>
          Done
        </button>
      </div>
      <p role="status" className="muted">
        {copy === 'copied'
          ? 'Copied to the clipboard.'
          : copy === 'failed'
            ? 'Copying failed: select it and copy.'
            : ''}
      </p>
    </div>
  );
}

function TokenTable({
  tokens,
  loading,
  error,
}: {
  tokens: ApiToken[] | undefined;
  loading: boolean;
  error: Error | null;
}) {
  const revokeToken = useRevokeToken();
  const [confirming, setConfirming] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  if (loading) return <p role="status">Loading tokens…</p>;
  if (error) return <p role="alert">{describeAdminProblem(error, 'list the tokens')}</p>;
  if (!tokens || tokens.length === 0) return <p className="muted">No tokens yet.</p>;

  const revoke = (token: ApiToken) => {
    setConfirming(null);
    setProblem(null);
    revokeToken.mutate(token.id, {
      onError: (e) => setProblem(describeAdminProblem(e, `revoke token “${token.name}”`)),
    });
  };

  return (
    <>
      {problem && (
        <p className="form-error" role="alert">
          {problem}
        </p>
      )}
      <table className="admin-table" aria-label="Tokens">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Sees</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">Created by</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((token) => (
            <tr key={token.id}>
              <th scope="row">{token.name}</th>
              <td>{ROLE_LABELS[token.role]}</td>
              <td>{describeScope(token.scope)}</td>
              <td>
                <time dateTime={token.expires_at}>{formatAbsolute(token.expires_at)}</time>
              </td>
              <td>
                {token.last_used_at ? (
                  <time dateTime={token.last_used_at}>{formatAbsolute(token.last_used_at)}</time>
                ) : (
                  'never'
                )}
              </td>
              <td>{token.created_by}</td>
              <td>
                {confirming === token.id ? (
                  <span role="group" aria-label={`Confirm revoking token ${token.name}`}>
                    <button type="button" className="danger" onClick={() => revoke(token)}>
                      Yes, revoke
                    </button>{' '}
                    <button type="button" onClick={() => setConfirming(null)}>
                      Keep
                    </button>
                  </span>
                ) : (
                  <button
                    type="button"
                    onClick={() => setConfirming(token.id)}
                    aria-label={`Revoke token ${token.name}`}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
