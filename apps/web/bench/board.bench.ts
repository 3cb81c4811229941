/**
 * `npm run bench -w @orders/web`: the dashboard in Chromium with 10,000 orders on the board while 200 changes per
 * second are written straight to the database (the real API process and the embedded engine in between).
 * Reports how long a change takes from the database write to the board, and how long the longest frames are.
 * Figures are for this machine at the time of the run; nothing here asserts a number.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../e2e/support/browser.js';
import { SEED_STATUSES, seedOrders } from '../e2e/support/seed.js';
import { E2E_ADMIN, startStack } from '../e2e/support/stack.js';

const ORDERS = 10_000;
const CHANGES_PER_SECOND = 200;
const SECONDS = 15;
const TICK_MS = 50;

/** In the page: frame lengths (rAF deltas), long tasks, and when each benchmark token reached the top card. */
const IN_PAGE_PROBE = `(() => {
  const state = { frames: [], longTasks: [], seen: [], running: true };
  window.__bench = state;
  let last = performance.now();
  let lastTop = '';
  const frame = (now) => {
    state.frames.push(now - last);
    last = now;
    const top = document.querySelector('ol[aria-label="Orders"] article');
    const product = top ? top.querySelectorAll('dd')[1]?.textContent ?? '' : '';
    if (product.startsWith('bench:') && product !== lastTop) state.seen.push([product, Date.now()]);
    lastTop = product;
    if (state.running) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) state.longTasks.push(entry.duration);
  }).observe({ type: 'longtask' });
})()`;

interface ProbeState {
  frames: number[];
  longTasks: number[];
  seen: Array<[string, number]>;
  running: boolean;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: Math.round(percentile(sorted, 50)),
    p95: Math.round(percentile(sorted, 95)),
    p99: Math.round(percentile(sorted, 99)),
    max: Math.round(sorted.at(-1) ?? Number.NaN),
  };
}

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

  // In the page: frame lengths (rAF deltas), long tasks, and when each benchmark token reached the top card.
  // A string, not a function: tsx would wrap a function with helpers that do not exist in the page.
  await page.evaluate(IN_PAGE_PROBE);

  const written = new Map<string, number>();
  const perTick = (CHANGES_PER_SECOND * TICK_MS) / 1000;
  const ticks = (SECONDS * 1000) / TICK_MS;
  const started = Date.now();
  let sent = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const due = started + tick * TICK_MS;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < perTick; i++) {
      const id = 1 + Math.floor(Math.random() * ORDERS);
      const token = `bench:${sent++}`;
      written.set(token, Date.now());
      writes.push(
        stack.orders.updateOne(
          { _id: id },
          {
            $set: { product_name: token, status: SEED_STATUSES[sent % 3]!, updated_at: new Date() },
            $inc: { version: 1 },
          },
        ),
      );
    }
    await Promise.all(writes);
  }
  const elapsedS = (Date.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 1000));

  const result = await page.evaluate<ProbeState>(
    '(() => { window.__bench.running = false; return window.__bench; })()',
  );
  const latencies: number[] = [];
  const counted = new Set<string>();
  for (const [token, at] of result.seen) {
    const writtenAt = written.get(token);
    if (writtenAt === undefined || counted.has(token)) continue;
    counted.add(token);
    latencies.push(at - writtenAt);
  }
  const board = await page.getByText(/^[\d,]+ orders$/).textContent();

  const report = {
    orders: ORDERS,
    changesWritten: sent,
    achievedChangesPerSecond: Math.round(sent / elapsedS),
    initialLoadMs: loadMs,
    boardShows: board,
    writeToBoardMs: summary(latencies),
    frameMs: summary(result.frames),
    framesOver50ms: result.frames.filter((f) => f > 50).length,
    longTasks: { count: result.longTasks.length, maxMs: Math.round(Math.max(0, ...result.longTasks)) },
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
