import { makeOrder, type FakeSocket, type FakeSocketServer } from '@orders/client/testing';
import {
  ORDER_STATUSES,
  type Order,
  type OrderEvent,
  type OrderStatus,
  type PreviousFields,
  type ServerMessage,
} from '@orders/contracts';
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { boardOrder } from '../../test/board.js';
import { ADMIN, deferred, FakeApi, json } from '../../test/fakeApi.js';
import { renderDashboard } from '../../test/render.js';

/*
 * The board holds a window of the book: the newest page at first, older pages as the reader scrolls. These tests give
 * the fake API more orders than one page (500) holds and check what the reader sees: the window patched by events for
 * orders it holds and orders it has not read yet, and counts that stay exact either way.
 */

const statusOf = (id: number): OrderStatus => ORDER_STATUSES[id % 3]!;

/** `count` orders; the highest id is the newest, statuses in turn. */
function book(count: number): Order[] {
  return Array.from({ length: count }, (_, i) => makeOrder(i + 1, i + 1, { status: statusOf(i + 1) }));
}

async function acceptSocket(server: FakeSocketServer, index = 0): Promise<FakeSocket> {
  await waitFor(() => expect(server.sockets.length).toBeGreaterThan(index));
  const socket = server.sockets[index]!;
  act(() => socket.accept());
  act(() => socket.push({ type: 'ready', protocol: 1, position: 'pos-0', resumed: true }));
  return socket;
}

function send(socket: FakeSocket, message: ServerMessage): void {
  act(() => socket.push(message));
}

/** Opens the board over `api` and narrows it to pending orders: the socket that serves that filter, and the orders. */
async function openPendingBoard(api: FakeApi) {
  const { sockets, user } = await openBoard(api);
  await user.click(screen.getByRole('checkbox', { name: 'Pending' }));
  // The feed restarts on the new filter, on a new socket.
  const filtered = await acceptSocket(sockets, 1);
  await waitFor(() => expect(filtered.subscriptions().at(-1)).toMatchObject({ filter: { status: ['pending'] } }));
  const pending = [...api.orders.values()].filter((o) => o.status === 'pending');
  await waitFor(() => expect(shownCounts()).toEqual({ pending: pending.length, shipped: 0, delivered: 0 }));
  return { filtered, pending };
}

/** What the "By status" panel shows, as numbers. */
function shownCounts(): Record<OrderStatus, number> {
  const panel = screen.getByRole('region', { name: 'By status' });
  const counts = { pending: 0, shipped: 0, delivered: 0 };
  for (const status of ORDER_STATUSES) {
    const label = within(panel).getByText(status[0]!.toUpperCase() + status.slice(1));
    counts[status] = Number((label.nextElementSibling?.textContent ?? '').replaceAll(',', ''));
  }
  return counts;
}

function countsOf(orders: Iterable<Order>): Record<OrderStatus, number> {
  const counts = { pending: 0, shipped: 0, delivered: 0 };
  for (const order of orders) counts[order.status]++;
  return counts;
}

function listReads(api: FakeApi) {
  return api.calls('GET', '/orders');
}

async function openBoard(api: FakeApi) {
  const view = renderDashboard(api);
  await screen.findByRole('list', { name: 'Orders' });
  const socket = await acceptSocket(view.sockets);
  await waitFor(() => expect(shownCounts()).toEqual(countsOf(api.orders.values())));
  return { ...view, socket };
}

/**
 * Scrolls the board until the row at `index` is shown. Rows are measured as they show (100 px each here; the ones not
 * shown yet count at the board's estimate), so the distance is corrected a few times as it goes.
 */
function scrollBoardTo(index: number): void {
  const scroller = screen.getByRole('region', { name: 'Order board' });
  for (let step = 0; step < 50; step++) {
    const row = scroller.querySelector<HTMLElement>(`[data-index="${index}"]`);
    if (row) {
      // Bring it to the top of the view, as the reader would.
      scroller.scrollTop = Number(/translateY\((\d+)px\)/.exec(row.style.transform)?.[1]);
      fireEvent.scroll(scroller);
      return;
    }
    const shown = [...scroller.querySelectorAll('[data-index]')].map((row) => Number(row.getAttribute('data-index')));
    const first = Math.min(...shown);
    const last = Math.max(...shown);
    scroller.scrollTop = Math.max(0, scroller.scrollTop + (index < first ? index - first : index - last) * 100);
    fireEvent.scroll(scroller);
  }
}

