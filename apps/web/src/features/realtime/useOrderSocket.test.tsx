import {
  batch,
  created,
  deleted,
  left,
  makeOrder,
  updated,
  type FakeSocket,
  type FakeSocketServer,
} from '@orders/client/testing';
import type { Order, ServerMessage } from '@orders/contracts';
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { boardOrder, card, recordAnnouncements, connectionText } from '../../test/board.js';
import { deferred, FakeApi, json } from '../../test/fakeApi.js';
import { renderDashboard } from '../../test/render.js';
import { orderKeys } from '../orders/queries.js';
import { CHANGE_SUMMARY_MS } from './changeAnnouncements.js';

const SLOW_RECONNECTS = { baseMs: 60_000, capMs: 60_000, random: () => 0.5 };

/** Waits for socket number `index`, completes its handshake and answers `ready`. */
async function acceptSocket(
  server: FakeSocketServer,
  index: number,
  position: string | null = 'pos-0',
): Promise<FakeSocket> {
  await waitFor(() => expect(server.sockets.length).toBeGreaterThan(index));
  const socket = server.sockets[index]!;
  act(() => socket.accept());
  act(() => socket.push({ type: 'ready', protocol: 1, position, resumed: position !== null }));
  return socket;
}

function send(socket: FakeSocket, message: ServerMessage): void {
  act(() => socket.push(message));
}

/** Lets the page reach its next animation frame, where queued socket events are applied to the cache. */
async function nextFrame(): Promise<void> {
  await act(() => new Promise<void>((resolve) => requestAnimationFrame(() => resolve())));
}

async function liveBoard(orders: Order[]) {
  const view = renderDashboard(new FakeApi(orders));
  await screen.findByRole('list', { name: 'Orders' });
  const socket = await acceptSocket(view.sockets, 0);
  await waitFor(() => expect(connectionText()).toBe('Live'));
  return { ...view, socket };
}

