import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionText, launchBrowser, readBoard, signIn, type CardText } from './support/browser.js';
import {
  E2E_ADMIN,
  E2E_TOKEN_NAME,
  scriptRequest,
  startStack,
  type OrderDocument,
  type Stack,
} from './support/stack.js';

/** Screenshots for review go to the git-ignored test-results/ at the repository root (copies in docs/screenshots). */
const SCREENSHOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test-results', 'screenshots');
/** How long a change may take to show up before the test gives up (a bound, not a measurement). */
const SHOWS_UP = { timeout: 20_000, interval: 100 };
const STATUS_LABEL = { pending: 'Pending', shipped: 'Shipped', delivered: 'Delivered' } as const;

let stack: Stack;
let browser: Browser;
let pageA: Page;
let pageB: Page;

/** Content-Security-Policy violations each page reported (DOM events and Chromium's console messages). */
const cspViolations: string[] = [];

/** Records every CSP violation `page` reports, from before its first script runs. */
async function watchCsp(page: Page): Promise<void> {
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) cspViolations.push(`${page.url()}: ${message.text()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
}

/** A new browser (its own cookies) on the dashboard, signed in as the stack's admin, with the board live. */
async function openBoard(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await watchCsp(page);
  await page.goto(stack.baseUrl);
  await signIn(page, E2E_ADMIN.username, E2E_ADMIN.password);
  await page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout: SHOWS_UP.timeout });
  return page;
}

/** A request as a script makes it, with the stack's admin API token (see `scriptRequest`). */
function http(method: string, path: string, body?: unknown): Promise<Response> {
  return scriptRequest(stack, method, path, body);
}

/** The database's orders as the board should show them: newest update first. */
async function databaseBoard(): Promise<CardText[]> {
  const docs = await stack.orders.find({}).sort({ updated_at: -1, _id: -1 }).toArray();
  return docs.map((doc) => ({
    id: doc._id,
    customer: doc.customer_name,
    product: doc.product_name,
    status: STATUS_LABEL[doc.status],
    // Named only for the version that actor wrote (README, "Who did it").
    actor: doc.updated_by_version === doc.version ? (doc.updated_by ?? '') : '',
  }));
}

function driverOrder(
  id: number,
  customer: string,
  product: string,
  status: OrderDocument['status'] = 'pending',
): OrderDocument {
  const now = new Date();
  return {
    _id: id,
    customer_name: customer,
    product_name: product,
    status,
    created_at: now,
    updated_at: now,
    version: 1,
  };
}

async function driverUpdate(
  id: number,
  set: Partial<Pick<OrderDocument, 'customer_name' | 'product_name' | 'status'>>,
) {
  await stack.orders.updateOne({ _id: id }, { $set: { ...set, updated_at: new Date() }, $inc: { version: 1 } });
}

const ids = async (page: Page) => (await readBoard(page)).map((card) => card.id);

/** What beforeAll opened so far, newest last: a setup that fails part-way still closes what it started. */
const opened: (() => Promise<void>)[] = [];

beforeAll(async () => {
  stack = await startStack(process.env);
  opened.push(() => stack.close());
  browser = await launchBrowser();
  opened.push(() => browser.close());
  pageA = await openBoard();
  pageB = await openBoard();
});

afterAll(async () => {
  for (const close of opened.reverse()) await close();
});

describe('two dashboards on the real server and the embedded database', () => {
  it('shows a write made over HTTP in both pages, at the top', async () => {
    const response = await http('POST', '/orders', {
      id: 101,
      customer_name: 'Bob',
      product_name: 'T-shirt',
      status: 'pending',
    });
    expect(response.status).toBe(201);
    for (const page of [pageA, pageB]) {
      await expect
        .poll(() => readBoard(page), SHOWS_UP)
        .toEqual([{ id: 101, customer: 'Bob', product: 'T-shirt', status: 'Pending', actor: E2E_TOKEN_NAME }]);
    }

    const update = await http('PUT', '/orders/101', { status: 'shipped', product_name: 'T-shirt XL' });
    expect(update.status).toBe(200);
    for (const page of [pageA, pageB]) {
      await expect
        .poll(() => readBoard(page), SHOWS_UP)
        .toEqual([{ id: 101, customer: 'Bob', product: 'T-shirt XL', status: 'Shipped', actor: E2E_TOKEN_NAME }]);
    }
  });

  it('shows an order created and edited through one page in the other', async () => {
    const form = pageA.getByRole('form', { name: 'New order' });
    await form.getByLabel('Order id').fill('102');
    await form.getByLabel('Customer').fill('Alice');
    await form.getByLabel('Product').fill('Mug');
    await form.getByLabel('Status').selectOption('pending');
    await form.getByRole('button', { name: 'Create order' }).click();
    for (const page of [pageA, pageB]) await expect.poll(() => ids(page), SHOWS_UP).toEqual([102, 101]);

    // Edit the older card: it moves to the top in both pages, without a duplicate.
    await pageB.getByRole('button', { name: 'Edit order #101' }).click();
    const editor = pageB.getByRole('form', { name: 'Edit order #101' });
    await editor.getByLabel('Status').selectOption('delivered');
    await editor.getByRole('button', { name: 'Save' }).click();
    for (const page of [pageA, pageB]) {
      await expect
        .poll(() => readBoard(page), SHOWS_UP)
        .toEqual([
          { id: 101, customer: 'Bob', product: 'T-shirt XL', status: 'Delivered', actor: 'admin' },
          { id: 102, customer: 'Alice', product: 'Mug', status: 'Pending', actor: 'admin' },
        ]);
    }
  });

  it('shows writes made directly through the driver (not the API) in both pages', async () => {
    await stack.orders.insertOne(driverOrder(103, 'Carol', 'Lamp'));
    for (const page of [pageA, pageB]) await expect.poll(() => ids(page), SHOWS_UP).toEqual([103, 101, 102]);
    // Written by another client: the card names nobody.
    for (const page of [pageA, pageB]) expect((await readBoard(page))[0]?.actor).toBe('');

    await driverUpdate(102, { status: 'shipped', customer_name: 'Alice B.' });
    for (const page of [pageA, pageB]) {
      await expect.poll(() => readBoard(page), SHOWS_UP).toEqual(await databaseBoard());
      expect((await readBoard(page))[0]).toMatchObject({
        id: 102,
        customer: 'Alice B.',
        product: 'Mug',
        status: 'Shipped',
      });
    }
  });

  it('removes a deleted card in both pages (deleted from a page, and over HTTP)', async () => {
    await pageA.getByRole('button', { name: 'Delete order #103' }).click();
    await pageA.getByRole('button', { name: 'Yes, delete' }).click();
    for (const page of [pageA, pageB]) await expect.poll(() => ids(page), SHOWS_UP).toEqual([102, 101]);

    expect((await http('DELETE', '/orders/101')).status).toBe(204);
    for (const page of [pageA, pageB]) await expect.poll(() => ids(page), SHOWS_UP).toEqual([102]);
    expect(await stack.orders.countDocuments()).toBe(1);
  });

  it('refuses a duplicate id from the page, rolls back and says why', async () => {
    const form = pageB.getByRole('form', { name: 'New order' });
    await form.getByLabel('Order id').fill('102');
    await form.getByLabel('Customer').fill('Someone else');
    await form.getByLabel('Product').fill('Clash');
    await form.getByRole('button', { name: 'Create order' }).click();
    await expect
      .poll(() => form.getByRole('alert').textContent(), SHOWS_UP)
      .toBe('Order #102 already exists. Choose another id.');
    expect(await readBoard(pageB)).toEqual(await databaseBoard());
  });

  it('after the connection is cut and writes happen meanwhile, reconnects by itself and shows exactly the database', async () => {
    await stack.stopApi();
    for (const page of [pageA, pageB]) await expect.poll(() => connectionText(page), SHOWS_UP).not.toBe('Live');

    // While no API is running: writes straight to the database.
    await stack.orders.insertOne(driverOrder(201, 'Dan', 'Desk', 'pending'));
    await stack.orders.insertOne(driverOrder(202, 'Erin', 'Chair', 'shipped'));
    await driverUpdate(102, { product_name: 'Mug (offline edit)' });
    await stack.orders.deleteOne({ _id: 201 });

    await stack.startApi();
    const expected = await databaseBoard();
    expect(expected.map((card) => card.id)).toEqual([102, 202]);
    for (const page of [pageA, pageB]) {
      await expect.poll(() => connectionText(page), { ...SHOWS_UP, timeout: 60_000 }).toBe('Live');
      await expect.poll(() => readBoard(page), SHOWS_UP).toEqual(expected);
    }

    // And the feed is live again after the resume.
    await http('POST', '/orders', { id: 203, customer_name: 'Finn', product_name: 'Sofa', status: 'delivered' });
    for (const page of [pageA, pageB])
      await expect.poll(() => readBoard(page), SHOWS_UP).toEqual(await databaseBoard());
  });

  it('filters by status and customer: the server sends only matching changes, and an order that stops matching leaves', async () => {
    const page = await openBoard();
    try {
      await page.getByRole('checkbox', { name: 'Shipped' }).check();
      const shipped = async () => (await databaseBoard()).filter((card) => card.status === 'Shipped');
      await expect.poll(() => readBoard(page), SHOWS_UP).toEqual(await shipped());
      await expect.poll(() => connectionText(page), SHOWS_UP).toBe('Live');

      // Starts matching: appears. Stops matching: leaves (order.left), while the database still has it.
      await http('PUT', '/orders/203', { status: 'shipped' });
      await expect.poll(() => ids(page), SHOWS_UP).toEqual((await shipped()).map((card) => card.id));
      expect((await readBoard(page))[0]?.id).toBe(203);
      await http('PUT', '/orders/202', { status: 'pending' });
      await expect.poll(() => ids(page), SHOWS_UP).toEqual((await shipped()).map((card) => card.id));
      expect(await ids(page)).not.toContain(202);

      await page.getByRole('searchbox', { name: 'Search' }).fill('fin');
      await expect.poll(() => ids(page), SHOWS_UP).toEqual([203]);
      await page.getByRole('searchbox', { name: 'Search' }).fill('');
      await page.getByRole('checkbox', { name: 'Shipped' }).uncheck();
      await expect.poll(() => readBoard(page), SHOWS_UP).toEqual(await databaseBoard());
    } finally {
      await page.close();
    }
  });

  it('runs under the strict Content-Security-Policy without a single violation (board and API docs)', async () => {
    const page = await browser.newPage();
    await watchCsp(page);
    try {
      const response = await page.goto(stack.baseUrl);
      const csp = (await response?.allHeaders())?.['content-security-policy'] ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      // The sign-in page runs under the same policy, then the live board.
      await signIn(page, E2E_ADMIN.username, E2E_ADMIN.password);
      await page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout: SHOWS_UP.timeout });
      await expect.poll(() => readBoard(page), SHOWS_UP).toEqual(await databaseBoard());
      await page.goto(`${stack.baseUrl}/docs`);
      await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: SHOWS_UP.timeout });
    } finally {
      await page.close();
    }
    // Every page of this file was watched from its first script: the live board pages through all the tests above.
    expect(cspViolations).toEqual([]);
  });

  it('saves a screenshot of the board for review', async () => {
    const seed: Array<[number, string, string, OrderDocument['status']]> = [
      [301, 'Grace Hopper', 'Compiler manual', 'pending'],
      [302, 'Alan Turing', 'Enigma rotor set', 'shipped'],
      [303, 'Ada Lovelace', 'Analytical engine gears', 'delivered'],
      [304, 'Katherine Johnson', 'Slide rule', 'pending'],
    ];
    for (const [id, customer, product, status] of seed) {
      expect(
        (await http('POST', '/orders', { id, customer_name: customer, product_name: product, status })).status,
      ).toBe(201);
    }
    await http('PUT', '/orders/202', { status: 'delivered' });
    await expect.poll(() => readBoard(pageA), SHOWS_UP).toEqual(await databaseBoard());
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    await pageA.mouse.move(0, 0);
    await pageA.screenshot({ path: join(SCREENSHOT_DIR, 'board.png'), fullPage: true });

    // The same board at phone width: one column, the board before the figures.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await phone.goto(stack.baseUrl);
    await signIn(phone, E2E_ADMIN.username, E2E_ADMIN.password);
    await expect.poll(() => readBoard(phone), SHOWS_UP).toEqual(await databaseBoard());
    const widths = await phone.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(widths[0]).toBe(widths[1]);
    await phone.screenshot({ path: join(SCREENSHOT_DIR, 'board-phone.png') });
    await phone.close();
    const counts = { pending: 0, shipped: 0, delivered: 0 };
    for (const doc of await stack.orders.find({}).toArray()) counts[doc.status]++;
    const shown = (await pageA.getByRole('region', { name: 'By status' }).textContent())?.replace(/\s+/g, '');
    expect(shown).toBe(`BystatusPending${counts.pending}Shipped${counts.shipped}Delivered${counts.delivered}`);
  });
});

/** What a request from the page itself gets for `/orders` (the page's own cookies, if any). */
function pageListStatus(page: Page): Promise<number> {
  return page.evaluate(() => fetch('/orders').then((response) => response.status));
}

/** Opens a WebSocket from the page: 'open', or how it closed. */
function pageSocketOutcome(page: Page): Promise<string> {
  return page.evaluate(
    () =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(`ws://${location.host}/ws`);
        socket.onopen = () => {
          socket.close();
          resolve('open');
        };
        socket.onclose = (event) => resolve(`closed ${event.code}`);
      }),
  );
}

