/**
 * `npm run bench:book -w @orders/web [-- --orders 1000000]`: the embedded engine with a large order book. Inserts the
 * book in `insertMany` batches (with the API's indexes in place, so every insert also updates them), then times, over
 * the driver, the same queries the API runs for the board: the newest page, pages by cursor, the per-status counts,
 * and searches (the first page and the counts of a search, through the API's own repository, so the query is exactly
 * the one the API sends). Then restarts the engine on the same data directory and reports how long that takes and
 * its memory.
 * Figures are for this machine at the time of the run; nothing here asserts a number.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { searchTermsOf } from '@orders/contracts';
import { MongoClient, type Collection, type Db, type Filter } from 'mongodb';
import type { OrderDocument as StoredOrder } from '../../api/src/orders/order-document.js';
import { createOrdersRepository } from '../../api/src/orders/repository.js';
import { createListIndexes } from '../e2e/support/book.js';
import { SEED_STATUSES, seedDocuments } from '../e2e/support/seed.js';
import type { OrderDocument } from '../e2e/support/stack.js';

const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PAGE = 500;
const SAMPLES = 100;
const SEARCH_SAMPLES = 20;
const BATCH = 10_000;

const { values } = parseArgs({ options: { orders: { type: 'string', default: '1000000' } } });
const ORDERS = Number(values.orders);
if (!Number.isSafeInteger(ORDERS) || ORDERS < PAGE) throw new Error(`--orders must be an integer ≥ ${PAGE}`);

interface Engine {
  child: ChildProcess;
  uri: string;
  exited: Promise<void>;
}

/** The engine as `npm run db` runs it, in its own process, so its memory is its own. */
async function startEngine(dbPath: string): Promise<Engine> {
  const child = spawn(
    process.execPath,
    [
      '--max-old-space-size=8192',
      '--conditions=@orders/source',
      '--import',
      'tsx',
      'packages/mongo-embedded/src/cli.ts',
      '--port',
      '0',
      '--dbpath',
      dbPath,
    ],
    { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const errors: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => errors.push(line));
  const uri = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('mongodb://')) done(line.trim());
    });
    void exited.then(() => fail(new Error(`the engine exited:\n${errors.join('\n')}`)));
  });
  return { child, uri, exited };
}

async function stopEngine(engine: Engine): Promise<void> {
  engine.child.kill('SIGTERM');
  const timer = setTimeout(() => engine.child.kill('SIGKILL'), 120_000);
  await engine.exited;
  clearTimeout(timer);
}

/** Resident memory of a process, in MB (Linux). */
async function rssMb(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid ?? 0}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return Math.round(kb / 1024);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return { samples: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)) };
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** The API's list query (apps/api's repository): newest first, one more than a page to know whether more follow. */
function pageQuery(orders: Collection<OrderDocument>, after?: { updatedAt: Date; id: number }) {
  const filter: Filter<OrderDocument> =
    after === undefined
      ? {}
      : {
          $and: [
            {
              $or: [{ updated_at: { $lt: after.updatedAt } }, { updated_at: after.updatedAt, _id: { $lt: after.id } }],
            },
            { updated_at: { $lte: after.updatedAt } },
          ],
        };
  return orders
    .find(filter)
    .sort({ updated_at: -1, _id: -1 })
    .limit(PAGE + 1)
    .batchSize(PAGE + 1)
    .toArray();
}

/** The API's counts: one equality count per status. */
function countsQuery(orders: Collection<OrderDocument>) {
  return Promise.all(SEED_STATUSES.map((status) => orders.countDocuments({ status })));
}

/**
 * What people type in the board's search box over this book (see `seedDocuments`): a word that starts the terms of
 * a few orders, a customer's whole name (one word every order has, one a thousandth of them), a product's name, and
 * an order id.
 */
function searchTexts(): string[] {
  const product = Math.floor(ORDERS * 0.4243);
  return ['4242', 'Customer 42', `Product ${String(product)}`, `#${String(Math.floor(ORDERS / 2))}`];
}

/** The first page and the counts of each search, as the API reads them when the board's search changes. */
async function measureSearches(orders: Collection<StoredOrder>) {
  const repository = createOrdersRepository(orders);
  const results: Record<
    string,
    { found: number; firstPageMs: ReturnType<typeof summary>; countsMs: ReturnType<typeof summary> }
  > = {};
  for (const q of searchTexts()) {
    const page: number[] = [];
    const counts: number[] = [];
    let found = 0;
    for (let i = 0; i < SEARCH_SAMPLES; i++) {
      page.push(await timed(() => repository.list({ q, limit: PAGE })));
      counts.push(
        await timed(async () => {
          const byStatus = await repository.countByStatus({ q });
          found = Object.values(byStatus).reduce((a, b) => a + b, 0);
        }),
      );
    }
    results[q] = { found, firstPageMs: summary(page), countsMs: summary(counts) };
  }
  return results;
}

