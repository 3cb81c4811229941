import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, clippedBoxes, contrastRatio, enlargeAndSpaceText } from './support/a11y.js';
import { launchBrowser, readBoard, signIn } from './support/browser.js';
import { scriptRequest, startStack, type Stack } from './support/stack.js';

/** How long a change may take to show up before the test gives up (a bound, not a measurement). */
const SHOWS_UP = { timeout: 20_000, interval: 100 };

const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 1000 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
} as const;
const SCHEMES = ['light', 'dark'] as const;

let stack: Stack;
let browser: Browser;
const opened: (() => Promise<void>)[] = [];

/** A request as a script makes it: with the stack's admin API token. */
function http(method: string, path: string, body?: unknown): Promise<Response> {
  return scriptRequest(stack, method, path, body);
}

/** A fresh browser context (its own cookies); axe is injected as a script, so it bypasses the page's CSP. */
async function newContext(options: Parameters<Browser['newContext']>[0]): Promise<BrowserContext> {
  const context = await browser.newContext({ ...options, bypassCSP: true });
  opened.push(() => context.close());
  return context;
}

let users = 0;

/**
 * A new admin user for one test: requests are limited per principal (and in flight per principal), so each test
 * signs in as its own user and one test's budget never decides the next one's outcome.
 */
async function newAdmin(): Promise<{ username: string; password: string }> {
  users += 1;
  const user = { username: `a11y-${users}`, password: `a11y password ${users}` };
  const created = await http('POST', '/auth/users', { ...user, role: 'admin' });
  expect(created.status).toBe(201);
  return user;
}

async function signedInBoard(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const { username, password } = await newAdmin();
  await page.goto(stack.baseUrl);
  await signIn(page, username, password);
  await page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout: SHOWS_UP.timeout });
  await expect.poll(async () => (await readBoard(page)).length, SHOWS_UP).toBeGreaterThan(2);
  return page;
}

/** The names a person reads on a busy day: long, some without a space to break at. */
const SEED = [
  [701, 'Maximiliane Wolfeschlegelsteinhausenbergerdorff-Featherstonehaugh', 'Industrial dehumidifier, 50 litres'],
  [702, 'Ada', 'Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichen'],
  [703, 'Bob Marley & the Wailers Merchandising Cooperative of Kingston', 'T-shirt'],
  [704, 'Grace Hopper', 'Compiler manual, second edition, with the nanosecond wire'],
] as const;

beforeAll(async () => {
  stack = await startStack(process.env);
  opened.push(() => stack.close());
  browser = await launchBrowser();
  opened.push(() => browser.close());
  for (const [id, customer, product] of SEED) {
    expect((await http('POST', '/orders', { id, customer_name: customer, product_name: product })).status).toBe(201);
  }
  expect((await http('PUT', '/orders/702', { status: 'shipped' })).status).toBe(200);
});

afterAll(async () => {
  for (const close of opened.reverse()) await close();
});

