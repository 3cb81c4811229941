import { ErrorCode } from '@orders/contracts';
import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { makeOrder } from '@orders/client/testing';
import { apiError, deferred, FakeApi, json, makeUser } from '../../../test/fakeApi.js';
import { boardOrder } from '../../../test/board.js';
import { signInForm, submitSignIn } from '../../../test/signIn.js';
import { renderDashboard } from '../../../test/render.js';

function signedOutApi(): FakeApi {
  const api = new FakeApi([makeOrder(1, 10)]);
  api.session = null;
  api.addUser(makeUser(1, 'alice', { role: 'operator' }), 'alice password 1');
  return api;
}

const form = signInForm;

describe('sign-in page', () => {
  it('shows sign-in, not the board, when the page is not signed in', async () => {
    const { api } = renderDashboard(signedOutApi());
    expect(await screen.findByRole('form', { name: 'Sign in' })).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'Orders', level: 2 })).toBeNull();
    // The newest page asked for while the page checked who it is was refused (401): no order is shown, and nothing
    // more is asked for.
    expect(screen.queryByText('Order #1')).toBeNull();
    expect(api.calls('GET', '/orders').map((r) => r.search.get('cursor'))).toEqual([null]);
    expect(api.calls('GET', '/orders/counts')).toEqual([]);
  });

  it('shows the board after signing in even though the page read on opening was refused', async () => {
    const { api, user } = renderDashboard(signedOutApi());
    await screen.findByRole('form', { name: 'Sign in' });
    await user.type(within(form()).getByLabelText('Username'), 'alice');
    await user.type(within(form()).getByLabelText('Password'), 'alice password 1');
    await user.click(within(form()).getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('heading', { name: 'Order #1' })).toBeTruthy();
    expect(api.calls('GET', '/orders')).toHaveLength(2);
  });

  it('signs in and shows the board, with who is signed in and the role in the header', async () => {
    const { api, user } = renderDashboard(signedOutApi());
    await screen.findByRole('form', { name: 'Sign in' });
    await submitSignIn(user, 'alice', 'alice password 1');

    await screen.findByRole('list', { name: 'Orders' });
    expect(api.calls('POST', '/auth/login')[0]?.body).toEqual({ username: 'alice', password: 'alice password 1' });
    const account = screen.getByRole('region', { name: 'Account' });
    expect(account.textContent).toContain('Signed in as alice');
    expect(account.textContent).toContain('Operator');
    expect(within(account).getByRole('button', { name: 'Sign out' })).toBeTruthy();
  });

  it('says the credentials are wrong without saying which, marks both fields and clears the password', async () => {
    const { user } = renderDashboard(signedOutApi());
    await screen.findByRole('form', { name: 'Sign in' });
    await submitSignIn(user, 'alice', 'not the password');

    const alert = await within(form()).findByRole('alert');
    expect(alert.textContent).toBe('Wrong username or password.');
    const password = within(form()).getByLabelText<HTMLInputElement>('Password');
    expect(password.value).toBe('');
    expect(password.getAttribute('aria-invalid')).toBe('true');
    expect(password.getAttribute('aria-describedby')).toBe(alert.id);
    expect(within(form()).getByLabelText('Username').getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(password);
    expect(screen.queryByRole('list', { name: 'Orders' })).toBeNull();
  });

  it('when throttled (429), says how long to wait from Retry-After', async () => {
    const { api, user } = renderDashboard(signedOutApi());
    api.respondOnce('POST', '/auth/login', () => {
      const response = apiError(429, ErrorCode.RateLimited, 'Too many attempts');
      response.headers.set('retry-after', '42');
      return response;
    });
    await screen.findByRole('form', { name: 'Sign in' });
    await submitSignIn(user, 'alice', 'alice password 1');
    expect((await within(form()).findByRole('alert')).textContent).toBe(
      'Too many sign-in attempts. Try again in 42 seconds.',
    );
  });

  it('asks for the missing field without sending anything', async () => {
    const { api, user } = renderDashboard(signedOutApi());
    await screen.findByRole('form', { name: 'Sign in' });
    await user.click(within(form()).getByRole('button', { name: 'Sign in' }));
    expect((await within(form()).findByRole('alert')).textContent).toBe('Enter your username.');
    await user.type(within(form()).getByLabelText('Username'), 'alice');
    await user.click(within(form()).getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(within(form()).getByRole('alert').textContent).toBe('Enter your password.'));
    expect(api.calls('POST', '/auth/login')).toEqual([]);
  });

  it('says so when the server cannot be reached, and signs in once a retry succeeds', async () => {
    const { api, user } = renderDashboard(signedOutApi());
    api.respondOnce('POST', '/auth/login', () => Promise.reject(new TypeError('Failed to fetch')));
    await screen.findByRole('form', { name: 'Sign in' });
    await submitSignIn(user, 'alice', 'alice password 1');
    expect((await within(form()).findByRole('alert')).textContent).toBe(
      'Sign-in failed: the server cannot be reached.',
    );
    await user.type(within(form()).getByLabelText('Password'), 'alice password 1');
    await user.click(within(form()).getByRole('button', { name: 'Sign in' }));
    await screen.findByRole('list', { name: 'Orders' });
  });

  it('sends one sign-in while the first is in flight, however often the button is pressed', async () => {
    const { api, user } = renderDashboard(signedOutApi());
    const answer = deferred<Response>();
    api.respondOnce('POST', '/auth/login', () => answer.promise);
    await screen.findByRole('form', { name: 'Sign in' });
    await submitSignIn(user, 'alice', 'alice password 1');
    await user.click(within(form()).getByRole('button', { name: 'Signing in…' }));
    expect(api.calls('POST', '/auth/login')).toHaveLength(1);
    api.session = { username: 'alice', kind: 'user', role: 'operator', scope: null };
    act(() => answer.resolve(json(200, api.session)));
    await screen.findByRole('list', { name: 'Orders' });
  });

  it('cannot tell who is signed in while the server is down: says so, and tries again on request', async () => {
    const api = signedOutApi();
    api.respondOnce('GET', '/auth/me', () => Promise.reject(new TypeError('Failed to fetch')));
    const { user } = renderDashboard(api);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The server cannot be reached');
    await user.click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('form', { name: 'Sign in' })).toBeTruthy();
  });
});

