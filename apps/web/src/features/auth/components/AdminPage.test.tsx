import { ErrorCode } from '@orders/contracts';
import { act, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiError, deferred, FakeApi, makeUser } from '../../../test/fakeApi.js';
import { renderDashboard } from '../../../test/render.js';

beforeEach(() => {
  window.location.hash = '#/admin';
});
afterEach(() => {
  window.location.hash = '';
});

function adminApi(): FakeApi {
  const api = new FakeApi();
  api.addUser(makeUser(1, 'admin', { role: 'admin' }), 'admin password 1');
  api.addUser(makeUser(2, 'carol', { role: 'viewer' }), 'carol password 1');
  return api;
}

async function adminPage(api = adminApi()) {
  const view = renderDashboard(api);
  await screen.findByRole('table', { name: 'Users' });
  return view;
}

function tokenForm(): HTMLElement {
  return screen.getByRole('form', { name: 'New token' });
}

function rowOf(table: string, name: string): HTMLElement {
  const row = within(screen.getByRole('table', { name: table }))
    .getAllByRole('row')
    .find((r) => within(r).queryByRole('rowheader')?.textContent.startsWith(name));
  if (!row) throw new Error(`no row for ${name} in ${table}`);
  return row;
}

describe('API tokens', () => {
  it('shows the secret of a new token once, with a copy button; after Done it is gone and the list never shows it', async () => {
    const { api, user, queryClient } = await adminPage();
    await user.type(within(tokenForm()).getByLabelText('Token name'), 'nightly-import');
    await user.selectOptions(within(tokenForm()).getByLabelText('Role'), 'operator');
    await user.type(within(tokenForm()).getByLabelText('Expires in (days)'), '30');
    await user.type(within(tokenForm()).getByLabelText('Only customers containing'), 'acme');
    await user.click(within(tokenForm()).getByRole('checkbox', { name: 'Shipped' }));
    await user.click(within(tokenForm()).getByRole('button', { name: 'Create token' }));

    const secret = await screen.findByRole('region', { name: 'Secret of token nightly-import' });
    const created = [...api.tokens.values()][0]!;
    const token = `ord_secret_${created.id}`;
    expect(within(secret).getByText(token)).toBeTruthy();
    expect(api.calls('POST', '/auth/tokens')[0]?.body).toEqual({
      name: 'nightly-import',
      role: 'operator',
      scope: { customer: 'acme', status: ['shipped'] },
      expires_in_days: 30,
    });

    await user.click(within(secret).getByRole('button', { name: 'Copy token' }));
    expect(await navigator.clipboard.readText()).toBe(token);
    expect(within(secret).getByRole('status').textContent).toBe('Copied to the clipboard.');

    const row = await waitFor(() => rowOf('Tokens', 'nightly-import'));
    expect(row.textContent).toContain('Operator');
    expect(row.textContent).toContain('customer contains “acme” · Shipped');
    expect(row.textContent).not.toContain(token);

    await user.click(within(secret).getByRole('button', { name: 'Done' }));
    expect(screen.queryByRole('region', { name: /^Secret of token/ })).toBeNull();
    expect(document.body.textContent).not.toContain(token);
    // Nor does the page keep it anywhere: not in the query cache, not in a finished mutation.
    await waitFor(() => expect(queryClient.getMutationCache().getAll()).toEqual([]));
    expect(
      JSON.stringify(
        queryClient
          .getQueryCache()
          .getAll()
          .map((q) => q.state.data),
      ),
    ).not.toContain(token);
    // The form is ready for the next token.
    expect(within(tokenForm()).getByLabelText<HTMLInputElement>('Token name').value).toBe('');
  });

  it('refuses a token without a name or with an expiry out of range, before sending anything', async () => {
    const { api, user } = await adminPage();
    await user.click(within(tokenForm()).getByRole('button', { name: 'Create token' }));
    expect((await within(tokenForm()).findByRole('alert')).textContent).toBe(
      'Give the token a name (say which script uses it).',
    );
    await user.type(within(tokenForm()).getByLabelText('Token name'), 'ci');
    await user.type(within(tokenForm()).getByLabelText('Expires in (days)'), '0');
    await user.click(within(tokenForm()).getByRole('button', { name: 'Create token' }));
    await waitFor(() =>
      expect(within(tokenForm()).getByRole('alert').textContent).toBe(
        'Expiry must be a whole number of days from 1 to 3650.',
      ),
    );
    expect(api.calls('POST', '/auth/tokens')).toEqual([]);
  });

  it('says why the server refused a token, and shows no secret', async () => {
    const { api, user } = await adminPage();
    api.respondOnce('POST', '/auth/tokens', () => apiError(400, ErrorCode.ValidationFailed, 'body/name is too long'));
    await user.type(within(tokenForm()).getByLabelText('Token name'), 'x');
    await user.click(within(tokenForm()).getByRole('button', { name: 'Create token' }));
    expect((await within(tokenForm()).findByRole('alert')).textContent).toBe(
      'Could not create the token: body/name is too long',
    );
    expect(screen.queryByRole('region', { name: /^Secret of token/ })).toBeNull();
  });

  it('revokes a token after a confirmation, and the list no longer has it', async () => {
    const { api, user } = await adminPage();
    await user.type(within(tokenForm()).getByLabelText('Token name'), 'old-script');
    await user.click(within(tokenForm()).getByRole('button', { name: 'Create token' }));
    await screen.findByRole('region', { name: 'Secret of token old-script' });
    const id = [...api.tokens.keys()][0]!;

    await user.click(await screen.findByRole('button', { name: 'Revoke token old-script' }));
    await user.click(screen.getByRole('button', { name: 'Yes, revoke' }));
    await waitFor(() => expect(screen.queryByRole('table', { name: 'Tokens' })).toBeNull());
    expect(screen.getByText('No tokens yet.')).toBeTruthy();
    expect(api.calls('DELETE', `/auth/tokens/${id}`)).toHaveLength(1);
  });
});