describe('WCAG 2.2 AA: axe reports nothing, on a desktop and a phone, light and dark', () => {
  for (const [device, viewport] of Object.entries(VIEWPORTS)) {
    for (const colorScheme of SCHEMES) {
      it(`${device}, ${colorScheme}: sign-in, board, details, order panel and its history, edit, delete confirmation, undo notice, admin page`, async () => {
        const context = await newContext({ ...viewport, colorScheme });
        const signInPage = await context.newPage();
        await signInPage.goto(stack.baseUrl);
        await signInPage.getByRole('form', { name: 'Sign in' }).waitFor({ timeout: SHOWS_UP.timeout });
        expect(await axeViolations(signInPage), 'sign-in').toEqual([]);
        await signInPage.close();

        const page = await signedInBoard(context);
        expect(await axeViolations(page), 'board').toEqual([]);

        const card = page.getByRole('article', { name: 'Order #701' }).first();
        await card.getByText('Details').click();
        expect(await axeViolations(page), 'details').toEqual([]);

        // The order panel (its own address, ?order=701), then with its history open.
        await card.getByRole('link', { name: 'Order #701' }).click();
        const panel = page.getByRole('region', { name: 'Order #701' });
        await panel.getByText('Last changed by').waitFor({ timeout: SHOWS_UP.timeout });
        expect(new URL(page.url()).searchParams.get('order')).toBe('701');
        expect(await axeViolations(page), 'order panel').toEqual([]);
        await panel.getByRole('button', { name: 'Show history' }).click();
        await panel
          .getByRole('list', { name: 'Changes of order #701, newest first' })
          .waitFor({ timeout: SHOWS_UP.timeout });
        expect(await axeViolations(page), 'order panel with its history').toEqual([]);
        await page.keyboard.press('Escape');
        await panel.getByRole('list', { name: 'Changes of order #701, newest first' }).waitFor({ state: 'detached' });
        await page.keyboard.press('Escape');
        await panel.waitFor({ state: 'detached' });

        await page.getByRole('button', { name: 'Edit order #701' }).first().click();
        await page.getByRole('form', { name: 'Edit order #701' }).waitFor();
        expect(await axeViolations(page), 'edit').toEqual([]);
        await page.keyboard.press('Escape');

        await page.getByRole('button', { name: 'Delete order #703' }).first().click();
        await page.getByRole('button', { name: 'Yes, delete' }).waitFor();
        expect(await axeViolations(page), 'delete confirmation').toEqual([]);
        await page.getByRole('button', { name: 'Yes, delete' }).click();
        await page.getByRole('button', { name: 'Undo deleting order #703' }).waitFor();
        expect(await axeViolations(page), 'undo notice').toEqual([]);
        await page.getByRole('button', { name: 'Undo deleting order #703' }).click();
        await page.getByRole('article', { name: 'Order #703' }).first().waitFor();

        await page.getByRole('link', { name: 'Users and tokens' }).click();
        await page.getByRole('table', { name: 'Users' }).waitFor({ timeout: SHOWS_UP.timeout });
        expect(await axeViolations(page), 'admin').toEqual([]);
        await context.close();
      });
    }
  }
});

describe('reflow, larger text and text spacing: nothing clipped', () => {
  const cases = [
    { name: '320 px wide (400% zoom of 1280)', viewport: { width: 320, height: 640 } },
    { name: '1280 px wide', viewport: { width: 1280, height: 1000 } },
  ];
  for (const { name, viewport } of cases) {
    it(`${name}, 200% text with WCAG text spacing: cards grow, no row overlaps, nothing scrolls sideways`, async () => {
      const context = await newContext({ viewport });
      const page = await signedInBoard(context);
      await enlargeAndSpaceText(page);
      const board = page.getByRole('region', { name: 'Order board' });
      await board.scrollIntoViewIfNeeded();
      await expect.poll(() => clippedBoxes(page), SHOWS_UP).toEqual([]);

      // Opened details and the edit form grow the card too.
      await page.getByRole('article', { name: 'Order #702' }).first().getByText('Details').click();
      await expect.poll(() => clippedBoxes(page), SHOWS_UP).toEqual([]);
      await page.getByRole('button', { name: 'Edit order #701' }).first().click();
      await page.getByRole('form', { name: 'Edit order #701' }).waitFor();
      await expect.poll(() => clippedBoxes(page), SHOWS_UP).toEqual([]);
      await page.keyboard.press('Escape');
      await context.close();
    });
  }
});