describe('live board from the socket', () => {
  it('shows the loading state, then cards newest first, and subscribes since the snapshot position', async () => {
    const api = new FakeApi([makeOrder(1, 10), makeOrder(2, 30), makeOrder(3, 20)]);
    const held = deferred<Response>();
    api.respondOnce('GET', '/orders', (request) => {
      const body = api.listBody(request.search);
      return held.promise.then(() => json(200, body));
    });
    const view = renderDashboard(api);
    expect(await screen.findByRole('status', { name: 'Loading orders' })).toBeTruthy();
    expect(connectionText()).toBe('Connecting…');
    act(() => held.resolve(json(200, {})));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #2', 'Order #3', 'Order #1']));

    const socket = await acceptSocket(view.sockets, 0);
    expect(socket.url).toBe('ws://localhost/ws');
    expect(socket.subscriptions()).toEqual([{ type: 'subscribe', protocol: 1, since: 'pos-0' }]);
    await waitFor(() => expect(connectionText()).toBe('Live'));
  });

  it('shows a created order at the top, moves an updated one to the top without duplicating it, and removes a deleted one', async () => {
    const { socket } = await liveBoard([makeOrder(1, 10), makeOrder(2, 20)]);

    send(socket, created(makeOrder(3, 30, { customer_name: 'Carol' }), 'pos-1'));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #3', 'Order #2', 'Order #1']));
    expect(within(card(3)).getByText('Carol')).toBeTruthy();

    send(socket, updated(makeOrder(1, 40, { status: 'shipped', product_name: 'Kettle', version: 2 }), 'pos-2'));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #1', 'Order #3', 'Order #2']));
    expect(within(card(1)).getByText('Shipped')).toBeTruthy();
    expect(within(card(1)).getByText('Kettle')).toBeTruthy();

    send(socket, deleted(3, 'pos-3'));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #1', 'Order #2']));
  });

  it('applies a batch frame in order', async () => {
    const { socket } = await liveBoard([makeOrder(1, 10)]);
    send(
      socket,
      batch(
        created(makeOrder(2, 20), 'pos-1'),
        created(makeOrder(3, 30), 'pos-2'),
        updated(makeOrder(2, 40, { version: 2, status: 'delivered' }), 'pos-3'),
        deleted(1, 'pos-4'),
      ),
    );
    await waitFor(() => expect(boardOrder()).toEqual(['Order #2', 'Order #3']));
    expect(within(card(2)).getByText('Delivered')).toBeTruthy();
  });

  it('ignores frames that are not valid protocol messages and keeps going', async () => {
    const { socket } = await liveBoard([makeOrder(1, 10)]);
    act(() => socket.pushRaw('not json'));
    act(() => socket.pushRaw(JSON.stringify({ type: 'order.created', order: { id: 2 }, position: 'pos-1' })));
    act(() => socket.pushRaw(JSON.stringify({ type: 'order.deleted', id: -1, position: 'pos-1' })));
    send(socket, created(makeOrder(5, 50), 'pos-2'));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #5', 'Order #1']));
    expect(connectionText()).toBe('Live');
  });

  it('keeps the newer state when a duplicate or older event arrives later', async () => {
    const { socket } = await liveBoard([makeOrder(1, 10)]);
    send(socket, updated(makeOrder(1, 30, { version: 3, product_name: 'Newest' }), 'pos-3'));
    send(socket, updated(makeOrder(1, 20, { version: 2, product_name: 'Older' }), 'pos-2'));
    send(socket, updated(makeOrder(1, 30, { version: 3, product_name: 'Newest' }), 'pos-3'));
    await waitFor(() => expect(within(card(1)).getByText('Newest')).toBeTruthy());
    expect(screen.queryByText('Older')).toBeNull();
    expect(boardOrder()).toEqual(['Order #1']);
  });

  it('does not lose an event that arrives while the list is loading: the older list resolves, the event wins', async () => {
    const { socket, api, queryClient } = await liveBoard([makeOrder(1, 10), makeOrder(2, 20)]);
    const held = deferred<Response>();
    api.respondOnce('GET', '/orders', () => held.promise);
    act(() => void queryClient.resetQueries({ queryKey: orderKeys.lists() }));
    await screen.findByRole('status', { name: 'Loading orders' });

    send(
      socket,
      updated(makeOrder(1, 50, { version: 2, status: 'delivered', product_name: 'From the socket' }), 'pos-9'),
    );
    await nextFrame();
    expect(screen.getByRole('status', { name: 'Loading orders' })).toBeTruthy();
    // The list was read before that update: it still has version 1.
    act(() =>
      held.resolve(json(200, { orders: [makeOrder(2, 20), makeOrder(1, 10)], position: 'pos-0', next_cursor: null })),
    );

    await waitFor(() => expect(boardOrder()).toEqual(['Order #1', 'Order #2']));
    expect(within(card(1)).getByText('From the socket')).toBeTruthy();
    expect(within(card(1)).getByText('Delivered')).toBeTruthy();
  });

  it('cancels a list fetch in flight when an event arrives, so its older answer cannot overwrite the event', async () => {
    const { socket, api, queryClient } = await liveBoard([makeOrder(1, 10)]);
    const held = deferred<Response>();
    api.respondOnce('GET', '/orders', () => held.promise);
    act(() => void queryClient.refetchQueries({ queryKey: orderKeys.lists() }));
    await waitFor(() => expect(api.calls('GET', '/orders')).toHaveLength(2));

    send(socket, updated(makeOrder(1, 50, { version: 2, product_name: 'Live value' }), 'pos-5'));
    await waitFor(() => expect(within(card(1)).getByText('Live value')).toBeTruthy());
    act(() =>
      held.resolve(
        json(200, {
          orders: [makeOrder(1, 10, { product_name: 'Stale value' })],
          position: 'pos-0',
          next_cursor: null,
        }),
      ),
    );

    await waitFor(() => expect(queryClient.isFetching()).toBe(0));
    await nextFrame();
    expect(within(card(1)).getByText('Live value')).toBeTruthy();
    expect(screen.queryByText('Stale value')).toBeNull();
  });

  it('removes a card when its order leaves the filter', async () => {
    const { socket } = await liveBoard([makeOrder(1, 10), makeOrder(2, 20)]);
    send(socket, left(2, 'pos-1'));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #1']));
  });
});