function previous(order: Order): PreviousFields {
  return { status: order.status, customer_name: order.customer_name };
}

function withPrevious(event: OrderEvent, before: Order): OrderEvent {
  return { ...event, previous: previous(before) } as OrderEvent;
}

describe('the board as a window of the book', () => {
  it('shows the newest page and the exact total before reading any older page', async () => {
    const api = new FakeApi(book(1200));
    await openBoard(api);
    expect(boardOrder()[0]).toBe('Order #1200');
    expect(screen.getByText('1,200 orders')).toBeTruthy();
    // One page read, without a cursor: the other 700 orders are not read until the reader scrolls.
    expect(listReads(api).map((r) => r.search.get('cursor'))).toEqual([null]);
    expect(api.calls('GET', '/orders/counts')).toHaveLength(1);
  });

  it('asks for the newest page while it checks who is signed in, and shows the board from that one read', async () => {
    const api = new FakeApi(book(1200));
    const me = deferred<Response>();
    api.respondOnce('GET', '/auth/me', () => me.promise);
    renderDashboard(api);
    await waitFor(() => expect(listReads(api)).toHaveLength(1));
    expect(screen.getByText('Checking who is signed in…')).toBeTruthy();
    act(() => me.resolve(json(200, ADMIN)));
    expect(await screen.findByRole('heading', { name: 'Order #1200' })).toBeTruthy();
    expect(listReads(api).map((r) => r.search.get('cursor'))).toEqual([null]);
  });

  it('reads the next page by its cursor when the reader scrolls near the end, with a loading row meanwhile', async () => {
    const api = new FakeApi(book(1200));
    await openBoard(api);
    const held = deferred<Response>();
    api.respondOnce('GET', '/orders', (request) => {
      const body = api.listBody(request.search);
      return held.promise.then(() => json(200, body));
    });
    scrollBoardTo(495);
    expect(await screen.findByRole('status', { name: 'Loading older orders' })).toBeTruthy();
    expect(listReads(api)[1]?.search.get('cursor')).toBeTruthy();
    act(() => held.resolve(json(200, {})));
    await screen.findByRole('heading', { name: 'Order #700' });
    // Orders 700 and below are the second page; the window now holds 1,000 and a third page remains.
    scrollBoardTo(990);
    await waitFor(() => expect(listReads(api)).toHaveLength(3));
    await screen.findByRole('heading', { name: 'Order #200' });
    scrollBoardTo(1195);
    await screen.findByRole('heading', { name: 'Order #1' });
    expect(screen.queryByRole('status', { name: 'Loading older orders' })).toBeNull();
    // Three long scrolls through measured rows: a bound for a busy machine, not a measurement.
  }, 30_000);

  it('moves an order it had not read to the top when it changes, and counts the status change', async () => {
    const api = new FakeApi(book(1200));
    const { socket } = await openBoard(api);
    const before = api.orders.get(3)!;
    expect(before.status).toBe('pending');
    const after = makeOrder(3, 5000, { status: 'delivered', version: 2 });
    const counts = shownCounts();
    send(socket, withPrevious({ type: 'order.updated', order: after, position: 'pos-1' }, before));
    await waitFor(() => expect(boardOrder()[0]).toBe('Order #3'));
    expect(shownCounts()).toEqual({ ...counts, pending: counts.pending - 1, delivered: counts.delivered + 1 });
    expect(screen.getByText('1,200 orders')).toBeTruthy();
  });

  it('puts a created order at the top and moves a loaded one from lower in the window, counting each once', async () => {
    const api = new FakeApi(book(1200));
    const { socket } = await openBoard(api);
    const counts = shownCounts();
    const fresh = makeOrder(5000, 6000, { status: 'shipped' });
    send(socket, { type: 'order.created', order: fresh, position: 'pos-1' });
    await waitFor(() => expect(boardOrder()[0]).toBe('Order #5000'), { timeout: 20_000 });
    expect(screen.getByText('1,201 orders')).toBeTruthy();
    const before = api.orders.get(1199)!;
    expect(before.status).toBe('delivered');
    const moved = makeOrder(1199, 6001, { status: 'pending', version: 2 });
    send(socket, withPrevious({ type: 'order.updated', order: moved, position: 'pos-2' }, before));
    // The same change again (a replay after a reconnect) changes nothing.
    send(socket, withPrevious({ type: 'order.updated', order: moved, position: 'pos-2' }, before));
    await waitFor(() => expect(boardOrder().slice(0, 3)).toEqual(['Order #1199', 'Order #5000', 'Order #1200']));
    expect(boardOrder().filter((title) => title === 'Order #1199')).toHaveLength(1);
    expect(shownCounts()).toEqual({
      pending: counts.pending + 1,
      shipped: counts.shipped + 1,
      delivered: counts.delivered - 1,
    });
    expect(screen.getByText('1,201 orders')).toBeTruthy();
  });

  it('counts a delete of an order it had not read, and removes a loaded one', async () => {
    const api = new FakeApi(book(1200));
    const { socket } = await openBoard(api);
    const counts = shownCounts();
    const unread = api.orders.get(4)!;
    const loaded = api.orders.get(1200)!;
    send(socket, withPrevious({ type: 'order.deleted', id: 4, position: 'pos-1' }, unread));
    send(socket, withPrevious({ type: 'order.deleted', id: 1200, position: 'pos-2' }, loaded));
    await waitFor(() => expect(boardOrder()[0]).toBe('Order #1199'));
    expect(screen.getByText('1,198 orders')).toBeTruthy();
    const expected = { ...counts };
    expected[unread.status]--;
    expected[loaded.status]--;
    expect(shownCounts()).toEqual(expected);
  });

  it('never brings back an order deleted while the page holding it was being read', async () => {
    const api = new FakeApi(book(1200));
    const { socket } = await openBoard(api);
    const held = deferred<Response>();
    api.respondOnce('GET', '/orders', (request) => {
      // Read before the delete: the page still holds order 650.
      const body = api.listBody(request.search);
      return held.promise.then(() => json(200, body));
    });
    scrollBoardTo(495);
    await waitFor(() => expect(listReads(api)).toHaveLength(2));
    api.orders.delete(650);
    send(socket, withPrevious({ type: 'order.deleted', id: 650, position: 'pos-1' }, makeOrder(650, 650)));
    await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
    act(() => held.resolve(json(200, {})));
    await screen.findByRole('heading', { name: 'Order #700' });
    scrollBoardTo(548);
    await screen.findByRole('heading', { name: 'Order #651' });
    expect(screen.queryByRole('heading', { name: 'Order #650' })).toBeNull();
    expect(boardOrder()).toContain('Order #649');
  });

  it('removes an order that leaves the filter and takes it out of the filtered counts', async () => {
    const api = new FakeApi(book(1200));
    const { filtered, pending } = await openPendingBoard(api);
    const top = boardOrder()[0];
    expect(top).toBe('Order #1200');
    send(filtered, withPrevious({ type: 'order.left', id: 1200, position: 'pos-1' }, api.orders.get(1200)!));
    await waitFor(() => expect(boardOrder()[0]).toBe('Order #1197'));
    expect(shownCounts()).toEqual({ pending: pending.length - 1, shipped: 0, delivered: 0 });
  });

  it('takes an order the window never read out of the filtered counts when it leaves the filter', async () => {
    const api = new FakeApi(book(1200));
    const { filtered, pending } = await openPendingBoard(api);
    const shownBefore = boardOrder();
    // Order 3 is pending but far below the first page of 500 pending orders.
    send(filtered, withPrevious({ type: 'order.left', id: 3, position: 'pos-1' }, api.orders.get(3)!));
    await waitFor(() => expect(shownCounts()).toEqual({ pending: pending.length - 1, shipped: 0, delivered: 0 }));
    expect(screen.getByText(`${(pending.length - 1).toLocaleString('en-US')} orders match`)).toBeTruthy();
    expect(boardOrder()).toEqual(shownBefore);
  });

  it('reads the counts again when an event does not say what an unread order was', async () => {
    const api = new FakeApi(book(1200));
    const { socket } = await openBoard(api);
    const after = makeOrder(5, 5000, { status: 'pending', version: 2 });
    api.orders.set(5, after);
    // The server has seen the change: counts read from now on include it.
    api.position = 'pos-1';
    send(socket, { type: 'order.updated', order: after, position: 'pos-1' });
    await waitFor(() => expect(api.calls('GET', '/orders/counts')).toHaveLength(2));
    await waitFor(() => expect(shownCounts()).toEqual(countsOf(api.orders.values())));
  });
});