describe('users', () => {
  it('creates a user, who then appears in the list', async () => {
    const { api, user } = await adminPage();
    const form = screen.getByRole('form', { name: 'New user' });
    await user.type(within(form).getByLabelText('Username'), 'dave');
    await user.type(within(form).getByLabelText('Password'), 'a long enough password');
    await user.selectOptions(within(form).getByLabelText('Role'), 'operator');
    await user.click(within(form).getByRole('button', { name: 'Create user' }));

    expect((await within(form).findByRole('status')).textContent).toBe('User dave was created.');
    expect(api.calls('POST', '/auth/users')[0]?.body).toEqual({
      username: 'dave',
      password: 'a long enough password',
      role: 'operator',
    });
    const row = await waitFor(() => rowOf('Users', 'dave'));
    expect(within(row).getByRole<HTMLSelectElement>('combobox', { name: 'Role of dave' }).value).toBe('operator');
  });

  it('refuses a short password or a bad username before sending, and reports a taken username', async () => {
    const { api, user } = await adminPage();
    const form = screen.getByRole('form', { name: 'New user' });
    await user.type(within(form).getByLabelText('Username'), 'erin');
    await user.type(within(form).getByLabelText('Password'), 'short');
    await user.click(within(form).getByRole('button', { name: 'Create user' }));
    expect((await within(form).findByRole('alert')).textContent).toBe('The password needs at least 12 characters.');
    await user.clear(within(form).getByLabelText('Username'));
    await user.type(within(form).getByLabelText('Username'), 'no spaces allowed');
    await user.click(within(form).getByRole('button', { name: 'Create user' }));
    await waitFor(() => expect(within(form).getByRole('alert').textContent).toContain('A username is 1 to 64'));
    expect(api.calls('POST', '/auth/users')).toEqual([]);

    await user.clear(within(form).getByLabelText('Username'));
    await user.type(within(form).getByLabelText('Username'), 'carol');
    await user.clear(within(form).getByLabelText('Password'));
    await user.type(within(form).getByLabelText('Password'), 'a long enough password');
    await user.click(within(form).getByRole('button', { name: 'Create user' }));
    await waitFor(() =>
      expect(within(form).getByRole('alert').textContent).toBe(
        'Could not create user carol: User carol already exists',
      ),
    );
  });

  it('disables and enables a user', async () => {
    const { api, user } = await adminPage();
    const carol = [...api.users.values()].find((e) => e.user.username === 'carol')!.user;
    await user.click(within(rowOf('Users', 'carol')).getByRole('button', { name: 'Disable carol' }));
    await waitFor(() => expect(rowOf('Users', 'carol').textContent).toContain('Disabled'));
    expect(api.calls('PATCH', `/auth/users/${carol.id}`)[0]?.body).toEqual({ disabled: true });

    await user.click(within(rowOf('Users', 'carol')).getByRole('button', { name: 'Enable carol' }));
    await waitFor(() => expect(rowOf('Users', 'carol').textContent).toContain('Active'));
    expect(api.calls('PATCH', `/auth/users/${carol.id}`)[1]?.body).toEqual({ disabled: false });
  });

  it('changes a role and what a user sees', async () => {
    const { api, user } = await adminPage();
    const carol = [...api.users.values()].find((e) => e.user.username === 'carol')!.user;
    await user.selectOptions(within(rowOf('Users', 'carol')).getByRole('combobox', { name: 'Role of carol' }), 'admin');
    await waitFor(() => expect(api.users.get(carol.id)?.user.role).toBe('admin'));

    await user.click(within(rowOf('Users', 'carol')).getByRole('button', { name: 'Change what carol sees' }));
    const scopeForm = screen.getByRole('form', { name: 'What carol sees' });
    await user.type(within(scopeForm).getByLabelText('Only customers containing'), 'north');
    await user.click(within(scopeForm).getByRole('checkbox', { name: 'Pending' }));
    await user.click(within(scopeForm).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(rowOf('Users', 'carol').textContent).toContain('customer contains “north” · Pending'));
    expect(api.calls('PATCH', `/auth/users/${carol.id}`).map((c) => c.body)).toEqual([
      { role: 'admin' },
      { scope: { customer: 'north', status: ['pending'] } },
    ]);
  });

  it('resets a password, refusing a short one first', async () => {
    const { api, user } = await adminPage();
    const carol = [...api.users.values()].find((e) => e.user.username === 'carol')!.user;
    await user.click(within(rowOf('Users', 'carol')).getByRole('button', { name: 'Reset password of carol' }));
    const form = screen.getByRole('form', { name: 'New password for carol' });
    await user.type(within(form).getByLabelText('New password'), 'tiny');
    await user.click(within(form).getByRole('button', { name: 'Set password' }));
    expect((await within(form).findByRole('alert')).textContent).toBe('The password needs at least 12 characters.');
    expect(api.calls('PATCH', `/auth/users/${carol.id}`)).toEqual([]);

    await user.clear(within(form).getByLabelText('New password'));
    await user.type(within(form).getByLabelText('New password'), 'a brand new password');
    await user.click(within(form).getByRole('button', { name: 'Set password' }));
    await waitFor(() => expect(screen.queryByRole('form', { name: 'New password for carol' })).toBeNull());
    expect(api.users.get(carol.id)?.password).toBe('a brand new password');
  });

  it('offers no way to disable or demote yourself', async () => {
    await adminPage();
    const mine = rowOf('Users', 'admin');
    expect(within(mine).getByRole('rowheader').textContent).toBe('admin (you)');
    expect(within(mine).queryByRole('button', { name: 'Disable admin' })).toBeNull();
    expect(within(mine).getByRole<HTMLSelectElement>('combobox', { name: 'Role of admin' }).disabled).toBe(true);
    expect(within(rowOf('Users', 'carol')).getByRole('button', { name: 'Disable carol' })).toBeTruthy();
  });

  it('says why a change was refused', async () => {
    const { api, user } = await adminPage();
    const carol = [...api.users.values()].find((e) => e.user.username === 'carol')!.user;
    const answer = deferred<Response>();
    api.respondOnce('PATCH', `/auth/users/${carol.id}`, () => answer.promise);
    await user.click(within(rowOf('Users', 'carol')).getByRole('button', { name: 'Disable carol' }));
    act(() => answer.resolve(apiError(404, ErrorCode.UserNotFound, 'No such user')));
    expect((await screen.findByRole('alert')).textContent).toBe('Could not disable carol: No such user');
  });
});