/**
 * The board's reads, and beside them the floor of this machine in the same run: a `ping` round trip, which does no
 * work in the engine, so its tail is scheduling and the collector, not a query.
 */
async function measureReads(orders: Collection<OrderDocument>, admin: Db) {
  const ping: number[] = [];
  const newest: number[] = [];
  const byCursor: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < SAMPLES; i++) newest.push(await timed(() => pageQuery(orders)));
  // Cursors spread over the whole book: a page read deep down must be as fast as the first.
  for (let i = 0; i < SAMPLES; i++) {
    const id = 1 + Math.floor(Math.random() * (ORDERS - PAGE));
    const doc = await orders.findOne({ _id: id });
    if (!doc) continue;
    byCursor.push(await timed(() => pageQuery(orders, { updatedAt: doc.updated_at, id: doc._id })));
  }
  for (let i = 0; i < SAMPLES; i++) counts.push(await timed(() => countsQuery(orders)));
  for (let i = 0; i < SAMPLES; i++) ping.push(await timed(() => admin.command({ ping: 1 })));
  return {
    newestPageMs: summary(newest),
    pageByCursorMs: summary(byCursor),
    countsMs: summary(counts),
    pingFloorMs: summary(ping),
  };
}

const workDir = await mkdtemp(join(tmpdir(), 'orders-book-'));
const dbPath = join(workDir, 'db');
let engine: Engine | undefined;
let client: MongoClient | undefined;
try {
  engine = await startEngine(dbPath);
  client = new MongoClient(engine.uri);
  const orders = client.db('orders').collection<OrderDocument>('orders');
  await createListIndexes(orders);

  const base = Date.now() - ORDERS * 1000;
  const insertBatchMs: Array<{ upTo: number; msPerBatch: number; usPerOrder: number }> = [];
  const insertStarted = performance.now();
  for (let start = 1; start <= ORDERS; start += BATCH) {
    // With the search terms the API keeps with every order it writes, so searches run as on the API's own book.
    const docs = seedDocuments(start, Math.min(start + BATCH - 1, ORDERS), base).map((doc) => ({
      ...doc,
      search: searchTermsOf(doc),
    }));
    const ms = await timed(() => orders.insertMany(docs, { ordered: false }));
    const upTo = start + docs.length - 1;
    if (upTo === docs.length || upTo % (ORDERS / 10) < BATCH || upTo === ORDERS) {
      insertBatchMs.push({ upTo, msPerBatch: Math.round(ms), usPerOrder: Math.round((ms * 1000) / docs.length) });
    }
  }
  const insertTotalS = Math.round((performance.now() - insertStarted) / 100) / 10;
  const rssAfterInsertMb = await rssMb(engine.child.pid);
  const reads = await measureReads(orders, client.db('admin'));
  const searches = await measureSearches(client.db('orders').collection<StoredOrder>('orders'));

  await client.close();
  client = undefined;
  const stopStarted = performance.now();
  await stopEngine(engine);
  const stopMs = Math.round(performance.now() - stopStarted);

  const restartStarted = performance.now();
  engine = await startEngine(dbPath);
  client = new MongoClient(engine.uri);
  const reopened = client.db('orders').collection<OrderDocument>('orders');
  const firstPage = await pageQuery(reopened);
  const restartMs = Math.round(performance.now() - restartStarted);
  const countAfterRestart = (await countsQuery(reopened)).reduce((a, b) => a + b, 0);
  const rssAfterRestartMb = await rssMb(engine.child.pid);
  const readsAfterRestart = await measureReads(reopened, client.db('admin'));

  const report = {
    orders: ORDERS,
    insertBatch: BATCH,
    insertTotalS,
    insertBatches: insertBatchMs,
    rssAfterInsertMb,
    reads,
    searches,
    stopMs,
    restartToFirstPageMs: restartMs,
    firstPageAfterRestart: firstPage.length,
    countAfterRestart,
    rssAfterRestartMb,
    readsAfterRestart,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const resultsDir = join(REPOSITORY_ROOT, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(
    join(resultsDir, `engine-book-${ORDERS}.json`),
    `${JSON.stringify({ ranAt: new Date().toISOString(), ...report }, null, 2)}\n`,
  );
} finally {
  await client?.close();
  if (engine) await stopEngine(engine);
  await rm(workDir, { recursive: true, force: true });
}
