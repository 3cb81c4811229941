/**
 * `npm run bench:open -w @orders/web [-- --sizes 10000,100000]` (also the last step of `npm run bench -w @orders/web`):
 * opening the board in Chromium, signed in, over books of 10,000, 100,000 and 1,000,000 orders written straight to
 * the database (driver `insertMany` in batches of 10,000, the API's indexes in place) before the API starts. For each
 * size: time to the first card and to exact counts (from navigation start), the list requests made before the first
 * card, the JS heap after a forced garbage collection and the DOM size after opening and after scrolling through
 * 5,000 orders; at the largest size, write → board latency at 200 changes/s. The baseline, in the same run, is the
 * seed's way: the whole book in one response, fetched and parsed by the page.
 * Results: `bench/results/web-board-open.{json,md}`. Figures are this machine's at the time of the run; nothing here
 * asserts a number.
 */
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { MAX_PAGE_SIZE, ORDER_STATUSES, type Order } from '@orders/contracts';
import type { Collection } from 'mongodb';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { createListIndexes } from '../e2e/support/book.js';
import { seedOrders } from '../e2e/support/seed.js';
import { launchBrowser } from '../e2e/support/browser.js';
import { E2E_ADMIN, startStack, type OrderDocument, type Stack } from '../e2e/support/stack.js';
import { measureWriteToBoard, summary } from './live.js';

const OPENS = 3;
const SCROLLED_ORDERS = 5000;
const CHANGES_PER_SECOND = 200;
const LIVE_SECONDS = 15;
const SEED_BATCH = 10_000;
const VIEWPORT = { width: 1280, height: 1000 };
const TARGETS = { firstCardMs: 500, writeToBoardP99Ms: 100, heapAfterScrollMb: 64 };

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    'live-at': { type: 'string' },
  },
});
const SIZES = values.sizes.split(',').map((text) => Number(text.trim()));
for (const size of SIZES) {
  if (!Number.isSafeInteger(size) || size < SCROLLED_ORDERS * 2) {
    throw new Error(`--sizes takes whole numbers of orders from ${SCROLLED_ORDERS * 2}, comma-separated`);
  }
}
/** The size with the live measurement: the largest of the run unless told. */
const LIVE_AT = values['live-at'] === undefined ? Math.max(...SIZES) : Number(values['live-at']);
if (!SIZES.includes(LIVE_AT)) throw new Error('--live-at must be one of --sizes');

/**
 * Runs in the page before the app: notes (ms from navigation start, in animation frames, so a card counts once it is
 * in a frame) when the first card is in the list and when the counts shown equal the database's.
 */
function openProbe(expected: { total: number; byStatus: number[] }): string {
  return `(() => {
  const expected = ${JSON.stringify(expected)};
  const marks = { firstCard: null, countsExact: null };
  window.__open = marks;
  const number = (element) => Number((element?.textContent ?? '').replace(/[^0-9]/g, '') || NaN);
  const check = () => {
    const now = performance.now();
    if (marks.firstCard === null && document.querySelector('ol[aria-label="Orders"] article')) marks.firstCard = now;
    if (marks.countsExact === null) {
      const shown = [...document.querySelectorAll('.counts dd')].map(number);
      const total = number(document.querySelector('.board-count'));
      if (total === expected.total && shown.length === expected.byStatus.length &&
          shown.every((value, i) => value === expected.byStatus[i])) marks.countsExact = now;
    }
    if (marks.firstCard === null || marks.countsExact === null) requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})()`;
}

interface OpenMarks {
  firstCard: number | null;
  countsExact: number | null;
  /** `GET /orders` requests: start time (ms from navigation start) and whether they carried a cursor. */
  listRequests: Array<{ start: number; cursor: boolean }>;
  countRequests: number;
  /** Where the time before the first card went: the document, first paint, and each request, in ms. */
  timeline: Array<{ what: string; start: number; end: number }>;
}

