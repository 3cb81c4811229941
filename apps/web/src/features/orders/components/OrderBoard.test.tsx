import type { Order } from '@orders/contracts';
import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { makeOrder } from '@orders/client/testing';
import { boardOrder, card, recordAnnouncements } from '../../../test/board.js';
import { apiError, deferred, FakeApi, json } from '../../../test/fakeApi.js';
import { renderDashboard } from '../../../test/render.js';

async function boardWith(orders: Order[]) {
  const view = renderDashboard(new FakeApi(orders));
  if (orders.length > 0) await screen.findByRole('list', { name: 'Orders' });
  else await screen.findByText('No orders yet.');
  return view;
}

function createForm(): HTMLElement {
  return screen.getByRole('form', { name: 'New order' });
}

async function fillCreateForm(
  user: ReturnType<typeof renderDashboard>['user'],
  id: string,
  customer: string,
  product: string,
) {
  const form = createForm();
  await user.type(within(form).getByLabelText('Order id'), id);
  await user.type(within(form).getByLabelText('Customer'), customer);
  await user.type(within(form).getByLabelText('Product'), product);
}

describe('creating an order', () => {
  it('shows the new card at the top before the server answers, and keeps it once accepted', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10)]);
    const answer = deferred<Response>();
    api.respondOnce('POST', '/orders', () => answer.promise);

    await fillCreateForm(user, '7', 'Grace', 'Compiler');
    await user.selectOptions(within(createForm()).getByLabelText('Status'), 'shipped');
    await user.click(screen.getByRole('button', { name: 'Create order' }));

    await waitFor(() => expect(boardOrder()).toEqual(['Order #7', 'Order #1']));
    expect(within(card(7)).getByText('Grace')).toBeTruthy();
    expect(within(card(7)).getByText(/Saving/)).toBeTruthy();
    expect(api.calls('POST', '/orders')[0]?.body).toEqual({
      id: 7,
      customer_name: 'Grace',
      product_name: 'Compiler',
      status: 'shipped',
    });

    act(() =>
      answer.resolve(
        json(201, makeOrder(7, 60, { customer_name: 'Grace', product_name: 'Compiler', status: 'shipped' })),
      ),
    );
    await waitFor(() => expect(within(card(7)).queryByText(/Saving/)).toBeNull());
    expect(boardOrder()).toEqual(['Order #7', 'Order #1']);
    expect(within(createForm()).getByLabelText<HTMLInputElement>('Order id').value).toBe('');
  });

  it('rolls back a duplicate id (409) and says so next to the id', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10)]);
    const answer = deferred<Response>();
    api.respondOnce('POST', '/orders', () => answer.promise);

    await fillCreateForm(user, '42', 'Ada', 'Engine');
    await user.click(screen.getByRole('button', { name: 'Create order' }));
    await waitFor(() => expect(boardOrder()).toEqual(['Order #42', 'Order #1']));

    act(() => answer.resolve(apiError(409, 'ORDER_EXISTS', 'Order 42 already exists')));
    const alert = await within(createForm()).findByRole('alert');
    expect(alert.textContent).toBe('Order #42 already exists. Choose another id.');
    expect(boardOrder()).toEqual(['Order #1']);
    const idInput = within(createForm()).getByLabelText('Order id');
    expect(idInput.getAttribute('aria-invalid')).toBe('true');
    // What was typed is still there to fix.
    expect(within(createForm()).getByLabelText<HTMLInputElement>('Customer').value).toBe('Ada');
  });

  it('does not put a second card on the board for an id it already shows, and reports the 409', async () => {
    const { user } = await boardWith([makeOrder(1, 10, { customer_name: 'Original' })]);
    await fillCreateForm(user, '1', 'Copy', 'Thing');
    await user.click(screen.getByRole('button', { name: 'Create order' }));
    expect(await within(createForm()).findByRole('alert')).toBeTruthy();
    expect(boardOrder()).toEqual(['Order #1']);
    expect(within(card(1)).getByText('Original')).toBeTruthy();
  });

  it('shows which field the server refused (400)', async () => {
    const { user, api } = await boardWith([]);
    api.respondOnce('POST', '/orders', () =>
      apiError(400, 'VALIDATION', 'must NOT have more than 200 characters', '/product_name'),
    );
    await fillCreateForm(user, '3', 'Lin', 'Too long');
    await user.click(screen.getByRole('button', { name: 'Create order' }));

    const alert = await within(createForm()).findByRole('alert');
    expect(alert.textContent).toBe('Order #3 was not saved: Product — must NOT have more than 200 characters');
    expect(within(createForm()).getByLabelText('Product').getAttribute('aria-invalid')).toBe('true');
    expect(within(createForm()).getByLabelText('Customer').getAttribute('aria-invalid')).toBeNull();
    expect(screen.getByText('No orders yet.')).toBeTruthy();
  });
});

