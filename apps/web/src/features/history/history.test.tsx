import { makeOrder, updated, type FakeSocket, type FakeSocketServer } from '@orders/client/testing';
import type { HistoryEntry, Order } from '@orders/contracts';
import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { boardOrder, connectionText } from '../../test/board.js';
import { apiError, FakeApi, json } from '../../test/fakeApi.js';
import { renderDashboard } from '../../test/render.js';

async function acceptSocket(server: FakeSocketServer): Promise<FakeSocket> {
  await waitFor(() => expect(server.sockets.length).toBeGreaterThan(0));
  const socket = server.sockets[0]!;
  act(() => socket.accept());
  act(() => socket.push({ type: 'ready', protocol: 1, position: 'pos-0', resumed: true }));
  return socket;
}

async function liveBoard(orders: Order[]) {
  const view = renderDashboard(new FakeApi(orders));
  await screen.findByRole('list', { name: 'Orders' });
  const socket = await acceptSocket(view.sockets);
  await waitFor(() => expect(connectionText()).toBe('Live'));
  return { ...view, socket };
}

function entry(position: string, order: Order, overrides: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    position,
    order_id: order.id,
    operation: 'updated',
    committed_at: order.updated_at,
    actor: 'alice',
    changes: [],
    order,
    ...overrides,
  };
}

function timelineItems(id: number): string[] {
  const list = screen.getByRole('list', { name: `Changes of order #${String(id)}, newest first` });
  return [...list.children].map((item) => item.textContent);
}

describe("an order's timeline", () => {
  it('shows who changed what and when, newest first, and a new change while it is open', async () => {
    const first = makeOrder(1, 10);
    const shipped = makeOrder(1, 20, { status: 'shipped', version: 2 });
    const { user, api, socket } = await liveBoard([first]);
    api.respondOnce('GET', '/orders/1/history', () =>
      json(200, {
        entries: [
          entry('p2', shipped, { changes: [{ field: 'status', before: 'pending', after: 'shipped' }] }),
          entry('p1', first, { operation: 'created', actor: 'external' }),
        ],
        next_cursor: null,
      }),
    );
    await user.click(screen.getByRole('button', { name: 'History of order #1' }));
    await waitFor(() => expect(timelineItems(1)).toHaveLength(2));
    expect(timelineItems(1)[0]).toContain('Updated by alice');
    expect(timelineItems(1)[0]).toContain('Status: pending → shipped');
    expect(timelineItems(1)[1]).toContain('Created by external');

    // The change reaches the board by socket; the timeline looks again until the history holds it.
    const delivered = makeOrder(1, 30, { status: 'delivered', version: 3 });
    const withNew = {
      entries: [
        entry('p3', delivered, { actor: 'bob', changes: [{ field: 'status', before: 'shipped', after: 'delivered' }] }),
        entry('p2', shipped),
        entry('p1', first, { operation: 'created' }),
      ],
      next_cursor: null,
    };
    // The first refetch races the history writer and comes back without it; the next one has it.
    api.respondOnce('GET', '/orders/1/history', () =>
      json(200, { entries: [entry('p2', shipped), entry('p1', first)], next_cursor: null }),
    );
    api.respondOnce('GET', '/orders/1/history', () => json(200, withNew));
    act(() => socket.push(updated(delivered, 'p3')));
    await waitFor(() => expect(timelineItems(1)).toHaveLength(3), { timeout: 5000 });
    expect(timelineItems(1)[0]).toContain('Updated by bob');
    expect(timelineItems(1)[0]).toContain('Status: shipped → delivered');

    await user.click(screen.getByRole('button', { name: 'Close history' }));
    expect(screen.queryByRole('region', { name: 'History of order #1' })).toBeNull();
  });

  it('says when the history cannot be loaded', async () => {
    const { user, api } = await liveBoard([makeOrder(1, 10)]);
    api.respondOnce('GET', '/orders/1/history', () =>
      apiError(503, 'DATABASE_UNAVAILABLE', 'The database is unavailable'),
    );
    await user.click(screen.getByRole('button', { name: 'History of order #1' }));
    const region = await screen.findByRole('region', { name: 'History of order #1' });
    expect((await within(region).findByRole('alert')).textContent).toContain('The database is unavailable');
  });
});

describe('the board as of a past moment', () => {
  it('shows the past board read-only, then the live board again without refetching it', async () => {
    const { user, api } = await liveBoard([makeOrder(1, 10), makeOrder(2, 20)]);
    const listFetches = () => api.calls('GET', '/orders').filter((call) => !call.search.has('as_of')).length;
    const before = listFetches();
    api.respondOnce('GET', '/orders', (request) => {
      expect(request.search.get('as_of')).toBe(new Date('2026-03-01T08:30:00').toISOString());
      return json(200, { orders: [makeOrder(1, 5, { product_name: 'Older' })], position: null, next_cursor: null });
    });
    await user.type(screen.getByLabelText('Show the board as of'), '2026-03-01T08:30:00');
    await user.click(screen.getByRole('button', { name: 'Show' }));
    const past = await screen.findByRole('region', { name: /^Board as of/ });
    await waitFor(() => expect(within(past).getAllByRole('article')).toHaveLength(1));
    expect(within(past).getByText('Older')).toBeTruthy();
    expect(screen.queryByRole('button', { name: /^Edit order/ })).toBeNull();
    expect(screen.queryByRole('form', { name: 'New order' })).toBeNull();

    await user.click(screen.getByRole('button', { name: 'Back to live' }));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #2', 'Order #1']));
    expect(listFetches()).toBe(before);
  });

  it('says why a moment cannot be shown', async () => {
    const { user, api } = await liveBoard([makeOrder(1, 10)]);
    api.respondOnce('GET', '/orders', () =>
      apiError(400, 'AS_OF_OUT_OF_RANGE', 'querystring/as_of must lie within the retention', 'querystring/as_of'),
    );
    await user.type(screen.getByLabelText('Show the board as of'), '2020-01-01T00:00:00');
    await user.click(screen.getByRole('button', { name: 'Show' }));
    const past = await screen.findByRole('region', { name: /^Board as of/ });
    expect((await within(past).findByRole('alert')).textContent).toContain('must lie within the retention');
  });
});

describe('for a viewer', () => {
  it('offers the timeline and the as-of control, but no control to change an order', async () => {
    const api = new FakeApi([makeOrder(1, 10)]);
    api.session = { username: 'vera', kind: 'user', role: 'viewer', scope: null };
    const view = renderDashboard(api);
    await screen.findByRole('list', { name: 'Orders' });
    await acceptSocket(view.sockets);
    expect(screen.queryByRole('button', { name: 'Edit order #1' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Delete order #1' })).toBeNull();
    expect(screen.queryByRole('form', { name: 'New order' })).toBeNull();
    expect(screen.getByLabelText('Show the board as of')).toBeTruthy();

    api.respondOnce('GET', '/orders/1/history', () =>
      json(200, { entries: [entry('p1', makeOrder(1, 10), { operation: 'created' })], next_cursor: null }),
    );
    await view.user.click(screen.getByRole('button', { name: 'History of order #1' }));
    await waitFor(() => expect(timelineItems(1)).toHaveLength(1));
    expect(timelineItems(1)[0]).toContain('Created by alice');
  });
});