describe('reading further down while orders arrive', () => {
  const many = Array.from({ length: 30 }, (_, i) => makeOrder(i + 1, i + 1));

  it('keeps the cards in view where they are when the board is scrolled', async () => {
    const { socket } = await liveBoard(many);
    const scroller = screen.getByRole('region', { name: 'Order board' });
    // Where a card's row sits in the scroller's view (rows are placed with translateY, 100 px each here).
    const onScreen = (id: number) => {
      const row = card(id).closest('li');
      const y = Number(/translateY\((-?[\d.]+)px\)/.exec(row?.style.transform ?? '')?.[1]);
      return y - scroller.scrollTop;
    };
    // As in a browser, moving the scroll position (the board's or the person's) reports a scroll event.
    let top = 0;
    Object.defineProperty(scroller, 'scrollTop', {
      get: () => top,
      set: (value: number) => {
        top = value;
        setTimeout(() => fireEvent.scroll(scroller));
      },
    });
    scroller.scrollTo = ((options: ScrollToOptions) => {
      scroller.scrollTop = options.top ?? top;
    }) as typeof scroller.scrollTo;
    scroller.scrollTop = 10 * 100;
    // Order #20 is the 11th card: the first in view.
    await waitFor(() => expect(onScreen(20)).toBe(0));
    send(socket, batch(created(makeOrder(31, 100), 'pos-1'), created(makeOrder(32, 101), 'pos-2')));
    await waitFor(() => expect(screen.getByText('32 orders')).toBeTruthy());
    await waitFor(() => expect(onScreen(20)).toBe(0));
    expect(scroller.scrollTop).toBeGreaterThan(10 * 100);

    // An order from below the view moving to the top also pushes the view down by that card.
    const before = scroller.scrollTop;
    send(socket, updated(makeOrder(2, 102, { version: 2 }), 'pos-3'));
    await screen.findByText('Order #2 updated: pending');
    await waitFor(() => expect(onScreen(20)).toBe(0));
    expect(scroller.scrollTop).toBeGreaterThan(before);
  });

  it('lets new orders push in when the board is at the top', async () => {
    const { socket } = await liveBoard(many);
    const scroller = screen.getByRole('region', { name: 'Order board' });
    send(socket, created(makeOrder(31, 100), 'pos-1'));
    await waitFor(() => expect(boardOrder()[0]).toBe('Order #31'));
    expect(scroller.scrollTop).toBe(0);
  });
});

describe('editing while the order changes elsewhere', () => {
  it('warns in the editor before saving, and can start again from the latest values', async () => {
    const { socket, user } = await liveBoard([makeOrder(1, 10, { product_name: 'Old' })]);
    await user.click(screen.getByRole('button', { name: 'Edit order #1' }));
    const form = screen.getByRole('form', { name: 'Edit order #1' });
    expect(within(form).queryByRole('status')).toBeNull();

    send(socket, updated(makeOrder(1, 20, { version: 2, product_name: 'Theirs' }), 'pos-1'));
    const note = await within(form).findByRole('status');
    expect(note.textContent).toContain('Order #1 has been changed elsewhere since you started editing');
    expect(within(form).getByLabelText<HTMLInputElement>('Product').value).toBe('Old');

    await user.click(within(note).getByRole('button', { name: 'Start again from the latest' }));
    expect(within(form).getByLabelText<HTMLInputElement>('Product').value).toBe('Theirs');
    expect(within(form).queryByRole('status')).toBeNull();
  });
});