const READ_MARKS = `(() => {
  const entries = performance.getEntriesByType('resource');
  const resources = entries.map((entry) => new URL(entry.name));
  const navigation = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const round = (ms) => Math.round(ms);
  return {
    ...window.__open,
    listRequests: resources.flatMap((url, i) =>
      url.pathname === '/orders' ? [{ start: entries[i].startTime, cursor: url.searchParams.has('cursor') }] : []),
    countRequests: resources.filter((url) => url.pathname === '/orders/counts').length,
    timeline: [
      { what: 'document', start: 0, end: round(navigation.responseEnd) },
      ...(paint ? [{ what: 'first contentful paint', start: round(paint.startTime), end: round(paint.startTime) }] : []),
      ...entries.map((entry, i) => ({ what: resources[i].pathname + resources[i].search,
        start: round(entry.startTime), end: round(entry.responseEnd) })),
    ].filter((step) => step.start <= (window.__open.firstCard ?? Infinity)),
  };
})()`;

/**
 * Runs in the page: scrolls the board down a screenful at a time, waiting for older pages as the loading row comes
 * into view, until the card at position `orders + 1` is rendered (or a minute has passed).
 */
function scrollThrough(orders: number): string {
  return `(async () => {
  const scroller = document.querySelector('[aria-label="Order board"]');
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
  const started = performance.now();
  const deadline = started + 60000;
  let steps = 0;
  const reached = () => Math.max(0, ...[...document.querySelectorAll('li[aria-posinset]')].map((li) => Number(li.getAttribute('aria-posinset'))));
  while (reached() <= ${orders} && performance.now() < deadline) {
    scroller.scrollTop += scroller.clientHeight;
    steps++;
    await frame();
    await frame();
  }
  return { steps, ms: Math.round(performance.now() - started), reachedPosition: reached() };
})()`;
}

interface PageFootprint {
  /** V8 heap in use after a forced garbage collection (CDP Runtime.getHeapUsage), MB. */
  heapUsedMb: number;
  heapTotalMb: number;
  /** Elements in the document. */
  domElements: number;
  /** DOM nodes the renderer holds, detached ones included (CDP Memory.getDOMCounters). */
  domNodes: number;
  cards: number;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function footprint(page: Page, cdp: CDPSession): Promise<PageFootprint> {
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  const dom = await cdp.send('Memory.getDOMCounters');
  return {
    heapUsedMb: mb(heap.usedSize),
    heapTotalMb: mb(heap.totalSize),
    domElements: await page.evaluate<number>("document.getElementsByTagName('*').length"),
    domNodes: dom.nodes,
    cards: await page.locator('article').count(),
  };
}

/** A fresh browser context (cold cache), signed in as the stack's admin before any clock starts. */
async function signedInContext(browser: Browser, stack: Stack): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const login = await context.request.post(`${stack.baseUrl}/auth/login`, {
    data: E2E_ADMIN,
    headers: { origin: stack.baseUrl },
  });
  if (!login.ok()) throw new Error(`the benchmark could not sign in: ${login.status()}`);
  return context;
}

/**
 * Polls `expression` in the page until it is true. Not `waitForFunction`: the dashboard's CSP forbids evaluating
 * strings in the page, and a function would be wrapped by tsx with helpers the page does not have.
 */