describe('signing in and out of the dashboard', () => {
  it('shows sign-in first, goes live once signed in, and is protected again after signing out', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    try {
      await page.goto(stack.baseUrl);
      await page.getByRole('form', { name: 'Sign in' }).waitFor({ timeout: SHOWS_UP.timeout });
      await page.screenshot({ path: join(SCREENSHOT_DIR, 'sign-in.png') });
      expect(await readBoard(page)).toEqual([]);
      expect(await pageListStatus(page)).toBe(401);
      expect(await pageSocketOutcome(page)).not.toBe('open');

      await signIn(page, E2E_ADMIN.username, 'not the password');
      await expect
        .poll(() => page.getByRole('form', { name: 'Sign in' }).getByRole('alert').textContent(), SHOWS_UP)
        .toBe('Wrong username or password.');

      await signIn(page, E2E_ADMIN.username, E2E_ADMIN.password);
      await expect.poll(() => connectionText(page), SHOWS_UP).toBe('Live');
      await expect.poll(() => readBoard(page), SHOWS_UP).toEqual(await databaseBoard());
      expect(await page.getByRole('region', { name: 'Account' }).textContent()).toContain('Signed in as admin');

      expect((await http('POST', '/orders', { id: 501, customer_name: 'Ida', product_name: 'Kiln' })).status).toBe(201);
      await expect
        .poll(async () => (await readBoard(page))[0], SHOWS_UP)
        .toEqual({ id: 501, customer: 'Ida', product: 'Kiln', status: 'Pending', actor: E2E_TOKEN_NAME });

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('form', { name: 'Sign in' }).waitFor({ timeout: SHOWS_UP.timeout });
      expect(await readBoard(page)).toEqual([]);
      expect(await pageListStatus(page)).toBe(401);
      expect(await pageSocketOutcome(page)).not.toBe('open');
      await page.reload();
      await page.getByRole('form', { name: 'Sign in' }).waitFor({ timeout: SHOWS_UP.timeout });
      expect(await readBoard(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('returns to sign-in when an admin disables the signed-in user, and resumes the live board without a reload once they sign in again', async () => {
    const created = await http('POST', '/auth/users', {
      username: 'olivia',
      password: 'olivia password 1',
      role: 'operator',
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    try {
      await page.goto(stack.baseUrl);
      await signIn(page, 'olivia', 'olivia password 1');
      await expect.poll(() => connectionText(page), SHOWS_UP).toBe('Live');
      await page.evaluate(() => {
        document.documentElement.dataset.sameDocument = 'yes';
      });
      // An operator is offered no delete.
      expect(await page.getByRole('button', { name: /^Delete order/ }).count()).toBe(0);

      expect((await http('PATCH', `/auth/users/${id}`, { disabled: true })).status).toBe(200);
      await page.getByRole('form', { name: 'Sign in' }).waitFor({ timeout: SHOWS_UP.timeout });
      expect(await page.getByRole('status').first().textContent()).toContain('The session of olivia has ended');

      // Written while olivia is signed out: the resumed board must show it.
      expect((await http('POST', '/orders', { id: 502, customer_name: 'Jo', product_name: 'Anvil' })).status).toBe(201);
      expect((await http('PATCH', `/auth/users/${id}`, { disabled: false })).status).toBe(200);
      await signIn(page, 'olivia', 'olivia password 1');
      await expect.poll(() => connectionText(page), SHOWS_UP).toBe('Live');
      await expect.poll(() => readBoard(page), SHOWS_UP).toEqual(await databaseBoard());
      expect(await page.evaluate(() => document.documentElement.dataset.sameDocument)).toBe('yes');
    } finally {
      await page.close();
    }
  });

  it('manages users and tokens from the admin page against the real API: a token secret shown once, then revoked', async () => {
    const page = await openBoard();
    try {
      await page.getByRole('link', { name: 'Users and tokens' }).click();
      const users = page.getByRole('table', { name: 'Users' });
      await users.waitFor({ timeout: SHOWS_UP.timeout });
      expect(await users.getByRole('rowheader').allTextContents()).toEqual(
        expect.arrayContaining(['admin (you)', 'olivia']),
      );

      const form = page.getByRole('form', { name: 'New token' });
      await form.getByLabel('Token name').fill('nightly-report');
      await form.getByLabel('Role').selectOption('viewer');
      await form.getByLabel('Only customers containing').fill('ida');
      await form.getByRole('button', { name: 'Create token' }).click();
      const secretBox = page.getByRole('region', { name: 'Secret of token nightly-report' });
      await secretBox.waitFor({ timeout: SHOWS_UP.timeout });
      const secret = (await secretBox.locator('code').textContent()) ?? '';
      await page.mouse.move(0, 0);
      await page.screenshot({ path: join(SCREENSHOT_DIR, 'admin.png'), fullPage: true });

      // The secret works, within its scope: a viewer confined to customer "ida" reads only Ida's order.
      const listed = await fetch(`${stack.baseUrl}/orders`, { headers: { authorization: `Bearer ${secret}` } });
      expect(listed.status).toBe(200);
      const body = (await listed.json()) as { orders: Array<{ id: number }> };
      expect(body.orders.map((order) => order.id)).toEqual([501]);

      await secretBox.getByRole('button', { name: 'Done' }).click();
      await expect.poll(() => secretBox.count(), SHOWS_UP).toBe(0);
      expect(await page.content()).not.toContain(secret);
      const tokens = page.getByRole('table', { name: 'Tokens' });
      await expect.poll(() => tokens.getByRole('rowheader').allTextContents(), SHOWS_UP).toContain('nightly-report');

      await page.getByRole('button', { name: 'Revoke token nightly-report' }).click();
      await page.getByRole('button', { name: 'Yes, revoke' }).click();
      await expect
        .poll(() => tokens.getByRole('rowheader').allTextContents(), SHOWS_UP)
        .not.toContain('nightly-report');
      const refused = await fetch(`${stack.baseUrl}/orders`, { headers: { authorization: `Bearer ${secret}` } });
      expect(refused.status).toBe(401);
    } finally {
      await page.close();
    }
  });
});
