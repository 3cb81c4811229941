import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (CI installs it; no browser download is possible here). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Launches headless Chromium with the flags a container needs. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** One order card as a person reads it off the board. */
export interface CardText {
  id: number;
  customer: string;
  product: string;
  status: string;
  /** Who changed it last ("by alice" on the card), or '' when the card names nobody. */
  actor: string;
}

/** The cards on the board, top to bottom (the test boards are small enough that all of them are rendered). */
export async function readBoard(page: Page): Promise<CardText[]> {
  const list = page.getByRole('list', { name: 'Orders' });
  if ((await list.count()) === 0) return [];
  return list.getByRole('article').evaluateAll((articles) =>
    articles.map((article) => {
      const details = [...article.querySelectorAll('dd')].map((dd) => dd.textContent);
      return {
        id: Number((article.querySelector('h3')?.textContent ?? '').replace(/\D/g, '')),
        customer: details[0] ?? '',
        product: details[1] ?? '',
        status: (article.querySelector('.badge')?.textContent ?? '').replace(/^\W+/, '').trim(),
        actor: article.querySelector('.card-actor')?.textContent ?? '',
      };
    }),
  );
}

/** Signs in through the dashboard's form (the page must show it). */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

/** The connection indicator's words ("Live", "Reconnecting…", "Offline"). */
export async function connectionText(page: Page): Promise<string> {
  return (await page.getByRole('status', { name: /^Connection:/ }).textContent()) ?? '';
}

/** A new desktop-sized page on the dashboard at `baseUrl`, signed in, once the board is live (within `timeoutMs`). */
export async function openSignedInPage(
  browser: Browser,
  baseUrl: string,
  credentials: { username: string; password: string },
  timeoutMs: number,
): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(baseUrl);
  await signIn(page, credentials.username, credentials.password);
  await page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout: timeoutMs });
  return page;
}