async function waitInPage(page: Page, expression: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate<boolean>(expression))) {
    if (Date.now() > deadline) throw new Error(`the page never had ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Opens the board in a new page of `context` and waits until the first card and the exact counts are shown. */
async function openBoard(context: BrowserContext, stack: Stack, expected: { total: number; byStatus: number[] }) {
  const page = await context.newPage();
  await page.addInitScript(openProbe(expected));
  await page.goto(stack.baseUrl);
  await waitInPage(page, 'window.__open.firstCard !== null && window.__open.countsExact !== null', 120_000);
  const marks = await page.evaluate<OpenMarks>(READ_MARKS);
  const firstCard = marks.firstCard ?? Number.NaN;
  return {
    page,
    open: {
      firstCardMs: Math.round(firstCard),
      exactCountsMs: Math.round(marks.countsExact ?? Number.NaN),
      listRequestsBeforeFirstCard: marks.listRequests.filter((r) => r.start < firstCard).length,
      olderPagesBeforeFirstCard: marks.listRequests.filter((r) => r.start < firstCard && r.cursor).length,
      countRequests: marks.countRequests,
      timeline: marks.timeline,
    },
  };
}

type OpenFigures = Awaited<ReturnType<typeof openBoard>>['open'];

/** The database's own counts: what the board must end up showing. */
async function databaseCounts(orders: Collection<OrderDocument>) {
  const byStatus: number[] = [];
  for (const status of ORDER_STATUSES) byStatus.push(await orders.countDocuments({ status }));
  return { total: byStatus.reduce((a, b) => a + b, 0), byStatus };
}

/** An order as `GET /orders` shows it (the API's mapping for the documents this benchmark writes). */
function shown(document: OrderDocument): Order {
  return {
    id: document._id,
    customer_name: document.customer_name,
    product_name: document.product_name,
    status: document.status,
    created_at: document.created_at.toISOString(),
    updated_at: document.updated_at.toISOString(),
    version: document.version,
  };
}

/**
 * The seed's way: `GET /orders` answered every order in one response. The API now refuses a page larger than
 * `MAX_PAGE_SIZE`, so this asks it first (and records the refusal), then serves the same thing from a stand-in route
 * in this process (the whole collection in list order through the driver, serialized to JSON), which a page on the
 * stand-in's origin fetches and parses.
 */
async function seedWay(browser: Browser, stack: Stack, size: number) {
  const refused = await fetch(`${stack.baseUrl}/orders?limit=${size}`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
  });
  const apiAnswer = { status: refused.status, body: (await refused.text()).slice(0, 200) };

  const server: Server = createServer((request, response) => {
    if (request.url !== '/orders') {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>seed</title>');
      return;
    }
    void (async () => {
      const started = performance.now();
      const documents = await stack.orders.find({}).sort({ updated_at: -1, _id: -1 }).toArray();
      const read = performance.now();
      const body = JSON.stringify(documents.map(shown));
      const serialized = performance.now();
      server.emit('timed', {
        databaseReadMs: Math.round(read - started),
        serializeMs: Math.round(serialized - read),
        bytes: Buffer.byteLength(body),
      });
      response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const timed = once(server, 'timed') as Promise<[{ databaseReadMs: number; serializeMs: number; bytes: number }]>;
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const inPage = await page.evaluate<{ fetchMs: number; parseMs: number; orders: number }>(`(async () => {
      const started = performance.now();
      const response = await fetch('/orders');
      const text = await response.text();
      const fetched = performance.now();
      window.__seedList = JSON.parse(text);
      const parsed = performance.now();
      return { fetchMs: Math.round(fetched - started), parseMs: Math.round(parsed - fetched), orders: window.__seedList.length };
    })()`);
    const cdp = await context.newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = await cdp.send('Runtime.getHeapUsage');
    const [served] = await timed;
    return {
      apiAnswer,
      ...served,
      mb: mb(served.bytes),
      pageFetchMs: inPage.fetchMs,
      pageParseMs: inPage.parseMs,
      pageFetchAndParseMs: inPage.fetchMs + inPage.parseMs,
      ordersParsed: inPage.orders,
      heapHoldingListMb: mb(heap.usedSize),
    };
  } finally {
    await context.close();
    server.close();
  }
}

async function measureSize(browser: Browser, size: number) {
  let seedMs = 0;
  const stack = await startStack(process.env, {
    async seed(orders) {
      await createListIndexes(orders);
      const started = performance.now();
      await seedOrders(orders, size, Date.now() - size * 1000, SEED_BATCH);
      seedMs = performance.now() - started;
    },
  });
  try {
    const expected = await databaseCounts(stack.orders);
    const opens: OpenFigures[] = [];
    let afterOpen: PageFootprint | undefined;
    let afterScroll: PageFootprint | undefined;
    let scroll;
    for (let run = 0; run < OPENS; run++) {
      const context = await signedInContext(browser, stack);
      try {
        const { page, open } = await openBoard(context, stack, expected);
        opens.push(open);
        if (run === OPENS - 1) {
          const cdp = await context.newCDPSession(page);
          afterOpen = await footprint(page, cdp);
          scroll = await page.evaluate<{ steps: number; ms: number; reachedPosition: number }>(
            scrollThrough(SCROLLED_ORDERS),
          );
          afterScroll = await footprint(page, cdp);
        }
      } finally {
        await context.close();
      }
    }
    let live;
    if (size === LIVE_AT) {
      const context = await signedInContext(browser, stack);
      try {
        const { page } = await openBoard(context, stack, expected);
        await page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout: 30_000 });
        live = await measureWriteToBoard(page, stack.orders, {
          ids: size,
          changesPerSecond: CHANGES_PER_SECOND,
          seconds: LIVE_SECONDS,
        });
      } finally {
        await context.close();
      }
    }
    const baseline = await seedWay(browser, stack, size);
    const median = (pick: (open: OpenFigures) => number) => summary(opens.map(pick)).p50;
    return {
      orders: size,
      seedS: Math.round(seedMs / 100) / 10,
      databaseCounts: expected,
      opens,
      firstCardMs: median((open) => open.firstCardMs),
      exactCountsMs: median((open) => open.exactCountsMs),
      afterOpen,
      scroll,
      afterScroll,
      ...(live && { live: { changesPerSecond: CHANGES_PER_SECOND, seconds: LIVE_SECONDS, ...live } }),
      seedWay: baseline,
    };
  } finally {
    await stack.close();
  }
}

type SizeReport = Awaited<ReturnType<typeof measureSize>>;

function markdown(ranAt: string, reports: SizeReport[]): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const mark = (ok: boolean) => (ok ? 'met' : '**missed**');
  const lines = [
    '# Board open at 10,000 / 100,000 / 1,000,000 orders',
    '',
    `Run at ${ranAt} by \`apps/web/bench/board-open.bench.ts\`. Chromium (headless), signed in, a fresh context (cold`,
    `cache) per open; the book written straight to the database before the API started. Times from navigation start;`,
    `medians of ${OPENS} opens (each open's figures in the JSON). Heap: V8 heap in use after a forced collection (CDP).`,
    '',
    '| orders | first card | exact counts | list requests before the first card (older pages) | heap after open / after scrolling 5,000 | DOM elements after open / after scrolling | cards rendered |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of reports) {
    const last = r.opens.at(-1);
    lines.push(
      `| ${n(r.orders)} | ${r.firstCardMs} ms (${r.opens.map((o) => o.firstCardMs).join(', ')}) | ${r.exactCountsMs} ms | ` +
        `${last?.listRequestsBeforeFirstCard ?? '?'} (${last?.olderPagesBeforeFirstCard ?? '?'}) | ` +
        `${r.afterOpen?.heapUsedMb ?? '?'} / ${r.afterScroll?.heapUsedMb ?? '?'} MB | ` +
        `${r.afterOpen ? n(r.afterOpen.domElements) : '?'} / ${r.afterScroll ? n(r.afterScroll.domElements) : '?'} | ` +
        `${r.afterOpen?.cards ?? '?'} / ${r.afterScroll?.cards ?? '?'} |`,
    );
  }
  lines.push('', '## Before the first card (the last open)', '');
  for (const r of reports) {
    const last = r.opens.at(-1);
    if (!last) continue;
    const steps = last.timeline.map((step) =>
      step.start === step.end ? `${step.what} ${step.start}` : `${step.what} ${step.start}–${step.end}`,
    );
    lines.push(`- ${n(r.orders)}: ${steps.join(', ')}, first card ${last.firstCardMs} (ms from navigation start)`);
  }
  lines.push(
    '',
    "## The seed's way (baseline, same run)",
    '',
    `The API refuses a page larger than ${MAX_PAGE_SIZE} (\`GET /orders?limit=<size>\` answers ` +
      `${reports[0]?.seedWay.apiAnswer.status ?? '?'}), so the whole book in one response is served by a stand-in ` +
      'route in the benchmark process: the whole collection in list order through the driver, serialized as ' +
      '`GET /orders` serializes it. A page on its origin fetches it and parses it (`JSON.parse`); rendering it is not ' +
      'included, so these are lower bounds for the seed board.',
    '',
    '| orders | database read | serialize | response size | page fetch | page JSON.parse | heap holding the list |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of reports) {
    const s = r.seedWay;
    lines.push(
      `| ${n(r.orders)} | ${n(s.databaseReadMs)} ms | ${n(s.serializeMs)} ms | ${s.mb} MB | ${n(s.pageFetchMs)} ms | ` +
        `${n(s.pageParseMs)} ms | ${s.heapHoldingListMb} MB |`,
    );
  }
  const liveReport = reports.find((r) => r.live !== undefined);
  if (liveReport?.live) {
    const l = liveReport.live;
    lines.push(
      '',
      `## Live, ${n(liveReport.orders)}-order book`,
      '',
      `${n(l.changesWritten)} changes at ${l.achievedChangesPerSecond}/s straight to the database: write → top card ` +
        `p50 ${l.writeToBoardMs.p50} ms, p95 ${l.writeToBoardMs.p95} ms, p99 ${l.writeToBoardMs.p99} ms, max ` +
        `${l.writeToBoardMs.max} ms (${l.writeToBoardMs.samples} samples: changes that reached the top between two ` +
        `frames are counted once); frames p99 ${l.frameMs.p99} ms, ${l.framesOver50ms} over 50 ms, ` +
        `${l.longTasks.count} long tasks (longest ${l.longTasks.maxMs} ms).`,
    );
  }
  lines.push('', '## Against the targets', '');
  for (const r of reports) {
    lines.push(
      `- ${n(r.orders)}: first card ${r.firstCardMs} ms (≤ ${TARGETS.firstCardMs} ms: ${mark(r.firstCardMs <= TARGETS.firstCardMs)}); ` +
        `heap after scrolling ${r.afterScroll?.heapUsedMb ?? '?'} MB (≤ ${TARGETS.heapAfterScrollMb} MB: ` +
        `${mark((r.afterScroll?.heapUsedMb ?? Infinity) <= TARGETS.heapAfterScrollMb)})`,
    );
  }
  if (liveReport?.live) {
    const p99 = liveReport.live.writeToBoardMs.p99;
    lines.push(
      `- write → board p99 at ${n(liveReport.orders)}: ${p99} ms (≤ ${TARGETS.writeToBoardP99Ms} ms: ${mark(p99 <= TARGETS.writeToBoardP99Ms)})`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the results so far (after each size, so a run stopped during a large book keeps the smaller ones). */
async function writeResults(reports: SizeReport[]): Promise<void> {
  const ranAt = new Date().toISOString();
  const resultsDir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  await mkdir(resultsDir, { recursive: true });
  await writeFile(
    `${resultsDir}web-board-open.json`,
    `${JSON.stringify({ ranAt, targets: TARGETS, sizes: reports }, null, 2)}\n`,
  );
  await writeFile(`${resultsDir}web-board-open.md`, markdown(ranAt, reports));
}

const browser = await launchBrowser();
const reports: SizeReport[] = [];
try {
  for (const size of SIZES) {
    const report = await measureSize(browser, size);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    reports.push(report);
    await writeResults(reports);
  }
} finally {
  await browser.close();
}
