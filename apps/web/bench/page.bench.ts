/**
 * `npm run bench:page -w @orders/web`: the dashboard alone in Chromium, with no server in the way. The page gets
 * 10,000 orders from a stubbed `GET /orders` and a stand-in WebSocket (installed before the app loads) that sends
 * 200 `order.updated` frames per second for 15 s. Reports how long a frame takes from arriving on the socket to being
 * on screen, and the frame lengths. The figures are this machine's at the time of the run; nothing asserts a number.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { launchBrowser } from '../e2e/support/browser.js';
import { buildDashboard } from '../e2e/support/stack.js';
import { summary } from './live.js';

const ORDERS = 10_000;
const CHANGES_PER_SECOND = 200;
const SECONDS = 15;
const ORIGIN = 'http://dashboard.bench';
/** Who the stubbed `GET /auth/me` says is signed in: an admin, so every card has all its controls, as before sign-in. */
const SIGNED_IN = JSON.stringify({ username: 'bench', kind: 'user', role: 'admin', scope: null });

const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** Runs in the page before the app: a WebSocket stand-in that plays the server. */
const FAKE_SERVER = `(() => {
  const STATUSES = ['pending', 'shipped', 'delivered'];
  const probe = { frames: [], longTasks: [], latencies: [], sent: 0 };
  window.__probe = probe;
  class BenchSocket {
    constructor() {
      this.readyState = 0;
      setTimeout(() => { this.readyState = 1; this.onopen && this.onopen(new Event('open')); }, 0);
    }
    send() {
      this.onmessage && this.onmessage(new MessageEvent('message', { data: JSON.stringify({ type: 'ready', protocol: 1, position: 'p0', resumed: true }) }));
      window.__startStream = () => this.stream();
    }
    close() { this.readyState = 3; }
    stream() {
      const started = performance.now();
      const perTick = ${(CHANGES_PER_SECOND * 10) / 1000};
      let version = 1;
      const tick = () => {
        const elapsed = performance.now() - started;
        if (elapsed > ${SECONDS * 1000}) { probe.done = true; return; }
        const due = Math.floor((elapsed / 1000) * ${CHANGES_PER_SECOND});
        while (probe.sent < due) {
          const n = probe.sent++;
          const id = 1 + Math.floor(Math.random() * ${ORDERS});
          version++;
          const now = new Date().toISOString();
          const order = { id, customer_name: 'Customer ' + (id % 997), product_name: 'bench:' + performance.now(), status: STATUSES[n % 3],
            created_at: '2026-01-01T00:00:00.000Z', updated_at: now, version: 1000000 + version };
          this.onmessage && this.onmessage(new MessageEvent('message', { data: JSON.stringify({ type: 'order.updated', order, position: 'p' + version }) }));
        }
        setTimeout(tick, 10);
      };
      tick();
    }
  }
  BenchSocket.OPEN = 1;
  window.WebSocket = BenchSocket;
  let last = performance.now();
  let lastTop = '';
  const frame = (now) => {
    probe.frames.push(now - last);
    last = now;
    const top = document.querySelector('ol[aria-label="Orders"] article');
    const product = top ? top.querySelectorAll('dd')[1]?.textContent ?? '' : '';
    if (product.startsWith('bench:') && product !== lastTop) probe.latencies.push(now - Number(product.slice(6)));
    lastTop = product;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  new PerformanceObserver((list) => { for (const e of list.getEntries()) probe.longTasks.push(e.duration); }).observe({ type: 'longtask' });
})()`;

interface Probe {
  frames: number[];
  longTasks: number[];
  latencies: number[];
  sent: number;
  done?: boolean;
}

const dist = await mkdtemp(join(tmpdir(), 'orders-page-bench-'));
const browser = await launchBrowser();
try {
  await buildDashboard(dist);
  const base = Date.parse('2026-01-01T00:00:00.000Z');
  const orders = Array.from({ length: ORDERS }, (_, i) => {
    const id = ORDERS - i;
    const at = new Date(base + id * 1000).toISOString();
    return {
      id,
      customer_name: `Customer ${id % 997}`,
      product_name: `Product ${id}`,
      status: ['pending', 'shipped', 'delivered'][id % 3],
      created_at: at,
      updated_at: at,
      version: 1,
    };
  });
  const listBody = JSON.stringify({ orders, position: 'p0', next_cursor: null });

  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.addInitScript(FAKE_SERVER);
  await page.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/orders') {
      await route.fulfill({ status: 200, contentType: 'application/json', body: listBody });
      return;
    }
    if (url.pathname === '/auth/me') {
      await route.fulfill({ status: 200, contentType: 'application/json', body: SIGNED_IN });
      return;
    }
    const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    let body: Buffer;
    try {
      body = await readFile(join(dist, file));
    } catch {
      await route.fulfill({ status: 404, body: 'not found' });
      return;
    }
    await route.fulfill({ status: 200, contentType: CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', body });
  });
  await page.goto(`${ORIGIN}/`);
  await page.getByText(`${ORDERS.toLocaleString('en-US')} orders`).waitFor({ timeout: 60_000 });
  await page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout: 30_000 });
  await page.evaluate('window.__probe.frames.length = 0; window.__probe.longTasks.length = 0; window.__startStream()');
  await page.waitForFunction('window.__probe.done === true', undefined, {
    timeout: (SECONDS + 60) * 1000,
    polling: 500,
  });
  const probe = await page.evaluate<Probe>('window.__probe');
  const report = {
    orders: ORDERS,
    changesSent: probe.sent,
    changesPerSecond: Math.round(probe.sent / SECONDS),
    socketToScreenMs: summary(probe.latencies),
    frameMs: summary(probe.frames),
    framesOver50ms: probe.frames.filter((f) => f > 50).length,
    longTasks: { count: probe.longTasks.length, maxMs: Math.round(Math.max(0, ...probe.longTasks)) },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  await browser.close();
  await rm(dist, { recursive: true, force: true });
}