describe('announcing changes', () => {
  it("summarises the changes made elsewhere, not this page's own, even when its echo comes before the answer", async () => {
    const { socket, user, api } = await liveBoard([makeOrder(1, 10), makeOrder(2, 20)]);
    const saved = makeOrder(1, 30, { product_name: 'Lamp', version: 2 });
    const held = deferred<Response>();
    api.respondOnce('PUT', '/orders/1', () => held.promise);
    const announcements = recordAnnouncements();

    await user.click(screen.getByRole('button', { name: 'Edit order #1' }));
    const form = screen.getByRole('form', { name: 'Edit order #1' });
    await user.clear(within(form).getByLabelText('Product'));
    await user.type(within(form).getByLabelText('Product'), 'Lamp{Enter}');
    await waitFor(() => expect(api.calls('PUT', '/orders/1')).toHaveLength(1));
    // The change feed is quicker than the answer: this page's own write comes back first, then someone else's.
    send(socket, updated(saved, 'pos-1'));
    send(socket, updated(makeOrder(2, 40, { status: 'shipped', version: 2 }), 'pos-2'));
    act(() => held.resolve(json(200, saved)));

    await waitFor(() => expect(announcements.said).toEqual(['Order #1 saved.', '1 order updated']), {
      timeout: CHANGE_SUMMARY_MS * 3,
    });
    announcements.stop();
    // The recent-activity list still shows both, and says which one this page made.
    const activity = within(screen.getByRole('list', { name: 'Recent activity' }));
    expect(activity.getAllByRole('listitem').map((item) => item.firstElementChild?.textContent)).toEqual([
      'Order #2 updated: shipped',
      'Order #1 updated: pending, by you',
    ]);
    // The summary waits a few seconds of real time: more than the default time a test may take.
  }, 30_000);
});

