import { useSyncExternalStore } from 'react';

/** The pages of the dashboard, addressed by the URL's hash so the back button and bookmarks work without a router. */
export type Page = 'board' | 'admin';

/** The link to a page. */
export const PAGE_HREF: Record<Page, string> = { board: '#/', admin: '#/admin' };

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

function currentPage(): Page {
  return window.location.hash === PAGE_HREF.admin ? 'admin' : 'board';
}

/** The page the URL names (the board for anything else). */
export function useHashPage(): Page {
  return useSyncExternalStore(subscribe, currentPage, () => 'board');
}
