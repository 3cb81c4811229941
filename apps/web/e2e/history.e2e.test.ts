import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, signIn } from './support/browser.js';
import { E2E_ADMIN, E2E_TOKEN_NAME, scriptRequest, startStack, type Stack } from './support/stack.js';

/** How long a change may take to show up before the test gives up (a bound, not a measurement). */
const SHOWS_UP = { timeout: 20_000, interval: 100 };

let stack: Stack;
let browser: Browser;
let page: Page;

const opened: (() => Promise<void>)[] = [];

/** A request as a script makes it, with the stack's admin API token, so the timeline names the token (see `scriptRequest`). */
function http(method: string, path: string, body?: unknown): Promise<Response> {
  return scriptRequest(stack, method, path, body);
}

beforeAll(async () => {
  stack = await startStack(process.env);
  opened.push(() => stack.close());
  browser = await launchBrowser();
  opened.push(() => browser.close());
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(stack.baseUrl);
  await signIn(page, E2E_ADMIN.username, E2E_ADMIN.password);
  await page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout: SHOWS_UP.timeout });
});

afterAll(async () => {
  for (const close of opened.reverse()) await close();
});

describe("an order's timeline and the board as of a past moment", () => {
  it('opens the timeline of an order, and a new change appears in it while it is open', async () => {
    expect((await http('POST', '/orders', { id: 501, customer_name: 'Tess', product_name: 'Kettle' })).status).toBe(
      201,
    );
    await page.getByRole('button', { name: 'History of order #501' }).click();
    const timeline = page.getByRole('list', { name: 'Changes of order #501, newest first' });
    await expect
      .poll(() => timeline.getByRole('listitem').first().textContent(), SHOWS_UP)
      .toContain(`Created by ${E2E_TOKEN_NAME}`);

    expect((await http('PUT', '/orders/501', { status: 'shipped' })).status).toBe(200);
    await expect
      .poll(() => timeline.locator(':scope > li').first().textContent(), SHOWS_UP)
      .toContain('Status: pending → shipped');
    const entries = await timeline.locator(':scope > li').allTextContents();
    expect(entries).toHaveLength(2);
    expect(entries[0]).toContain(`Updated by ${E2E_TOKEN_NAME}`);
    expect(entries[1]).toContain(`Created by ${E2E_TOKEN_NAME}`);
  });

  it('shows the board as it was, read-only, and goes back to live without missing what changed meanwhile', async () => {
    await expect.poll(() => page.getByRole('article', { name: 'Order #501' }).count(), SHOWS_UP).toBe(1);
    // A moment after order 501 was shipped and before 502 exists.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const moment = new Date();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await http('POST', '/orders', { id: 502, customer_name: 'Uma', product_name: 'Toaster' })).status).toBe(
      201,
    );
    await expect.poll(() => page.getByRole('article', { name: 'Order #502' }).count(), SHOWS_UP).toBe(1);

    const local = new Date(moment.getTime() - moment.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    await page.getByLabel('Show the board as of').fill(local);
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    const past = page.getByRole('region', { name: /^Board as of/ });
    await expect.poll(() => past.getByRole('article').allTextContents(), SHOWS_UP).toHaveLength(1);
    expect(await past.getByRole('article', { name: 'Order #501 as it was' }).textContent()).toContain('Shipped');
    expect(await page.getByRole('button', { name: 'Edit order #501' }).count()).toBe(0);

    // A change made while the past board is shown is on the live board on return, without a reload.
    expect((await http('PUT', '/orders/502', { status: 'delivered' })).status).toBe(200);
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    await page.getByRole('button', { name: 'Back to live' }).click();
    await expect
      .poll(() => page.getByRole('article', { name: 'Order #502' }).textContent(), SHOWS_UP)
      .toContain('Delivered');
    expect(navigations).toEqual([]);
  });
});