describe('connection and recovery', () => {
  it('shows reconnecting, then resumes since the last position it saw and shows live again', async () => {
    const { socket, sockets } = await liveBoard([makeOrder(1, 10)]);
    send(socket, created(makeOrder(2, 20), 'pos-7'));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #2', 'Order #1']));

    act(() => socket.drop(1006));
    await waitFor(() => expect(connectionText()).toBe('Reconnecting…'));

    const next = await acceptSocket(sockets, 1, 'pos-8');
    expect(next.subscriptions()).toEqual([{ type: 'subscribe', protocol: 1, since: 'pos-7' }]);
    await waitFor(() => expect(connectionText()).toBe('Live'));
    // A change made while away is replayed after the reconnect.
    send(next, created(makeOrder(3, 30), 'pos-8'));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #3', 'Order #2', 'Order #1']));
  });

  it('reconnects after the server closes for a slow consumer (4000) or going away (1001)', async () => {
    const { socket, sockets } = await liveBoard([makeOrder(1, 10)]);
    send(socket, deleted(1, 'pos-4'));
    act(() => socket.drop(4000));
    const second = await acceptSocket(sockets, 1);
    expect(second.subscriptions()[0]?.since).toBe('pos-4');
    act(() => second.drop(1001));
    const third = await acceptSocket(sockets, 2);
    expect(third.subscriptions()[0]?.since).toBe('pos-4');
    await waitFor(() => expect(connectionText()).toBe('Live'));
  });

  it('says offline after repeated failures, and keeps trying', async () => {
    const { socket, sockets } = await liveBoard([makeOrder(1, 10)]);
    act(() => socket.drop(1006));
    for (let attempt = 1; attempt <= 3; attempt++) {
      await waitFor(() => expect(sockets.sockets.length).toBe(attempt + 1));
      expect(connectionText()).toBe('Reconnecting…');
      act(() => sockets.latest().drop(1006));
    }
    await waitFor(() => expect(connectionText()).toBe('Offline'));
    await acceptSocket(sockets, 4);
    await waitFor(() => expect(connectionText()).toBe('Live'));
    // The board stayed on screen throughout.
    expect(boardOrder()).toEqual(['Order #1']);
  });

  it('says offline as soon as the browser loses the network, and reconnects at once when it is back', async () => {
    // Reconnects that would wait half a minute: only the network coming back can explain a new socket.
    const view = renderDashboard(new FakeApi([makeOrder(1, 10)]), SLOW_RECONNECTS);
    await screen.findByRole('list', { name: 'Orders' });
    const socket = await acceptSocket(view.sockets, 0);
    await waitFor(() => expect(connectionText()).toBe('Live'));
    send(socket, created(makeOrder(2, 20), 'pos-3'));

    act(() => socket.drop(1006));
    await waitFor(() => expect(connectionText()).toBe('Reconnecting…'));
    act(() => void window.dispatchEvent(new Event('offline')));
    expect(connectionText()).toBe('Offline');
    expect(view.sockets.sockets).toHaveLength(1);

    act(() => void window.dispatchEvent(new Event('online')));
    const next = await acceptSocket(view.sockets, 1, 'pos-3');
    expect(next.subscriptions()).toEqual([{ type: 'subscribe', protocol: 1, since: 'pos-3' }]);
    await waitFor(() => expect(connectionText()).toBe('Live'));
    expect(boardOrder()).toEqual(['Order #2', 'Order #1']);
  });

  it('answers resync with a quiet refetch and resubscribes since the new snapshot position', async () => {
    const { socket, sockets, api } = await liveBoard([makeOrder(1, 10)]);
    api.orders.set(2, makeOrder(2, 20));
    api.orders.delete(1);
    api.position = 'pos-50';
    const held = deferred<Response>();
    api.respondOnce('GET', '/orders', () => held.promise);

    send(socket, { type: 'resync', reason: 'history_lost' });
    await waitFor(() => expect(api.calls('GET', '/orders')).toHaveLength(2));
    // Quiet: the board stays, no loading state.
    expect(screen.queryByRole('status', { name: 'Loading orders' })).toBeNull();
    expect(boardOrder()).toEqual(['Order #1']);

    // An event arriving during the refetch is not overwritten by the (older) snapshot.
    send(socket, created(makeOrder(3, 30), 'pos-51'));
    act(() => held.resolve(json(200, api.listBody())));

    await waitFor(() => expect(boardOrder()).toEqual(['Order #3', 'Order #2']));
    const next = await acceptSocket(sockets, 1, 'pos-50');
    expect(next.subscriptions()).toEqual([{ type: 'subscribe', protocol: 1, since: 'pos-50' }]);
    expect(socket.closedWith).toBe(1000);
  });

  it('reads the list again once when it came without a position but the feed already has one', async () => {
    const api = new FakeApi([makeOrder(1, 10)]);
    api.respondOnce('GET', '/orders', () => json(200, { ...api.listBody(), position: null }));
    api.respondOnce('GET', '/orders', () => json(200, { ...api.listBody(), position: 'pos-3' }));
    const view = renderDashboard(api);
    await screen.findByRole('list', { name: 'Orders' });
    const first = await acceptSocket(view.sockets, 0, null);
    expect(first.subscriptions()).toEqual([{ type: 'subscribe', protocol: 1 }]);
    act(() => first.push({ type: 'ready', protocol: 1, position: 'pos-2', resumed: false }));
    const second = await acceptSocket(view.sockets, 1, 'pos-3');
    expect(second.subscriptions()).toEqual([{ type: 'subscribe', protocol: 1, since: 'pos-3' }]);
    expect(api.calls('GET', '/orders')).toHaveLength(2);
  });

  it('shows an error state when the API is down, and recovers by itself when it is back', async () => {
    const api = new FakeApi([makeOrder(1, 10)]);
    // The read made while the page checks who is signed in, the board's own read and its first retry.
    for (let failure = 0; failure < 3; failure++) {
      api.respondOnce('GET', '/orders', () => Promise.reject(new TypeError('Failed to fetch')));
    }
    const view = renderDashboard(api);
    const announcements = recordAnnouncements();
    const error = await screen.findByText(/^The orders could not be loaded/);
    expect(error.textContent).toContain('The server cannot be reached.');
    expect(connectionText()).toBe('Offline');
    expect(view.sockets.sockets).toHaveLength(0);

    await waitFor(() => expect(boardOrder()).toEqual(['Order #1']));
    // Two failed reads, one announcement: the retry does not say it all again.
    expect(announcements.said).toEqual([
      'The orders could not be loaded: The server cannot be reached. The page keeps trying.',
    ]);
    announcements.stop();
    await acceptSocket(view.sockets, 0);
    await waitFor(() => expect(connectionText()).toBe('Live'));
  });
});

