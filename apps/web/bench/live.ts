/**
 * What the board benchmarks share: figures summarized the same way, and the live measurement (changes written
 * straight to the database at a steady rate, timed from the write until the changed order is the board's top card).
 */
import type { Collection } from 'mongodb';
import type { Page } from 'playwright-core';
import { SEED_STATUSES } from '../e2e/support/seed.js';
import type { OrderDocument } from '../e2e/support/stack.js';

const TICK_MS = 50;

/** The value at percentile `p` of ascending `sorted` values (NaN for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Sample count, p50/p95/p99 and max of `values`, in whole units. */
export function summary(values: readonly number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: Math.round(percentile(sorted, 50)),
    p95: Math.round(percentile(sorted, 95)),
    p99: Math.round(percentile(sorted, 99)),
    max: Math.round(sorted.at(-1) ?? Number.NaN),
  };
}

/**
 * In the page: frame lengths (rAF deltas), long tasks, and when each benchmark token reached the top card.
 * A string, not a function: tsx would wrap a function with helpers that do not exist in the page.
 */
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

/**
 * With the board open and live in `page`, updates random orders among ids 1 … `ids` straight in the database at
 * `changesPerSecond` for `seconds` (each write puts a unique token in the product name and changes the status), then
 * reports how long each token took from its write to the top of the board, and the page's frames meanwhile.
 */
export async function measureWriteToBoard(
  page: Page,
  orders: Collection<OrderDocument>,
  { ids, changesPerSecond, seconds }: { ids: number; changesPerSecond: number; seconds: number },
) {
  await page.evaluate(IN_PAGE_PROBE);
  const written = new Map<string, number>();
  const perTick = (changesPerSecond * TICK_MS) / 1000;
  const ticks = (seconds * 1000) / TICK_MS;
  const started = Date.now();
  let sent = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const due = started + tick * TICK_MS;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < perTick; i++) {
      const id = 1 + Math.floor(Math.random() * ids);
      const token = `bench:${sent++}`;
      written.set(token, Date.now());
      writes.push(
        orders.updateOne(
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
  return {
    changesWritten: sent,
    achievedChangesPerSecond: Math.round(sent / elapsedS),
    writeToBoardMs: summary(latencies),
    frameMs: summary(result.frames),
    framesOver50ms: result.frames.filter((f) => f > 50).length,
    longTasks: { count: result.longTasks.length, maxMs: Math.round(Math.max(0, ...result.longTasks)) },
  };
}
