/**
 * `npm run bench -w @orders/web`: the dashboard in Chromium with 10,000 orders on the board while 200 changes per
 * second are written straight to the database (the real API process and the embedded engine in between).
 * Reports how long a change takes from the database write to the board, and how long the longest frames are.
 * Figures are for this machine at the time of the run; nothing here asserts a number.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../e2e/support/browser.js';
import { seedOrders } from '../e2e/support/seed.js';
import { E2E_ADMIN, startStack } from '../e2e/support/stack.js';
import { measureWriteToBoard } from './live.js';

const ORDERS = 10_000;
const CHANGES_PER_SECOND = 200;
const SECONDS = 15;

const stack = await startStack(process.env);
const browser = await launchBrowser();
try {
  await seedOrders(stack.orders, ORDERS, Date.now() - ORDERS * 1000, 1000);

  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  // Signed in before the clock starts (the request shares the page's cookies), so the load measured is the board's.
  const login = await page.request.post(`${stack.baseUrl}/auth/login`, {
    data: E2E_ADMIN,
    headers: { origin: stack.baseUrl },
  });
  if (!login.ok()) throw new Error(`the benchmark could not sign in: ${login.status()}`);
  const loadStarted = Date.now();
  await page.goto(stack.baseUrl);
  await page.getByText(`${ORDERS.toLocaleString('en-US')} orders`).waitFor({ timeout: 120_000 });
  const loadMs = Date.now() - loadStarted;
  await page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout: 30_000 });

  const live = await measureWriteToBoard(page, stack.orders, {
    ids: ORDERS,
    changesPerSecond: CHANGES_PER_SECOND,
    seconds: SECONDS,
  });
  const board = await page.getByText(/^[\d,]+ orders$/).textContent();

  const report = {
    orders: ORDERS,
    changesWritten: live.changesWritten,
    achievedChangesPerSecond: live.achievedChangesPerSecond,
    initialLoadMs: loadMs,
    boardShows: board,
    writeToBoardMs: live.writeToBoardMs,
    frameMs: live.frameMs,
    framesOver50ms: live.framesOver50ms,
    longTasks: live.longTasks,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const resultsDir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  await mkdir(resultsDir, { recursive: true });
  await writeFile(
    `${resultsDir}web-board.json`,
    `${JSON.stringify({ ranAt: new Date().toISOString(), ...report }, null, 2)}\n`,
  );
} finally {
  await browser.close();
  await stack.close();
}
