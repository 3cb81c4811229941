import { screen, within } from '@testing-library/react';

/** The card titles on the board, top to bottom (none while the list is not shown). */
export function boardOrder(): string[] {
  const list = screen.queryByRole('list', { name: 'Orders' });
  if (!list) return [];
  return within(list)
    .getAllByRole('heading', { level: 3 })
    .map((heading) => heading.textContent);
}

/** The card of one order. */
export function card(id: number): HTMLElement {
  return screen.getByRole('article', { name: `Order #${id}` });
}

/** What the connection indicator says. */
export function connectionText(): string {
  return screen.getByRole('status', { name: /^Connection:/ }).textContent;
}
