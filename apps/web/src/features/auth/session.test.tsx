import { ErrorCode, type Order, type OrderEvent } from '@orders/contracts';
import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { makeOrder } from '@orders/client/testing';
import { ADMIN, apiError, FakeApi, makeUser } from '../../test/fakeApi.js';
import { boardOrder } from '../../test/board.js';
import { signInForm, submitSignIn as signIn } from '../../test/signIn.js';
import { renderDashboard } from '../../test/render.js';

const created = (order: Order, position: string): OrderEvent => ({ type: 'order.created', order, position });

type SocketServer = ReturnType<typeof renderDashboard>['sockets'];

async function acceptSocket(server: SocketServer, index: number, position = 'pos-0') {
  await waitFor(() => expect(server.sockets.length).toBeGreaterThan(index));
  const socket = server.sockets[index]!;
  act(() => socket.accept());
  act(() => socket.push({ type: 'ready', protocol: 1, position, resumed: true }));
  return socket;
}

/** A live board signed in as the fake API's admin, with one event applied after the snapshot. */
async function liveBoard(orders: Order[]) {
  const api = new FakeApi(orders);
  api.addUser(makeUser(1, 'admin', { role: 'admin' }), 'correct horse battery');
  api.addUser(makeUser(2, 'bob', { role: 'viewer', scope: { customer: 'Customer 2' } }), 'bob password 1234');
  const view = renderDashboard(api);
  await screen.findByRole('list', { name: 'Orders' });
  const socket = await acceptSocket(view.sockets, 0);
  act(() => socket.push(created(makeOrder(9, 90), 'pos-5')));
  await waitFor(() => expect(boardOrder()[0]).toBe('Order #9'));
  return { ...view, socket };
}