describe('editing an order', () => {
  it('changes the card at once and moves it to the top, sending If-Match with the version shown', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10, { version: 4 }), makeOrder(2, 20)]);
    const answer = deferred<Response>();
    api.respondOnce('PUT', '/orders/1', () => answer.promise);

    await user.click(screen.getByRole('button', { name: 'Edit order #1' }));
    const form = screen.getByRole('form', { name: 'Edit order #1' });
    await user.selectOptions(within(form).getByLabelText('Status'), 'delivered');
    await user.clear(within(form).getByLabelText('Product'));
    await user.type(within(form).getByLabelText('Product'), 'Lamp');
    await user.click(within(form).getByRole('button', { name: 'Save' }));

    await waitFor(() => expect(boardOrder()).toEqual(['Order #1', 'Order #2']));
    expect(within(card(1)).getByText('Delivered')).toBeTruthy();
    expect(within(card(1)).getByText('Lamp')).toBeTruthy();
    const put = api.calls('PUT', '/orders/1')[0];
    expect(put?.body).toEqual({ product_name: 'Lamp', status: 'delivered' });
    expect(put?.headers.get('if-match')).toBe('"4"');

    act(() => answer.resolve(json(200, makeOrder(1, 90, { version: 5, status: 'delivered', product_name: 'Lamp' }))));
    await waitFor(() => expect(within(card(1)).queryByText(/Saving/)).toBeNull());
    expect(boardOrder()).toEqual(['Order #1', 'Order #2']);
  });

  it('rolls back when the order was edited elsewhere (412) and offers to reload it', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10, { product_name: 'Chair' }), makeOrder(2, 20)]);
    // Someone else changed order 1 meanwhile.
    api.orders.set(1, makeOrder(1, 30, { product_name: 'Table', version: 2 }));

    await user.click(screen.getByRole('button', { name: 'Edit order #1' }));
    const form = screen.getByRole('form', { name: 'Edit order #1' });
    await user.clear(within(form).getByLabelText('Customer'));
    await user.type(within(form).getByLabelText('Customer'), 'Mine');
    await user.click(within(form).getByRole('button', { name: 'Save' }));

    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain(
      'Order #1 was changed elsewhere while you were editing it. Your change was not saved.',
    );
    expect(boardOrder()).toEqual(['Order #2', 'Order #1']);
    expect(within(card(1)).getByText('Customer 1')).toBeTruthy();
    expect(screen.queryByText('Mine')).toBeNull();

    await user.click(within(alert).getByRole('button', { name: 'Reload order #1' }));
    const reloaded = await screen.findByRole('form', { name: 'Edit order #1' });
    expect(within(reloaded).getByLabelText<HTMLInputElement>('Product').value).toBe('Table');
    expect(api.calls('GET', '/orders/1')).toHaveLength(1);
    await user.click(within(reloaded).getByRole('button', { name: 'Cancel' }));
    expect(within(card(1)).getByText('Table')).toBeTruthy();
  });

  it('gives the edit back with the refused field marked (400)', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10)]);
    api.respondOnce('PUT', '/orders/1', () =>
      apiError(400, 'VALIDATION_FAILED', 'body/customer_name must match pattern "\\S"', 'body/customer_name'),
    );

    await user.click(screen.getByRole('button', { name: 'Edit order #1' }));
    const form = screen.getByRole('form', { name: 'Edit order #1' });
    await user.clear(within(form).getByLabelText('Customer'));
    await user.type(within(form).getByLabelText('Customer'), 'X');
    await user.click(within(form).getByRole('button', { name: 'Save' }));

    const reopened = await screen.findByRole('form', { name: 'Edit order #1' });
    expect(within(reopened).getByRole('alert').textContent).toBe(
      'Order #1 was not saved: Customer — must match pattern "\\S"',
    );
    const customer = within(reopened).getByLabelText<HTMLInputElement>('Customer');
    expect(customer.value).toBe('X');
    expect(customer.getAttribute('aria-invalid')).toBe('true');
    expect(within(card(1)).queryByText('Customer 1')).toBeNull();
    await user.click(within(reopened).getByRole('button', { name: 'Cancel' }));
    expect(within(card(1)).getByText('Customer 1')).toBeTruthy();
  });

  it('removes the card when the order no longer exists (404) and says so', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10), makeOrder(2, 20)]);
    api.orders.delete(1);
    await user.click(screen.getByRole('button', { name: 'Edit order #1' }));
    const form = screen.getByRole('form', { name: 'Edit order #1' });
    await user.selectOptions(within(form).getByLabelText('Status'), 'shipped');
    await user.click(within(form).getByRole('button', { name: 'Save' }));

    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Order #1 no longer exists.');
    await waitFor(() => expect(boardOrder()).toEqual(['Order #2']));
  });
});

