import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openSignedInPage, readBoard } from './support/browser.js';
import { E2E_ADMIN, E2E_TOKEN_NAME, scriptRequest, startStack, type Stack } from './support/stack.js';

/* Finding orders, seeing one whole, and working on several at once, in Chromium against the real server. */

/** How long a change may take to show up before the test gives up (a bound, not a measurement). */
const SHOWS_UP = { timeout: 20_000, interval: 100 };

let stack: Stack;
let browser: Browser;
let page: Page;

const opened: (() => Promise<void>)[] = [];

function http(method: string, path: string, body?: unknown): Promise<Response> {
  return scriptRequest(stack, method, path, body);
}

const ids = async () => (await readBoard(page)).map((card) => card.id);

async function search(text: string): Promise<void> {
  const box = page.getByRole('searchbox', { name: 'Search' });
  await box.fill(text);
}

beforeAll(async () => {
  stack = await startStack(process.env);
  opened.push(() => stack.close());
  browser = await launchBrowser();
  opened.push(() => browser.close());
  page = await openSignedInPage(browser, stack.baseUrl, E2E_ADMIN, SHOWS_UP.timeout);
  for (const order of [
    { id: 301, customer_name: 'Alice Martin', product_name: 'Winter gloves' },
    { id: 302, customer_name: 'Bob Stone', product_name: 'Coffee mug' },
    { id: 303, customer_name: 'Carol Ng', product_name: 'Desk lamp' },
  ]) {
    const response = await http('POST', '/orders', order);
    if (response.status !== 201) throw new Error(`seeding order ${String(order.id)}: ${String(response.status)}`);
  }
});

afterAll(async () => {
  for (const close of opened.reverse()) await close();
});

describe('find, see whole, act on several', () => {
  it('finds an order by id, by product and by customer, and keeps the search in the URL', async () => {
    await expect.poll(ids, SHOWS_UP).toEqual([303, 302, 301]);
    await search('302');
    await expect.poll(ids, SHOWS_UP).toEqual([302]);
    await search('glov');
    await expect.poll(ids, SHOWS_UP).toEqual([301]);
    await search('carol');
    await expect.poll(ids, SHOWS_UP).toEqual([303]);
    expect(new URL(page.url()).searchParams.get('q')).toBe('carol');
    // A reload shows the same board.
    await page.reload();
    await expect.poll(ids, SHOWS_UP).toEqual([303]);
    expect(await page.getByRole('searchbox', { name: 'Search' }).inputValue()).toBe('carol');
  });

  it("opens an order's panel with every field, and Escape closes it", async () => {
    await page.getByRole('link', { name: 'Order #303' }).click();
    const panel = page.getByRole('region', { name: 'Order #303' });
    await panel.waitFor({ timeout: SHOWS_UP.timeout });
    const text = (await panel.textContent()) ?? '';
    for (const expected of ['Carol Ng', 'Desk lamp', 'Pending', 'Version1', `Last changed by${E2E_TOKEN_NAME}`]) {
      expect(text).toContain(expected);
    }
    expect(new URL(page.url()).searchParams.get('order')).toBe('303');
    await page.keyboard.press('Escape');
    await expect.poll(() => panel.count(), SHOWS_UP).toBe(0);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(ids, SHOWS_UP).toEqual([303, 302, 301]);
  });

  it('changes the status of two selected orders at once', async () => {
    await page.getByRole('checkbox', { name: 'Select order #301' }).check();
    await page.getByRole('checkbox', { name: 'Select order #302' }).check();
    const bulk = page.getByRole('region', { name: 'Selected orders' });
    await bulk.getByLabel('New status').selectOption('delivered');
    await bulk.getByRole('button', { name: 'Change status' }).click();
    await bulk.getByText('Changed to Delivered: 2 orders.').waitFor({ timeout: SHOWS_UP.timeout });
    for (const id of [301, 302]) {
      const order = (await (await http('GET', `/orders/${String(id)}`)).json()) as { status: string };
      expect(order.status).toBe('delivered');
    }
    expect(((await (await http('GET', '/orders/303')).json()) as { status: string }).status).toBe('pending');
  });

  it('exports the current filter as CSV', async () => {
    await page.getByRole('checkbox', { name: 'Delivered' }).check();
    await page.getByLabel('Sort by').selectOption('id');
    await expect.poll(ids, SHOWS_UP).toEqual([302, 301]);
    expect(new URL(page.url()).search).toBe('?status=delivered&sort=id');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export these orders as CSV' }).click(),
    ]);
    const path = await download.path();
    const lines = (await readFile(path, 'utf8')).split('\r\n');
    expect(lines[0]).toBe('id,customer_name,product_name,status,created_at,updated_at,version,updated_by');
    expect(lines.slice(1, -1).map((line) => line.split(',').slice(0, 4))).toEqual([
      ['302', 'Bob Stone', 'Coffee mug', 'delivered'],
      ['301', 'Alice Martin', 'Winter gloves', 'delivered'],
    ]);
  });
});
