import { makeOrder } from '@orders/client/testing';
import type { Order } from '@orders/contracts';
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { boardOrder } from '../../../test/board.js';
import { FakeApi } from '../../../test/fakeApi.js';
import { renderDashboard } from '../../../test/render.js';

/*
 * The board's filters, search, sort and open order live in the URL: a reload (a fresh render on the same URL) shows
 * the same board, back and forward step through changes, and a link opens an order's panel.
 */

function shop(): Order[] {
  return [
    makeOrder(1, 10, {
      customer_name: 'Alice Martin',
      product_name: 'Winter gloves',
      created_at: makeOrder(0, 50).created_at,
    }),
    makeOrder(2, 20, { customer_name: 'Bob Stone', product_name: 'Leather gloves', status: 'shipped' }),
    makeOrder(3, 30, { customer_name: 'Carol Ng', product_name: 'Mug', status: 'shipped' }),
    makeOrder(1005, 5, { customer_name: 'Dora', product_name: 'Lamp', updated_by: 'ops-anna', version: 4 }),
  ];
}

async function openBoardAt(url: string, orders = shop()) {
  window.history.replaceState(null, '', url);
  const view = renderDashboard(new FakeApi(orders));
  await screen.findByRole('region', { name: 'Order board' }).catch(() => null);
  return view;
}

function searchBox(): HTMLInputElement {
  return screen.getByRole('searchbox', { name: 'Search' });
}

/** Steps through the session history as the browser's back and forward buttons do. */
async function go(delta: -1 | 1): Promise<void> {
  await act(async () => {
    const moved = new Promise((resolve) => window.addEventListener('popstate', resolve, { once: true }));
    window.history.go(delta);
    await moved;
  });
}

describe('the board in the URL', () => {
  it('shows the board the URL describes: status, search and sort, with the controls set to match', async () => {
    await openBoardAt('/?status=pending&status=shipped&q=gloves&sort=created');
    await waitFor(() => expect(boardOrder()).toEqual(['Order #1', 'Order #2']));
    expect(searchBox().value).toBe('gloves');
    expect(screen.getByRole<HTMLInputElement>('checkbox', { name: 'Pending' }).checked).toBe(true);
    expect(screen.getByRole<HTMLInputElement>('checkbox', { name: 'Delivered' }).checked).toBe(false);
    expect(screen.getByRole<HTMLSelectElement>('combobox', { name: 'Sort by' }).value).toBe('created');
  });

  it('finds an order by id, product or customer with one search box', async () => {
    const { user } = await openBoardAt('/');
    await waitFor(() => expect(boardOrder()).toHaveLength(4));
    await user.type(searchBox(), '1005');
    await waitFor(() => expect(boardOrder()).toEqual(['Order #1005']));
    await user.clear(searchBox());
    await user.type(searchBox(), 'glov');
    await waitFor(() => expect(boardOrder()).toEqual(['Order #2', 'Order #1']));
    await user.clear(searchBox());
    await user.type(searchBox(), 'stone');
    await waitFor(() => expect(boardOrder()).toEqual(['Order #2']));
    expect(new URLSearchParams(window.location.search).get('q')).toBe('stone');
  });

  it('writes each change to the URL, and back and forward return to the boards before and after', async () => {
    const { user } = await openBoardAt('/');
    await waitFor(() => expect(boardOrder()).toHaveLength(4));
    await user.click(screen.getByRole('checkbox', { name: 'Shipped' }));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #3', 'Order #2']));
    expect(window.location.search).toBe('?status=shipped');
    fireEvent.change(screen.getByRole('combobox', { name: 'Sort by' }), { target: { value: 'id' } });
    expect(window.location.search).toBe('?status=shipped&sort=id');

    await go(-1);
    expect(window.location.search).toBe('?status=shipped');
    expect(screen.getByRole<HTMLSelectElement>('combobox', { name: 'Sort by' }).value).toBe('updated');
    await go(-1);
    await waitFor(() => expect(boardOrder()).toHaveLength(4));
    expect(screen.getByRole<HTMLInputElement>('checkbox', { name: 'Shipped' }).checked).toBe(false);
    await go(1);
    await waitFor(() => expect(boardOrder()).toEqual(['Order #3', 'Order #2']));
  });

  it('clears filters, search and sort at once', async () => {
    const { user } = await openBoardAt('/?status=shipped&q=mug&sort=id');
    await waitFor(() => expect(boardOrder()).toEqual(['Order #3']));
    await user.click(screen.getByRole('button', { name: 'Clear filters' }));
    await waitFor(() => expect(boardOrder()).toHaveLength(4));
    expect(window.location.search).toBe('');
    expect(searchBox().value).toBe('');
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Clear filters' }).disabled).toBe(true);
  });

  it('says why a search of punctuation alone narrows nothing, and does not send it', async () => {
    const { user, api } = await openBoardAt('/');
    await waitFor(() => expect(boardOrder()).toHaveLength(4));
    await user.type(searchBox(), '**');
    expect(screen.getByText('The search must contain a letter or a digit.')).toBeTruthy();
    expect(searchBox().getAttribute('aria-invalid')).toBe('true');
    expect(api.calls('GET', '/orders').every((call) => call.search.get('q') === null)).toBe(true);
  });
});