describe('filters', () => {
  it('resubscribes with the status filter and reads the filtered list', async () => {
    const { user, sockets, api } = await liveBoard([
      makeOrder(1, 10, { status: 'shipped' }),
      makeOrder(2, 20, { status: 'pending' }),
    ]);
    api.position = 'pos-20';
    await user.click(screen.getByRole('checkbox', { name: 'Shipped' }));

    await waitFor(() => expect(boardOrder()).toEqual(['Order #1']));
    const filteredRead = api.calls('GET', '/orders').at(-1);
    expect(filteredRead?.search.getAll('status')).toEqual(['shipped']);
    const socket = await acceptSocket(sockets, 1);
    expect(sockets.sockets[0]?.closedWith).toBe(1000);
    expect(socket.subscriptions()).toEqual([
      { type: 'subscribe', protocol: 1, filter: { status: ['shipped'] }, since: 'pos-20' },
    ]);

    send(socket, left(1, 'pos-21'));
    await waitFor(() => expect(screen.getByText('No orders match these filters.')).toBeTruthy());
  });

  it('debounces the search into one resubscription carrying the search', async () => {
    const { user, sockets, api } = await liveBoard([
      makeOrder(1, 10, { customer_name: 'Bob Marley' }),
      makeOrder(2, 20, { customer_name: 'Alice' }),
    ]);
    await user.type(screen.getByRole('searchbox', { name: 'Search' }), 'bob');
    await waitFor(() => expect(boardOrder()).toEqual(['Order #1']));
    const socket = await acceptSocket(sockets, 1);
    expect(socket.subscriptions()[0]?.filter).toEqual({ q: 'bob' });
    // One list read per settled search, not one per keystroke.
    expect(api.calls('GET', '/orders').map((r) => r.search.get('q'))).toEqual([null, 'bob']);
    expect(sockets.sockets).toHaveLength(2);
  });
});

describe('live figures', () => {
  it('counts orders per status and lists recent activity as it happens', async () => {
    const { socket } = await liveBoard([makeOrder(1, 10), makeOrder(2, 20, { status: 'shipped' })]);
    const counts = screen.getByRole('region', { name: 'By status' });
    expect(within(counts).getByText('Pending').nextSibling?.textContent).toBe('1');
    expect(within(counts).getByText('Shipped').nextSibling?.textContent).toBe('1');

    send(socket, updated(makeOrder(1, 30, { status: 'shipped', version: 2 }), 'pos-1'));
    send(socket, created(makeOrder(3, 40, { customer_name: 'Dora' }), 'pos-2'));
    await waitFor(() => expect(within(counts).getByText('Shipped').nextSibling?.textContent).toBe('2'));
    expect(within(counts).getByText('Pending').nextSibling?.textContent).toBe('1');

    const activity = screen.getByRole('list', { name: 'Recent activity' });
    const lines = within(activity)
      .getAllByRole('listitem')
      .map((li) => li.querySelector('span')?.textContent);
    expect(lines).toEqual(['Order #3 created for Dora', 'Order #1 updated: shipped']);
    expect(screen.getByRole('img', { name: /per second now, peak [1-9]\d* per second/ })).toBeTruthy();
  });
});