describe('deleting an order', () => {
  it('asks first with the focus on "Keep", so pressing Enter twice keeps the order', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10), makeOrder(2, 20)]);
    screen.getByRole('button', { name: 'Delete order #2' }).focus();
    await user.keyboard('{Enter}');
    expect(document.activeElement).toBe(within(card(2)).getByRole('button', { name: 'Keep' }));
    await user.keyboard('{Enter}');
    // Kept, and the focus is back where it came from.
    expect(within(card(2)).queryByRole('button', { name: 'Yes, delete' })).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Delete order #2' }));
    expect(boardOrder()).toEqual(['Order #2', 'Order #1']);
    expect(api.calls('DELETE', '/orders/2')).toHaveLength(0);
  });

  it('closes the confirmation with Escape, keeping the order', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10)]);
    await user.click(screen.getByRole('button', { name: 'Delete order #1' }));
    await user.keyboard('{Escape}');
    expect(within(card(1)).queryByRole('button', { name: 'Yes, delete' })).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Delete order #1' }));
    expect(api.calls('DELETE', '/orders/1')).toHaveLength(0);
  });

  it('hides the card at once, moves the focus to the next card, says so, and sends nothing while Undo is offered', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10), makeOrder(2, 20), makeOrder(3, 30)]);
    const announcements = recordAnnouncements();
    await user.click(screen.getByRole('button', { name: 'Delete order #2' }));
    await user.click(within(card(2)).getByRole('button', { name: 'Yes, delete' }));

    expect(boardOrder()).toEqual(['Order #3', 'Order #1']);
    await waitFor(() => expect(document.activeElement).toBe(card(1)));
    expect(announcements.said).toEqual(['Order #2 deleted. Undo is offered above the board for a few seconds.']);
    const notice = screen.getByText('Order #2 deleted.').closest('li');
    expect(notice).toBeTruthy();
    expect(api.calls('DELETE', '/orders/2')).toHaveLength(0);

    // Undo: the card is back, with the focus on it, and nothing was ever sent.
    await user.click(screen.getByRole('button', { name: 'Undo deleting order #2' }));
    expect(boardOrder()).toEqual(['Order #3', 'Order #2', 'Order #1']);
    await waitFor(() => expect(document.activeElement).toBe(card(2)));
    expect(announcements.said.at(-1)).toBe('Order #2 is back.');
    expect(screen.queryByText('Order #2 deleted.')).toBeNull();
    expect(api.calls('DELETE', '/orders/2')).toHaveLength(0);
    announcements.stop();
  });

  it('sends the DELETE when the person dismisses the notice, and the card stays gone', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10), makeOrder(2, 20)]);
    const answer = deferred<Response>();
    api.respondOnce('DELETE', '/orders/2', () => answer.promise);
    await user.click(screen.getByRole('button', { name: 'Delete order #2' }));
    await user.click(within(card(2)).getByRole('button', { name: 'Yes, delete' }));
    await user.click(screen.getByRole('button', { name: 'Delete order #2 now, without waiting' }));

    await waitFor(() => expect(api.calls('DELETE', '/orders/2')).toHaveLength(1));
    expect(boardOrder()).toEqual(['Order #1']);
    act(() => answer.resolve(json(204, null)));
    await waitFor(() => expect(screen.queryByText('Order #2 deleted.')).toBeNull());
    expect(boardOrder()).toEqual(['Order #1']);
  });

  it('sends the DELETE by itself once the undo window is over', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10), makeOrder(2, 20)]);
    await user.click(screen.getByRole('button', { name: 'Delete order #2' }));
    await user.click(within(card(2)).getByRole('button', { name: 'Yes, delete' }));
    expect(api.calls('DELETE', '/orders/2')).toHaveLength(0);
    // A bound, well past the window: the notice goes and the request is made without anyone acting.
    await waitFor(() => expect(api.calls('DELETE', '/orders/2')).toHaveLength(1), { timeout: 20_000 });
    await waitFor(() => expect(screen.queryByText('Order #2 deleted.')).toBeNull());
    expect(boardOrder()).toEqual(['Order #1']);
  }, 30_000);

  it('sends a waiting delete at once when the page goes away, so a confirmed delete is not lost', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10), makeOrder(2, 20)]);
    await user.click(screen.getByRole('button', { name: 'Delete order #2' }));
    await user.click(within(card(2)).getByRole('button', { name: 'Yes, delete' }));
    act(() => {
      window.dispatchEvent(new Event('pagehide'));
    });
    await waitFor(() => expect(api.calls('DELETE', '/orders/2')).toHaveLength(1));
  });

  it('brings the card back with a message when the delete fails', async () => {
    const { user, api } = await boardWith([makeOrder(1, 10), makeOrder(2, 20)]);
    api.respondOnce('DELETE', '/orders/2', () => Promise.reject(new TypeError('Failed to fetch')));

    await user.click(screen.getByRole('button', { name: 'Delete order #2' }));
    await user.click(within(card(2)).getByRole('button', { name: 'Yes, delete' }));
    await user.click(screen.getByRole('button', { name: 'Delete order #2 now, without waiting' }));

    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Order #2 was not deleted: the server cannot be reached.');
    expect(boardOrder()).toEqual(['Order #2', 'Order #1']);
    await user.click(within(alert).getByRole('button', { name: 'Dismiss message' }));
    expect(screen.queryByRole('alert')).toBeNull();
  });
});

