import { useEffect, useEffectEvent } from 'react';
import { OPENER } from './components/OrderPanel.js';

/** The board's keyboard shortcuts, as the `?` list shows them. */
export const SHORTCUTS: readonly { key: string; does: string }[] = [
  { key: '/', does: 'Search' },
  { key: 'n', does: 'New order' },
  { key: 'j', does: 'Next order' },
  { key: 'k', does: 'Previous order' },
  { key: 'e', does: 'Edit the order in focus' },
  { key: '?', does: 'Show or hide this list' },
];

/** True while the reader types in a field: shortcuts are letters, and letters there are text. */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/** The cards' open links on the board, top to bottom. */
function cardLinks(): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>(`[aria-label="Orders"] ${OPENER}`)];
}

/** Moves focus to the next (1) or previous (-1) card, from the card in focus (or the first). */
function moveCard(step: 1 | -1): void {
  const links = cardLinks();
  const current = links.findIndex((link) => link.closest('article')?.contains(document.activeElement) === true);
  const next = links[current === -1 ? 0 : Math.min(links.length - 1, Math.max(0, current + step))];
  next?.focus();
}

/** Presses the Edit button of the card in focus. */
function editFocusedCard(): void {
  const card = document.activeElement?.closest('article');
  card?.querySelector<HTMLButtonElement>('button[aria-label^="Edit order"]')?.click();
}

/**
 * The board's keyboard shortcuts (`/` search, `n` new order, `j`/`k` next and previous card, `e` edit, `?` the list),
 * never while the reader types in a field or holds a modifier.
 */
export function useBoardShortcuts({
  focusSearch,
  toggleHelp,
}: {
  focusSearch: () => void;
  toggleHelp: () => void;
}): void {
  const onKey = useEffectEvent((event: KeyboardEvent) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    switch (event.key) {
      case '/':
        focusSearch();
        break;
      case 'n':
        document.querySelector<HTMLInputElement>('.create-panel input')?.focus();
        break;
      case 'j':
        moveCard(1);
        break;
      case 'k':
        moveCard(-1);
        break;
      case 'e':
        editFocusedCard();
        break;
      case '?':
        toggleHelp();
        break;
      default:
        return;
    }
    event.preventDefault();
  });
  useEffect(() => {
    const listener = (event: KeyboardEvent) => {
      onKey(event);
    };
    document.addEventListener('keydown', listener);
    return () => {
      document.removeEventListener('keydown', listener);
    };
  }, []);
}
