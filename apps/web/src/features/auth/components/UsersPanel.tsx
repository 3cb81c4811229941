import {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  ROLES,
  USERNAME_PATTERN,
  type Role,
  type UpdateUserBody,
  type User,
} from '@orders/contracts';
import { useId, useState, type SubmitEvent } from 'react';
import { describeAdminProblem } from '../errors.js';
import { useCreateUser, useUpdateUser } from '../mutations.js';
import { useMe, useUsers } from '../queries.js';
import { describeScope, ROLE_LABELS, scopeFromForm } from '../scope.js';
import { EMPTY_SCOPE_DRAFT, RoleSelect, ScopeFields, type ScopeDraft } from './AccessFields.js';

const USERNAME = new RegExp(USERNAME_PATTERN);

/** Why a new password cannot be used, or null when it can. */
function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `The password needs at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password.length > MAX_PASSWORD_LENGTH) return `The password may have at most ${MAX_PASSWORD_LENGTH} characters.`;
  return null;
}

/** People who sign in to the dashboard: create one, change a role or scope, disable or enable, reset a password. */
export function UsersPanel() {
  const prefix = useId();
  const users = useUsers();
  const me = useMe().data;

  return (
    <section className="panel admin-panel" aria-labelledby={`${prefix}-heading`}>
      <h2 id={`${prefix}-heading`}>Users</h2>
      <CreateUserForm />
      {users.isPending ? (
        <p role="status">Loading users…</p>
      ) : users.isError ? (
        <p role="alert">{describeAdminProblem(users.error, 'list the users')}</p>
      ) : (
        <UserTable users={users.data} myName={me?.kind === 'user' ? me.username : undefined} />
      )}
    </section>
  );
}

function CreateUserForm() {
  const prefix = useId();
  const createUser = useCreateUser();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [scope, setScope] = useState<ScopeDraft>(EMPTY_SCOPE_DRAFT);
  const [problem, setProblem] = useState<string | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const errorId = `${prefix}-error`;

  function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (createUser.isPending) return;
    setCreated(null);
    const name = username.trim();
    if (!USERNAME.test(name)) {
      setProblem('A username is 1 to 64 letters, digits, “.”, “_”, “@” or “-”, starting with a letter or digit.');
      return;
    }
    const weak = passwordProblem(password);
    if (weak) {
      setProblem(weak);
      return;
    }
    setProblem(null);
    const userScope = scopeFromForm(scope.customer, scope.statuses);
    createUser.mutate(
      { username: name, password, role, ...(userScope ? { scope: userScope } : {}) },
      {
        onSuccess: (user) => {
          setUsername('');
          setPassword('');
          setScope(EMPTY_SCOPE_DRAFT);
          setCreated(`User ${user.username} was created.`);
        },
        onError: (error) => setProblem(describeAdminProblem(error, `create user ${name}`)),
      },
    );
  }

  return (
    <form className="admin-form" aria-label="New user" onSubmit={submit} noValidate>
      <div className="field">
        <label htmlFor={`${prefix}-username`}>Username</label>
        <input
          id={`${prefix}-username`}
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-password`}>Password</label>
        <input
          id={`${prefix}-password`}
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </div>
      <RoleSelect id={`${prefix}-role`} value={role} onChange={setRole} />
      <ScopeFields idPrefix={prefix} draft={scope} onChange={setScope} />
      {problem && (
        <p id={errorId} className="form-error" role="alert">
          {problem}
        </p>
      )}
      {created && (
        <p className="form-note" role="status">
          {created}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="primary" aria-disabled={createUser.isPending || undefined}>
          Create user
        </button>
      </div>
    </form>
  );
}

type RowEdit = { kind: 'scope'; draft: ScopeDraft } | { kind: 'password'; password: string } | null;

function UserTable({ users, myName }: { users: User[]; myName: string | undefined }) {
  const updateUser = useUpdateUser();
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const update = (user: User, changes: UpdateUserBody, action: string, onSuccess?: () => void) => {
    setProblem(null);
    setDone(null);
    updateUser.mutate(
      { id: user.id, changes },
      {
        onSuccess: () => {
          setDone(`${action[0]?.toUpperCase() ?? ''}${action.slice(1)}: done.`);
          onSuccess?.();
        },
        onError: (error) => setProblem(describeAdminProblem(error, action)),
      },
    );
  };

  if (users.length === 0) return <p className="muted">No users.</p>;
  return (
    <>
      {problem && (
        <p className="form-error" role="alert">
          {problem}
        </p>
      )}
      {done && (
        <p className="form-note" role="status">
          {done}
        </p>
      )}
      <table className="admin-table" aria-label="Users">
        <thead>
          <tr>
            <th scope="col">Username</th>
            <th scope="col">Role</th>
            <th scope="col">Sees</th>
            <th scope="col">State</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {users.map((user) => (
            <UserRow key={user.id} user={user} isMe={user.username === myName} update={update} />
          ))}
        </tbody>
      </table>
    </>
  );
}