describe('focus and announcements while editing', () => {
  it('moves the focus into the form on Edit, and back to Edit on Escape', async () => {
    const { user } = await boardWith([makeOrder(1, 10)]);
    await user.click(screen.getByRole('button', { name: 'Edit order #1' }));
    const form = screen.getByRole('form', { name: 'Edit order #1' });
    expect(document.activeElement).toBe(within(form).getByLabelText('Customer'));
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('form', { name: 'Edit order #1' })).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Edit order #1' }));
  });

  it('returns the focus to the card after Cancel and after Save, and confirms the save politely', async () => {
    const { user } = await boardWith([makeOrder(1, 10), makeOrder(2, 20)]);
    const announcements = recordAnnouncements();
    await user.click(screen.getByRole('button', { name: 'Edit order #1' }));
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Edit order #1' }));

    await user.click(screen.getByRole('button', { name: 'Edit order #1' }));
    const form = screen.getByRole('form', { name: 'Edit order #1' });
    await user.clear(within(form).getByLabelText('Product'));
    await user.type(within(form).getByLabelText('Product'), 'Lamp{Enter}');
    // The card moved to the top; the focus went with it.
    await waitFor(() => expect(boardOrder()).toEqual(['Order #1', 'Order #2']));
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Edit order #1' })));
    await waitFor(() => expect(announcements.said).toEqual(['Order #1 saved.']));
    announcements.stop();
  });

  it('confirms a created order politely', async () => {
    const { user } = await boardWith([]);
    const announcements = recordAnnouncements();
    await fillCreateForm(user, '7', 'Ann', 'Desk');
    await user.click(within(createForm()).getByRole('button', { name: 'Create order' }));
    await waitFor(() => expect(announcements.said).toEqual(['Order #7 created.']));
    announcements.stop();
  });
});

describe('board states', () => {
  it('shows an empty state', async () => {
    renderDashboard(new FakeApi([]));
    expect(await screen.findByText('No orders yet.')).toBeTruthy();
  });

  it('shows each card with its status badge, its last update, and on request its exact times, version and author', async () => {
    const { user } = await boardWith([
      makeOrder(5, 10, {
        status: 'delivered',
        customer_name: 'Eve',
        product_name: 'Piano',
        version: 3,
        updated_by: 'ann',
      }),
    ]);
    const fifth = card(5);
    expect(within(fifth).getByText('Delivered').closest('.badge')).toBeTruthy();
    expect(within(fifth).getByText('Eve')).toBeTruthy();
    expect(within(fifth).getByText('Piano')).toBeTruthy();
    expect(within(fifth).getByText(/^Updated/).textContent).toMatch(/ago by ann$/);

    // The exact local times are text (not a hover title), behind a control a keyboard reaches.
    const details = within(fifth).getByText('Details').closest('details');
    expect(details?.open).toBe(false);
    await user.click(within(fifth).getByText('Details'));
    expect(details?.open).toBe(true);
    const fact = (term: string) => within(fifth).getByText(term).nextElementSibling;
    expect(fact('Created')?.querySelector('time')?.getAttribute('datetime')).toBe('2026-03-01T09:10:00.000Z');
    expect(fact('Created')?.textContent).toMatch(/2026/);
    expect(fact('Last changed')?.textContent).toMatch(/2026/);
    expect(fact('Changed by')?.textContent).toBe('ann');
    expect(fact('Version')?.textContent).toBe('3');
  });

  it('is reachable by keyboard: tab to a card action and edit with Enter', async () => {
    const { user } = await boardWith([makeOrder(1, 10)]);
    const edit = screen.getByRole('button', { name: 'Edit order #1' });
    for (let step = 0; step < 20 && document.activeElement !== edit; step++) await user.tab();
    expect(document.activeElement).toBe(edit);
    await user.keyboard('{Enter}');
    expect(screen.getByRole('form', { name: 'Edit order #1' })).toBeTruthy();
  });
});