describe('returning to sign-in when the session ends', () => {
  it('on a socket closed with 4401: shows sign-in, then resumes the board since its last position without re-reading it', async () => {
    const { socket, sockets, api, user } = await liveBoard([makeOrder(1, 10), makeOrder(2, 20)]);
    const listReads = api.calls('GET', '/orders').length;

    api.session = null;
    act(() => socket.drop(4401));

    expect(await screen.findByRole('form', { name: 'Sign in' })).toBeTruthy();
    expect(screen.queryByRole('list', { name: 'Orders' })).toBeNull();
    expect(screen.getByRole('status').textContent).toBe(
      'The session of admin has ended. Sign in again to pick up where you left off.',
    );
    expect(within(signInForm()).getByLabelText<HTMLInputElement>('Username').value).toBe('admin');

    const opened = sockets.sockets.length;
    await signIn(user, 'admin', 'correct horse battery');
    await waitFor(() => expect(boardOrder()).toEqual(['Order #9', 'Order #2', 'Order #1']));
    await waitFor(() => expect(sockets.sockets.length).toBeGreaterThan(opened));
    const resumed = await acceptSocket(sockets, sockets.sockets.length - 1, 'pos-5');
    expect(resumed.subscriptions()).toEqual([{ type: 'subscribe', protocol: 1, since: 'pos-5' }]);
    expect(api.calls('GET', '/orders')).toHaveLength(listReads);
    // Every socket opened in between was closed by the page: only the resumed one is live.
    expect(sockets.sockets.filter((s) => s !== resumed && s.readyState === 1)).toEqual([]);

    act(() => resumed.push(created(makeOrder(10, 100), 'pos-6')));
    await waitFor(() => expect(boardOrder()[0]).toBe('Order #10'));
  });

  it('keeps the filters picked on the board across the return to sign-in', async () => {
    const { socket, sockets, api, user } = await liveBoard([makeOrder(1, 10), makeOrder(2, 20, { status: 'shipped' })]);
    await user.click(screen.getByRole('checkbox', { name: 'Shipped' }));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #2']));
    const filtered = await acceptSocket(sockets, sockets.sockets.length - 1, 'pos-0');
    expect(filtered).not.toBe(socket);

    api.session = null;
    act(() => filtered.drop(4401));
    await screen.findByRole('form', { name: 'Sign in' });
    await signIn(user, 'admin', 'correct horse battery');

    await waitFor(() => expect(boardOrder()).toEqual(['Order #2']));
    expect(screen.getByRole<HTMLInputElement>('checkbox', { name: 'Shipped' }).checked).toBe(true);
    const resumed = await acceptSocket(sockets, sockets.sockets.length - 1);
    expect(resumed.subscriptions()).toEqual([
      { type: 'subscribe', protocol: 1, filter: { status: ['shipped'] }, since: 'pos-0' },
    ]);
  });

  it('on a 401 from a write: shows sign-in, and the board comes back once signed in', async () => {
    const { api, user } = await liveBoard([makeOrder(1, 10)]);
    api.respondOnce('PUT', '/orders/1', () => {
      api.session = null;
      return apiError(401, ErrorCode.Unauthenticated, 'Sign in first');
    });
    await user.click(screen.getByRole('button', { name: 'Edit order #1' }));
    const editor = screen.getByRole('form', { name: 'Edit order #1' });
    await user.selectOptions(within(editor).getByLabelText('Status'), 'shipped');
    await user.click(within(editor).getByRole('button', { name: 'Save' }));

    expect(await screen.findByRole('form', { name: 'Sign in' })).toBeTruthy();
    await signIn(user, 'admin', 'correct horse battery');
    await waitFor(() => expect(boardOrder()).toEqual(['Order #9', 'Order #1']));
    // The refused edit was rolled back, not kept as if saved.
    expect(within(screen.getByRole('article', { name: 'Order #1' })).getByText('Pending')).toBeTruthy();
  });

  it('reads the board again when someone else signs in after the session ended, never showing them the old cards', async () => {
    const { socket, api, user } = await liveBoard([makeOrder(1, 10), makeOrder(2, 20)]);
    const listReads = api.calls('GET', '/orders').length;
    api.session = null;
    act(() => socket.drop(4401));
    await screen.findByRole('form', { name: 'Sign in' });

    await signIn(user, 'bob', 'bob password 1234');
    const account = await screen.findByRole('region', { name: 'Account' });
    expect(account.textContent).toContain('Signed in as bob');
    expect(boardOrder()).not.toContain('Order #9');
    await waitFor(() => expect(api.calls('GET', '/orders').length).toBe(listReads + 1));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #2']));
  });

  it('on a socket closed with 4403: asks who it is now and shows the new role without a sign-in', async () => {
    const { socket, api } = await liveBoard([makeOrder(1, 10)]);
    expect(screen.getByRole('button', { name: 'Delete order #1' })).toBeTruthy();

    api.session = { ...ADMIN, role: 'operator' };
    act(() => socket.drop(4403));

    await waitFor(() => expect(screen.queryByRole('button', { name: 'Delete order #1' })).toBeNull());
    expect(screen.getByRole('button', { name: 'Edit order #1' })).toBeTruthy();
    expect(screen.getByRole('region', { name: 'Account' }).textContent).toContain('Operator');
    expect(screen.queryByRole('form', { name: 'Sign in' })).toBeNull();
    expect(api.calls('GET', '/auth/me')).toHaveLength(2);
  });

  it('on a socket closed with 4403 after a scope change: reads the board again under the new scope', async () => {
    const { socket, api } = await liveBoard([makeOrder(1, 10), makeOrder(2, 20)]);
    const listReads = api.calls('GET', '/orders').length;
    api.session = { ...ADMIN, scope: { customer: 'Customer 1' } };
    act(() => socket.drop(4403));
    await waitFor(() => expect(api.calls('GET', '/orders').length).toBe(listReads + 1));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #1']));
    expect(screen.getByRole('region', { name: 'Account' }).textContent).toContain(
      'sees customer contains “Customer 1”',
    );
  });

  it('on a socket closed with 4403 when the session has in fact ended: shows sign-in', async () => {
    const { socket, api } = await liveBoard([makeOrder(1, 10)]);
    api.session = null;
    act(() => socket.drop(4403));
    expect(await screen.findByRole('form', { name: 'Sign in' })).toBeTruthy();
  });
});