function UserRow({
  user,
  isMe,
  update,
}: {
  user: User;
  isMe: boolean;
  update: (user: User, changes: UpdateUserBody, action: string, onSuccess?: () => void) => void;
}) {
  const prefix = useId();
  const [edit, setEdit] = useState<RowEdit>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const saveScope = (event: SubmitEvent<HTMLFormElement>, draft: ScopeDraft) => {
    event.preventDefault();
    update(user, { scope: scopeFromForm(draft.customer, draft.statuses) }, `change what ${user.username} sees`, () =>
      setEdit(null),
    );
  };

  const savePassword = (event: SubmitEvent<HTMLFormElement>, password: string) => {
    event.preventDefault();
    const weak = passwordProblem(password);
    setProblem(weak);
    if (weak) return;
    update(user, { password }, `reset the password of ${user.username}`, () => setEdit(null));
  };

  return (
    <tr className={user.disabled ? 'user-disabled' : undefined}>
      <th scope="row">
        {user.username}
        {isMe && <span className="muted"> (you)</span>}
      </th>
      <td>
        <select
          aria-label={`Role of ${user.username}`}
          // Demoting yourself could leave nobody able to manage access; another admin can do it.
          disabled={isMe}
          value={user.role}
          onChange={(e) => {
            const role = ROLES.find((r) => r === e.target.value);
            if (role) update(user, { role }, `make ${user.username} ${ROLE_LABELS[role].toLowerCase()}`);
          }}
        >
          {ROLES.map((role) => (
            <option key={role} value={role}>
              {ROLE_LABELS[role]}
            </option>
          ))}
        </select>
      </td>
      <td>
        {edit?.kind === 'scope' ? (
          <form aria-label={`What ${user.username} sees`} onSubmit={(e) => saveScope(e, edit.draft)}>
            <ScopeFields idPrefix={prefix} draft={edit.draft} onChange={(draft) => setEdit({ kind: 'scope', draft })} />
            <div className="form-actions">
              <button type="submit" className="primary">
                Save
              </button>
              <button type="button" onClick={() => setEdit(null)}>
                Cancel
              </button>
            </div>
          </form>
        ) : (
          <>
            {describeScope(user.scope)}{' '}
            <button
              type="button"
              aria-label={`Change what ${user.username} sees`}
              onClick={() =>
                setEdit({
                  kind: 'scope',
                  draft: { customer: user.scope?.customer ?? '', statuses: [...(user.scope?.status ?? [])] },
                })
              }
            >
              Change
            </button>
          </>
        )}
      </td>
      <td>{user.disabled ? 'Disabled' : 'Active'}</td>
      <td className="row-actions">
        {!isMe && (
          // Disabling yourself would end this very session and lock you out.
          <button
            type="button"
            onClick={() =>
              update(user, { disabled: !user.disabled }, `${user.disabled ? 'enable' : 'disable'} ${user.username}`)
            }
          >
            {user.disabled ? `Enable ${user.username}` : `Disable ${user.username}`}
          </button>
        )}
        {edit?.kind === 'password' ? (
          <form aria-label={`New password for ${user.username}`} onSubmit={(e) => savePassword(e, edit.password)}>
            <label htmlFor={`${prefix}-password`}>New password</label>
            <input
              id={`${prefix}-password`}
              type="password"
              autoComplete="new-password"
              value={edit.password}
              onChange={(e) => setEdit({ kind: 'password', password: e.target.value })}
              {...(problem ? { 'aria-invalid': true, 'aria-describedby': `${prefix}-password-error` } : {})}
            />
            {problem && (
              <p id={`${prefix}-password-error`} className="form-error" role="alert">
                {problem}
              </p>
            )}
            <button type="submit" className="primary">
              Set password
            </button>
            <button
              type="button"
              onClick={() => {
                setEdit(null);
                setProblem(null);
              }}
            >
              Cancel
            </button>
          </form>
        ) : (
          <button type="button" onClick={() => setEdit({ kind: 'password', password: '' })}>
            Reset password of {user.username}
          </button>
        )}
      </td>
    </tr>
  );
}
