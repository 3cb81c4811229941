import type { Me, Role } from '@orders/contracts';
import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { makeOrder } from '@orders/client/testing';
import { FakeApi } from '../../test/fakeApi.js';
import { boardOrder } from '../../test/board.js';
import { renderDashboard } from '../../test/render.js';

async function boardAs(role: Role) {
  const api = new FakeApi([makeOrder(1, 10)]);
  const me: Me = { username: `${role}-user`, kind: 'user', role, scope: null };
  api.session = me;
  const view = renderDashboard(api);
  await screen.findByRole('list', { name: 'Orders' });
  return view;
}

function cardButtons(): string[] {
  const card = screen.getByRole('article', { name: 'Order #1' });
  return within(card)
    .queryAllByRole('button')
    .map((button) => button.textContent);
}

describe('controls by role', () => {
  it('viewer: reads the board with no create form, no edit or delete, and no admin page', async () => {
    await boardAs('viewer');
    expect(screen.queryByRole('form', { name: 'New order' })).toBeNull();
    // The timeline only reads, so every role has it.
    expect(cardButtons()).toEqual(['History']);
    expect(screen.queryByRole('link', { name: 'Users and tokens' })).toBeNull();
    expect(screen.getByRole('region', { name: 'Account' }).textContent).toContain('Viewer');
  });

  it('operator: creates and edits, but is offered no delete and no admin page', async () => {
    await boardAs('operator');
    expect(screen.getByRole('form', { name: 'New order' })).toBeTruthy();
    expect(cardButtons()).toEqual(['Edit', 'History']);
    expect(screen.queryByRole('link', { name: 'Users and tokens' })).toBeNull();
  });

  it('admin: creates, edits, deletes, and reaches the users and tokens page', async () => {
    const { user } = await boardAs('admin');
    expect(screen.getByRole('form', { name: 'New order' })).toBeTruthy();
    expect(cardButtons()).toEqual(['Edit', 'Delete', 'History']);
    await user.click(screen.getByRole('link', { name: 'Users and tokens' }));
    expect(await screen.findByRole('heading', { name: 'API tokens' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Users and tokens' }).getAttribute('aria-current')).toBe('page');
    await user.click(screen.getByRole('link', { name: 'Board' }));
    expect(await screen.findByRole('list', { name: 'Orders' })).toBeTruthy();
  });

  it('a non-admin who opens the admin address gets the board, and no admin list is requested', async () => {
    window.location.hash = '#/admin';
    try {
      const { api } = await boardAs('operator');
      expect(screen.queryByRole('heading', { name: 'Users' })).toBeNull();
      expect(api.calls('GET', '/auth/users')).toEqual([]);
      expect(api.calls('GET', '/auth/tokens')).toEqual([]);
    } finally {
      window.location.hash = '';
    }
  });

  it('shows a scoped principal what it sees', async () => {
    const api = new FakeApi([makeOrder(1, 10, { customer_name: 'Bob Ltd' }), makeOrder(2, 20)]);
    api.session = { username: 'bob', kind: 'user', role: 'viewer', scope: { customer: 'bob', status: ['pending'] } };
    renderDashboard(api);
    await screen.findByRole('list', { name: 'Orders' });
    expect(boardOrder()).toEqual(['Order #1']);
    expect(screen.getByRole('region', { name: 'Account' }).textContent).toContain(
      'sees customer contains “bob” · Pending',
    );
  });
});
