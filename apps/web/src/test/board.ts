import { screen, within } from '@testing-library/react';
import { ANNOUNCER_ID } from '../lib/announcer.js';

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

/**
 * Everything the page's polite live region says from now on, in order (each change of its text is one
 * announcement). Call after rendering; `stop` ends the recording.
 */
export function recordAnnouncements(): { said: string[]; stop: () => void } {
  const region = document.getElementById(ANNOUNCER_ID);
  if (!region) throw new Error('the page has no live region');
  const said: string[] = [];
  const observer = new MutationObserver(() => {
    const text = region.textContent.replace(/\u00a0$/, '');
    if (text) said.push(text);
  });
  observer.observe(region, { childList: true, characterData: true, subtree: true });
  return { said, stop: () => observer.disconnect() };
}