describe('an older page that cannot be read', () => {
  it('says so in the loading row and reads it again on request', async () => {
    const api = new FakeApi(book(1200));
    await openBoard(api);
    api.respondOnce('GET', '/orders', () =>
      json(503, { statusCode: 503, error: 'x', code: 'DATABASE_UNAVAILABLE', message: 'down' }),
    );
    scrollBoardTo(495);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Older orders could not be loaded.');
    fireEvent.click(within(alert).getByRole('button', { name: 'Try again' }));
    await screen.findByRole('heading', { name: 'Order #700' });
    expect(listReads(api).map((r) => r.search.get('cursor') !== null)).toEqual([false, true, true]);
  });
});

describe('going to an order by id', () => {
  async function goTo(user: ReturnType<typeof renderDashboard>['user'], text: string) {
    const form = screen.getByRole('search', { name: 'Go to order' });
    const input = within(form).getByLabelText('Go to order');
    await user.clear(input);
    await user.type(input, text);
    await user.click(within(form).getByRole('button', { name: 'Open' }));
  }

  it('opens an order the window has not read, from GET /orders/:id', async () => {
    const api = new FakeApi(book(1200));
    const { user } = await openBoard(api);
    await goTo(user, '7');
    const opened = await screen.findByRole('region', { name: 'Opened order #7' });
    expect(within(opened).getByRole('article', { name: 'Order #7' })).toBeTruthy();
    expect(api.calls('GET', '/orders/7')).toHaveLength(1);
    // The opened card leads to the order's timeline like a card on the board.
    await user.click(within(opened).getByRole('button', { name: 'History of order #7' }));
    expect(await screen.findByRole('region', { name: 'History of order #7' })).toBeTruthy();
    expect(api.calls('GET', '/orders/7/history')).toHaveLength(1);
    await user.click(within(opened).getByRole('button', { name: 'Close' }));
    expect(screen.queryByRole('region', { name: 'Opened order #7' })).toBeNull();
  });

  it('shows the live copy of an order the window holds', async () => {
    const api = new FakeApi(book(1200));
    const { user, socket } = await openBoard(api);
    await goTo(user, '1199');
    const opened = await screen.findByRole('region', { name: 'Opened order #1199' });
    send(socket, {
      type: 'order.updated',
      order: makeOrder(1199, 5000, { status: 'delivered', product_name: 'Changed live', version: 2 }),
      position: 'pos-1',
      previous: previous(api.orders.get(1199)!),
    });
    await waitFor(() => expect(within(opened).getByText('Changed live')).toBeTruthy());
  });

  it('says when the order does not exist, and refuses what is not an id', async () => {
    const api = new FakeApi(book(10));
    const { user } = await openBoard(api);
    await goTo(user, '999');
    expect((await screen.findByRole('alert')).textContent).toBe('Order #999 does not exist.');
    await goTo(user, 'abc');
    expect((await screen.findByRole('alert')).textContent).toBe('An order id is a whole number from 1.');
    await goTo(user, '0');
    expect(screen.getByRole('alert').textContent).toBe('An order id is a whole number from 1.');
  });
});
