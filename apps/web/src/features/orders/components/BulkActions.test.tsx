import { makeOrder } from '@orders/client/testing';
import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { boardOrder } from '../../../test/board.js';
import { FakeApi } from '../../../test/fakeApi.js';
import { renderDashboard } from '../../../test/render.js';

/* Selecting orders and changing or deleting them at once, each write versioned; keyboard shortcuts; the export link. */

async function board(orders = [makeOrder(1, 10), makeOrder(2, 20), makeOrder(3, 30)]) {
  const api = new FakeApi(orders);
  const view = renderDashboard(api);
  await waitFor(() => expect(boardOrder()).toHaveLength(orders.length));
  return view;
}

function bulkPanel(): HTMLElement {
  return screen.getByRole('region', { name: 'Selected orders' });
}

describe('bulk actions', () => {
  it('changes the status of the selected orders, each with its version in If-Match', async () => {
    const { user, api } = await board();
    await user.click(screen.getByRole('checkbox', { name: 'Select order #1' }));
    await user.click(screen.getByRole('checkbox', { name: 'Select order #3' }));
    expect(within(bulkPanel()).getByText(/2 selected/)).toBeTruthy();
    await user.selectOptions(within(bulkPanel()).getByRole('combobox', { name: 'New status' }), 'delivered');
    await user.click(within(bulkPanel()).getByRole('button', { name: 'Change status' }));
    expect((await within(bulkPanel()).findByText('Changed to Delivered: 2 orders.')).getAttribute('role')).toBe(
      'status',
    );
    const puts = [...api.calls('PUT', '/orders/1'), ...api.calls('PUT', '/orders/3')];
    expect(puts.map((call) => [call.body, call.headers.get('if-match')])).toEqual([
      [{ status: 'delivered' }, '"1"'],
      [{ status: 'delivered' }, '"1"'],
    ]);
    expect(api.orders.get(2)?.status).toBe('pending');
  });

  it('reports a partial failure order by order: one changed by someone else is not overwritten', async () => {
    const { user, api } = await board();
    await user.click(within(bulkPanel()).getByRole('button', { name: 'Select all loaded (3)' }));
    // Someone else moves order 2 on before the bulk write lands.
    api.orders.set(2, { ...api.orders.get(2)!, status: 'shipped', version: 2 });
    await user.click(within(bulkPanel()).getByRole('button', { name: 'Delete selected' }));
    const alert = await within(bulkPanel()).findByRole('alert');
    expect(alert.textContent).toBe('1 of 3 failed: #2 changed by someone else.');
    expect([...api.orders.keys()]).toEqual([2]);
    expect(api.calls('DELETE', '/orders/1')[0]?.headers.get('if-match')).toBe('"1"');
  });

  it('offers no bulk actions and no checkboxes to a viewer', async () => {
    const api = new FakeApi([makeOrder(1, 10)]);
    api.session = { ...api.session!, role: 'viewer' };
    renderDashboard(api);
    await waitFor(() => expect(boardOrder()).toHaveLength(1));
    expect(screen.queryByRole('region', { name: 'Selected orders' })).toBeNull();
    expect(screen.queryByRole('checkbox', { name: 'Select order #1' })).toBeNull();
  });
});

describe('keyboard shortcuts and export', () => {
  it('/ focuses the search, j and k move between cards, e edits, ? lists them, never while typing', async () => {
    const { user } = await board();
    await user.keyboard('/');
    expect(document.activeElement).toBe(screen.getByRole('searchbox', { name: 'Search' }));
    await user.keyboard('j');
    // Typed into the search box, not taken as a shortcut.
    expect(screen.getByRole('searchbox', { name: 'Search' })).toHaveProperty('value', 'j');
    await user.clear(screen.getByRole('searchbox', { name: 'Search' }));
    (document.activeElement as HTMLElement).blur();
    await user.keyboard('j');
    expect(document.activeElement).toBe(screen.getByRole('link', { name: 'Order #3' }));
    await user.keyboard('j');
    expect(document.activeElement).toBe(screen.getByRole('link', { name: 'Order #2' }));
    await user.keyboard('k');
    expect(document.activeElement).toBe(screen.getByRole('link', { name: 'Order #3' }));
    await user.keyboard('e');
    expect(await screen.findByRole('button', { name: 'Save' })).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    (document.activeElement as HTMLElement).blur();
    await user.keyboard('?');
    const help = screen.getByRole('region', { name: 'Keyboard shortcuts' });
    expect(
      within(help)
        .getAllByRole('term')
        .map((term) => term.textContent),
    ).toEqual(['/', 'n', 'j', 'k', 'e', '?']);
    await user.keyboard('n');
    expect(document.activeElement?.closest('.create-panel')).not.toBeNull();
  });

  it('links the export to the current filter, search and sort', async () => {
    window.history.replaceState(null, '', '/?status=shipped&q=mug&sort=id');
    renderDashboard(new FakeApi([makeOrder(1, 10)]));
    const link = await screen.findByRole('link', { name: 'Export these orders as CSV' });
    expect(link.getAttribute('href')).toBe('/orders/export.csv?status=shipped&q=mug&sort=id');
  });
});
