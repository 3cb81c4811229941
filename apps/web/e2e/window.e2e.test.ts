import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, signIn } from './support/browser.js';
import { seedOrders } from './support/seed.js';
import { E2E_ADMIN, startStack, type Stack } from './support/stack.js';

/*
 * A book far larger than a page: the board must show its newest orders from the first page, before it asks for any
 * older page, and read older pages only as the reader scrolls. The test records what happened in which order (the
 * page's list requests and the first card showing), not how long anything took.
 */

const ORDERS = 50_000;
const WAIT = { timeout: 60_000 };

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack(process.env);
  browser = await launchBrowser();
  await seedOrders(stack.orders, ORDERS, Date.UTC(2026, 0, 1));
}, 300_000);

afterAll(async () => {
  await browser.close();
  await stack.close();
});

describe(`a board over ${ORDERS.toLocaleString('en-US')} orders`, () => {
  it('shows the first card before any older page is requested, and reads older pages as the reader scrolls', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    try {
      const events: string[] = [];
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.pathname === '/orders') events.push(url.searchParams.has('cursor') ? 'older page' : 'newest page');
        if (url.pathname === '/orders/counts') events.push('counts');
      });
      page.on('websocket', (socket) => {
        socket.on('framereceived', ({ payload }) => {
          if (typeof payload === 'string' && payload.startsWith('{"type":"resync"')) events.push('resync');
        });
      });
      await page.goto(stack.baseUrl);
      // The board opens once signed in: the requests recorded are the signed-in board's.
      await signIn(page, E2E_ADMIN.username, E2E_ADMIN.password);
      await page.getByRole('heading', { name: `Order #${ORDERS}` }).waitFor(WAIT);
      events.push('first card');
      await page.getByText(`${ORDERS.toLocaleString('en-US')} orders`).waitFor(WAIT);

      // Only newest pages before the first card (a resync while the feed catches up reads the newest page again).
      const beforeFirstCard = events.slice(0, events.indexOf('first card'));
      expect(beforeFirstCard).toContain('newest page');
      expect(events).not.toContain('older page');
      // Exact counts from the server, with nothing older read.
      expect(events).toContain('counts');
      const byStatus = page.getByRole('region', { name: 'By status' });
      expect(await byStatus.locator('dd').allTextContents()).toEqual(['16,666', '16,667', '16,667']);

      const board = page.getByRole('region', { name: 'Order board' });
      await board.evaluate((element) => {
        element.scrollTop = element.scrollHeight;
      });
      await page
        .getByRole('heading', { name: `Order #${ORDERS - 500}` })
        .waitFor(WAIT)
        .catch((error: unknown) => {
          throw new Error(`no older card; events: ${events.join(', ')}`, { cause: error });
        });
      expect(events.slice(events.indexOf('first card'))).toContain('older page');
      expect(events.indexOf('older page')).toBeGreaterThan(events.indexOf('first card'));
      // The DOM stays a window: a screenful of cards, not the thousand loaded.
      expect(await page.getByRole('article').count()).toBeLessThan(40);
    } finally {
      await page.close();
    }
  });
});