describe('on a phone', () => {
  it('puts the filters and search at the top, foldable, and the board below them', async () => {
    const context = await newContext({ ...VIEWPORTS.phone });
    const page = await signedInBoard(context);
    const toggle = page.getByRole('button', { name: 'Filters and search' });
    const search = page.getByRole('searchbox', { name: 'Search' });
    const board = page.getByRole('region', { name: 'Order board' });
    const top = async (locator: typeof board) => (await locator.boundingBox())?.y ?? Number.NaN;
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    expect(await top(search)).toBeLessThan(await top(board));
    expect(await top(page.getByRole('region', { name: 'By status' }))).toBeGreaterThan(await top(board));

    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await search.isVisible()).toBe(false);
    expect(await axeViolations(page)).toEqual([]);
    await toggle.click();
    expect(await search.isVisible()).toBe(true);
    await context.close();
  });

  it('shows no fold button on a desktop, where the filters are always there', async () => {
    const context = await newContext({ ...VIEWPORTS.desktop });
    const page = await signedInBoard(context);
    expect(await page.getByRole('button', { name: 'Filters and search' }).isVisible()).toBe(false);
    expect(await page.getByRole('searchbox', { name: 'Search' }).isVisible()).toBe(true);
    await context.close();
  });
});

describe('the focus ring', () => {
  for (const colorScheme of SCHEMES) {
    it(`${colorScheme}: stands out at least 3:1 from the card, the panels and the page behind every control`, async () => {
      const context = await newContext({ viewport: { width: 1280, height: 1000 }, colorScheme });
      const page = await signedInBoard(context);
      const edit = page.getByRole('button', { name: 'Edit order #701' }).first();
      // Focus from the keyboard, so :focus-visible applies.
      await edit.focus();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Tab');
      const colors = await edit.evaluate((button) => ({
        ring: getComputedStyle(button).outlineColor,
        width: getComputedStyle(button).outlineWidth,
        card: getComputedStyle(button.closest('.card') ?? document.body).backgroundColor,
        page: getComputedStyle(document.body.querySelector('.app') ?? document.body).backgroundColor,
      }));
      expect(colors.width).toBe('3px');
      expect(contrastRatio(colors.ring, colors.card)).toBeGreaterThanOrEqual(3);
      expect(contrastRatio(colors.ring, colors.page)).toBeGreaterThanOrEqual(3);

      // Every control on the board, with an order's panel and a card's details open: the ring is drawn on whatever
      // lies behind the control, the first opaque background among its ancestors.
      await page.getByRole('article', { name: 'Order #701' }).first().getByText('Details').click();
      await page.getByRole('link', { name: 'Order #702' }).first().click();
      await page.getByRole('region', { name: 'Order #702' }).getByText('Last changed by').waitFor();
      const behind = await page.evaluate(() => {
        const opaque = (color: string) => color.startsWith('rgb(') || /^rgba\(.*,\s*1\)$/.test(color);
        const found = new Map<string, string>();
        const controls = document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]');
        for (const control of controls) {
          for (let node = control.parentElement; node !== null; node = node.parentElement) {
            const color = getComputedStyle(node).backgroundColor;
            if (!opaque(color)) continue;
            const name = control.getAttribute('aria-label') ?? control.textContent.trim().slice(0, 40);
            if (!found.has(color)) found.set(color, `${control.tagName.toLowerCase()} "${name}"`);
            break;
          }
        }
        return [...found.entries()];
      });
      // The page itself and the panels at least, so the check cannot pass by finding nothing.
      expect(behind.length).toBeGreaterThanOrEqual(2);
      const weak = behind.filter(([background]) => contrastRatio(colors.ring, background) < 3);
      expect(weak, `ring ${colors.ring}`).toEqual([]);
      await context.close();
    });
  }
});