describe('the order panel', () => {
  it('opens from a link to an order the board has not loaded, showing every field, and Escape closes it', async () => {
    const { user, api } = await openBoardAt('/?status=delivered&order=1005');
    const panel = await screen.findByRole('region', { name: 'Order #1005' });
    await waitFor(() => expect(within(panel).getByText('Lamp')).toBeTruthy());
    expect(api.calls('GET', '/orders/1005')).toHaveLength(1);
    const facts = Object.fromEntries(
      within(panel)
        .getAllByRole('term')
        .map((term) => [term.textContent, term.nextElementSibling?.textContent]),
    );
    const order = shop()[3]!;
    expect(facts).toMatchObject({
      'Order id': '#1005',
      Customer: 'Dora',
      Product: 'Lamp',
      Status: 'Pending',
      'Last changed by': 'ops-anna',
      Version: '4',
    });
    expect(
      within(panel)
        .getAllByRole('time')
        .map((time) => time.getAttribute('datetime')),
    ).toEqual([order.created_at, order.updated_at]);
    await user.click(within(panel).getByRole('button', { name: 'Show history' }));
    expect(await screen.findByRole('region', { name: 'History of order #1005' })).toBeTruthy();

    await user.keyboard('{Escape}');
    expect(screen.queryByRole('region', { name: 'Order #1005' })).toBeNull();
    expect(window.location.search).toBe('?status=delivered');
  });

  it('opens from a card, shows the live copy, and gives focus back to the card when closed', async () => {
    const { user } = await openBoardAt('/');
    await waitFor(() => expect(boardOrder()).toHaveLength(4));
    const link = screen.getByRole('link', { name: 'Order #3' });
    await user.click(link);
    const panel = await screen.findByRole('region', { name: 'Order #3' });
    expect(window.location.search).toBe('?order=3');
    expect(within(panel).getByText('Mug')).toBeTruthy();
    expect(within(panel).getByText('Not recorded (written outside the API)')).toBeTruthy();
    expect(document.activeElement).toBe(within(panel).getByRole('heading', { name: 'Order #3' }));
    await user.click(within(panel).getByRole('button', { name: 'Close' }));
    expect(screen.queryByRole('region', { name: 'Order #3' })).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole('link', { name: 'Order #3' }));
    await go(-1);
    expect(await screen.findByRole('region', { name: 'Order #3' })).toBeTruthy();
  });

  it('says so when the linked order does not exist', async () => {
    await openBoardAt('/?order=999');
    expect((await screen.findByRole('alert')).textContent).toBe(
      'Order #999 does not exist (or is outside what you may see).',
    );
  });
});
