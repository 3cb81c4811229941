import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { makeOrder } from '@orders/client/testing';
import { FakeApi } from '../../../test/fakeApi.js';
import { renderDashboard } from '../../../test/render.js';

function updatedLine(id: number): string {
  const card = screen.getByRole('article', { name: `Order #${id}` });
  return within(card).getByText(/^Updated/).textContent;
}

describe('who changed an order', () => {
  it('names the author of a write made through the API, and no one for another client’s write', async () => {
    const view = renderDashboard(new FakeApi([makeOrder(1, 10, { updated_by: 'alice' }), makeOrder(2, 20)]));
    await screen.findByRole('list', { name: 'Orders' });
    expect(updatedLine(1)).toMatch(/ by alice$/);
    expect(updatedLine(2)).not.toContain(' by ');

    await waitFor(() => expect(view.sockets.sockets.length).toBe(1));
    const socket = view.sockets.latest();
    act(() => socket.accept());
    act(() => socket.push({ type: 'ready', protocol: 1, position: 'pos-0', resumed: true }));
    act(() =>
      socket.push({
        type: 'order.updated',
        order: makeOrder(2, 30, { version: 2, status: 'shipped', updated_by: 'nightly-import' }),
        position: 'pos-1',
      }),
    );
    await waitFor(() => expect(updatedLine(2)).toMatch(/ by nightly-import$/));
    // The next write came from elsewhere (a script on the database): the card no longer names the earlier author.
    act(() =>
      socket.push({
        type: 'order.updated',
        order: makeOrder(2, 40, { version: 3, status: 'delivered' }),
        position: 'pos-2',
      }),
    );
    await waitFor(() =>
      expect(within(screen.getByRole('article', { name: 'Order #2' })).getByText('Delivered')).toBeTruthy(),
    );
    expect(updatedLine(2)).not.toContain(' by ');
  });
});