describe('keyboard only', () => {
  /** What the focused element is to a person: a field's value, a control's name. */
  const focused = (page: Page) =>
    page.evaluate(() => {
      const element = document.activeElement;
      if (element instanceof HTMLInputElement) return element.value;
      return element?.getAttribute('aria-label') ?? element?.textContent ?? '';
    });
  /** Presses Tab (or Shift+Tab) until the focused element is the one `matches` accepts; at most `limit` presses. */
  async function tabTo(page: Page, matches: string, backwards = false, limit = 120): Promise<void> {
    for (let step = 0; step < limit; step++) {
      if ((await focused(page)).trim() === matches) return;
      await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
    }
    throw new Error(`"${matches}" was not reached in ${limit} presses`);
  }

  const said = (page: Page) => page.evaluate(() => document.getElementById('announcements')?.textContent.trim());

  it('skips to the orders, creates, finds, opens, edits, and deletes with undo, without a mouse', async () => {
    const context = await newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await signedInBoard(context);
    await page.evaluate(() => {
      (document.activeElement as HTMLElement | null)?.blur();
    });

    // The first Tab reaches the skip link; it jumps past the header and the filters.
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('Skip to the orders');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');

    // Create.
    const idField = page.getByRole('form', { name: 'New order' }).getByLabel('Order id');
    for (let step = 0; step < 40 && !(await idField.evaluate((field) => field === document.activeElement)); step++) {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.type('801');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Kim');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Kayak');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await readBoard(page))[0]?.id, SHOWS_UP).toBe(801);
    await expect.poll(() => said(page), SHOWS_UP).toBe('Order #801 created.');

    // Find: `/` goes to the search box; a word of the product finds it, and so does its id.
    await page.evaluate(() => {
      (document.activeElement as HTMLElement | null)?.blur();
    });
    await page.keyboard.press('/');
    const search = page.getByRole('searchbox', { name: 'Search' });
    expect(await search.evaluate((box) => box === document.activeElement)).toBe(true);
    // The search applies once typing pauses (and goes into the address then); only its results are waited for.
    const searched = () => new URL(page.url()).searchParams.get('q');
    await page.keyboard.type('kay');
    await expect.poll(searched, SHOWS_UP).toBe('kay');
    await expect.poll(async () => (await readBoard(page)).map((card) => card.id), SHOWS_UP).toEqual([801]);
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('#801');
    await expect.poll(searched, SHOWS_UP).toBe('#801');
    await expect.poll(async () => (await readBoard(page)).map((card) => card.id), SHOWS_UP).toEqual([801]);

    // Open it whole, and close it with Escape: the focus comes back to its card's link.
    await tabTo(page, 'Order #801');
    await page.keyboard.press('Enter');
    const panel = page.getByRole('region', { name: 'Order #801' });
    await panel.getByText('Last changed by').waitFor({ timeout: SHOWS_UP.timeout });
    expect(await focused(page)).toBe('Order #801');
    expect(await panel.getByText('Kayak').count()).toBeGreaterThan(0);
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-order-open'))).toBe('801');

    // Edit: the focus goes into the form, and back to Edit after saving.
    await tabTo(page, 'Edit order #801');
    await page.keyboard.press('Enter');
    expect(await focused(page)).toBe('Kim');
    await page.keyboard.press('Tab');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('Sea kayak');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await stack.orders.findOne({ _id: 801 }))?.product_name, SHOWS_UP).toBe('Sea kayak');
    await expect.poll(() => focused(page), SHOWS_UP).toBe('Edit order #801');
    await expect.poll(() => said(page), SHOWS_UP).toBe('Order #801 saved.');

    // Delete, pressing Enter twice: the second Enter lands on "Keep".
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('Delete order #801');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    expect(await focused(page)).toBe('Delete order #801');
    expect((await readBoard(page)).map((card) => card.id)).toContain(801);

    // Delete for real, then undo it: nothing reaches the server.
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('Yes, delete');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await readBoard(page)).map((card) => card.id), SHOWS_UP).not.toContain(801);
    await tabTo(page, 'Undo deleting order #801', true);
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await readBoard(page)).map((card) => card.id), SHOWS_UP).toContain(801);
    expect(await stack.orders.countDocuments({ _id: 801 })).toBe(1);

    // And once more, left to run out: the order is gone from the database too.
    await tabTo(page, 'Delete order #801');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect.poll(() => stack.orders.countDocuments({ _id: 801 }), SHOWS_UP).toBe(0);
    await context.close();
  });
});