describe('signing out', () => {
  it('ends the session on the server, forgets the board and shows sign-in; the next user reads their own board', async () => {
    const api = new FakeApi([makeOrder(1, 10), makeOrder(2, 20)]);
    api.addUser(makeUser(1, 'alice', { role: 'viewer', scope: { customer: 'Customer 1' } }), 'alice password 1');
    const { user, queryClient } = renderDashboard(api);
    await screen.findByRole('list', { name: 'Orders' });

    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('form', { name: 'Sign in' })).toBeTruthy();
    expect(api.calls('POST', '/auth/logout')).toHaveLength(1);
    // Nobody is named as having been signed in: this was a sign-out, not an expiry.
    expect(screen.queryByRole('status')).toBeNull();
    expect(queryClient.getQueriesData({ queryKey: ['orders'] })).toEqual([]);

    await submitSignIn(user, 'alice', 'alice password 1');
    await screen.findByRole('list', { name: 'Orders' });
    expect(boardOrder()).toEqual(['Order #1']);
  });

  it('stays signed in and says why when the server cannot be reached to sign out', async () => {
    const api = new FakeApi([makeOrder(1, 10)]);
    api.respondOnce('POST', '/auth/logout', () => Promise.reject(new TypeError('Failed to fetch')));
    const { user } = renderDashboard(api);
    await screen.findByRole('list', { name: 'Orders' });
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    const account = screen.getByRole('region', { name: 'Account' });
    expect((await within(account).findByRole('alert')).textContent).toBe(
      'Could not sign out: the server cannot be reached.',
    );
    expect(screen.getByRole('list', { name: 'Orders' })).toBeTruthy();
  });
});
