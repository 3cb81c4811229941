import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Collection } from 'mongodb';

/*
 * `npm run bench -w @orders/mongo-embedded` (issue 2): the engine in a child process with a data directory on
 * disk (durable: every acknowledged insert is fsynced, group commit), driven through the official driver from
 * this process on one connection (maxPoolSize 1, one request at a time) and on ten (maxPoolSize 10, ten
 * concurrent clients). Every phase is bounded in time and count. Results: bench/results/engine.{json,md}.
 */

interface Usage {
  cpu: NodeJS.CpuUsage;
  memory: NodeJS.MemoryUsage;
}

interface Doc {
  _id: number;
  n: number;
  group: number;
  name: string;
  payload: string;
}

interface Latency {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

const PHASE_MS = Number(process.env.ENGINE_BENCH_PHASE_MS ?? 2000);
const RESULTS = fileURLToPath(new URL('../../../../bench/results/', import.meta.url));

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function summarize(values: number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

class Engine {
  private nextId = 1;
  private readonly waiting = new Map<number, (v: unknown) => void>();
  private constructor(
    readonly proc: ChildProcess,
    readonly uri: string,
  ) {
    proc.on('message', (m: { id: number; result: unknown }) => {
      this.waiting.get(m.id)?.(m.result);
      this.waiting.delete(m.id);
    });
  }

  static start(): Promise<Engine> {
    // ENGINE_BENCH_CPU_PROF=<dir>: the engine process writes a V8 CPU profile there when it exits (node --cpu-prof).
    const profDir = process.env.ENGINE_BENCH_CPU_PROF;
    const execArgv = ['--expose-gc', ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])];
    const proc = fork(fileURLToPath(new URL('./engine-child.js', import.meta.url)), [], { execArgv });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('engine did not start within 30 s')), 30_000);
      proc.once('error', reject);
      proc.once('message', (m: { result: { uri: string } }) => {
        clearTimeout(timer);
        resolve(new Engine(proc, m.result.uri));
      });
    });
  }

  call<T>(op: 'usage' | 'stop', gc = false): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`engine ${op} timed out`)), 30_000);
      this.waiting.set(id, (v) => {
        clearTimeout(timer);
        resolve(v as T);
      });
      this.proc.send({ id, op, gc });
    });
  }
}

/** Runs `op` from `concurrency` loops for `ms` (and at most `maxOps` in all); returns ops/s and latencies. */
async function load(
  concurrency: number,
  ms: number,
  maxOps: number,
  op: (i: number) => Promise<unknown>,
): Promise<{ perSecond: number; latency: Latency }> {
  const latencies: number[] = [];
  let issued = 0;
  const start = performance.now();
  const end = start + ms;
  const loop = async (): Promise<void> => {
    while (performance.now() < end && issued < maxOps) {
      const i = issued++;
      const t0 = performance.now();
      await op(i);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: latencies.length / seconds, latency: summarize(latencies) };
}

function doc(id: number): Doc {
  return { _id: id, n: id, group: id % 100, name: `customer ${id % 1000}`, payload: 'x'.repeat(100) };
}

interface ModeResult {
  connections: number;
  insertsPerSecond: number;
  insertLatency: Latency;
  readsPerSecond: number;
  readLatency: Latency;
  rangeQueriesPerSecond: number;
  rangeLatency: Latency;
  changeAckToEvent: Latency;
  changeSendToEvent: Latency;
  engineCpuShareDuringInserts: number;
}

async function runMode(engine: Engine, connections: number, idBase: number): Promise<ModeResult> {
  const client = new MongoClient(engine.uri, { maxPoolSize: connections, writeConcern: { w: 'majority' } });
  const watcher = new MongoClient(engine.uri, { maxPoolSize: 1 });
  await client.connect();
  await watcher.connect();
  try {
    const coll: Collection<Doc> = client.db('bench').collection<Doc>(`mode${connections}`);
    await coll.createIndex({ n: 1 });
    let nextId = idBase;

    const u0 = await engine.call<Usage>('usage');
    const t0 = performance.now();
    const inserts = await load(connections, PHASE_MS, 200_000, () => coll.insertOne(doc(nextId++)));
    const u1 = await engine.call<Usage>('usage');
    const insertCpu = (u1.cpu.user - u0.cpu.user + u1.cpu.system - u0.cpu.system) / ((performance.now() - t0) * 1000);
    const live = nextId - idBase;

    const reads = await load(connections, PHASE_MS, 1_000_000, async () => {
      const id = idBase + Math.floor(Math.random() * live);
      const found = await coll.findOne({ _id: id });
      if (found === null) throw new Error(`point read missed _id ${id}`);
    });
    const range = await load(connections, PHASE_MS, 1_000_000, async () => {
      const from = idBase + Math.floor(Math.random() * Math.max(1, live - 100));
      const docs = await coll.find({ n: { $gte: from, $lt: from + 100 } }).toArray();
      if (docs.length === 0) throw new Error('range query returned nothing');
    });

    // Commit-to-change-event: a change stream waits in getMore on its own connection; writers insert one
    // document each at a time (on `connections` concurrent loops) and we time the event's arrival.
    const stream = watcher
      .db('bench')
      .collection<Doc>(`mode${connections}`)
      .watch([{ $match: { operationType: 'insert' } }]);
    const arrivals = new Map<number, number>();
    const waiters = new Map<number, () => void>();
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const change = await stream.tryNext().catch(() => null);
        if (change === null) continue;
        if (change.operationType !== 'insert') continue;
        const id = change.documentKey._id;
        arrivals.set(id, nowMs());
        waiters.get(id)?.();
      }
    })();
    await stream.tryNext().catch(() => null); // the stream is open before the first write
    const ackToEvent: number[] = [];
    const sendToEvent: number[] = [];
    await load(connections, PHASE_MS, 2000, async () => {
      const id = nextId++;
      const arrived = new Promise<void>((resolve) => {
        waiters.set(id, resolve);
        setTimeout(resolve, 2000); // bounded: a lost event shows up as a missing sample
      });
      const sent = nowMs();
      await coll.insertOne(doc(id));
      const ack = nowMs();
      await arrived;
      waiters.delete(id);
      const at = arrivals.get(id);
      arrivals.delete(id);
      if (at !== undefined) {
        ackToEvent.push(at - ack);
        sendToEvent.push(at - sent);
      }
    });
    reading = false;
    await stream.close();
    await reader;
    return {
      connections,
      insertsPerSecond: inserts.perSecond,
      insertLatency: inserts.latency,
      readsPerSecond: reads.perSecond,
      readLatency: reads.latency,
      rangeQueriesPerSecond: range.perSecond,
      rangeLatency: range.latency,
      changeAckToEvent: summarize(ackToEvent),
      changeSendToEvent: summarize(sendToEvent),
      engineCpuShareDuringInserts: insertCpu,
    };
  } finally {
    await watcher.close();
    await client.close();
  }
}

interface MemoryPoint {
  liveDocs: number;
  rssMB: number;
  heapUsedMB: number;
  heapPerDocBytes: number;
}

/** Fills a collection to 10k, 50k, 100k documents (bulk inserts), then deletes back to 10k; GC before each reading. */
async function memoryCurve(engine: Engine): Promise<{ points: MemoryPoint[]; docBytes: number }> {
  const client = new MongoClient(engine.uri, { maxPoolSize: 4 });
  await client.connect();
  try {
    const db = client.db('bench');
    await db.dropDatabase();
    const coll = db.collection<Doc>('memory');
    const base = await engine.call<Usage>('usage', true);
    const points: MemoryPoint[] = [];
    const read = async (live: number): Promise<void> => {
      const u = await engine.call<Usage>('usage', true);
      points.push({
        liveDocs: live,
        rssMB: u.memory.rss / 2 ** 20,
        heapUsedMB: u.memory.heapUsed / 2 ** 20,
        heapPerDocBytes: live > 0 ? (u.memory.heapUsed - base.memory.heapUsed) / live : Number.NaN,
      });
    };
    let count = 0;
    for (const target of [10_000, 50_000, 100_000]) {
      while (count < target) {
        const batch = Array.from({ length: Math.min(1000, target - count) }, (_, k) => doc(1_000_000 + count + k));
        await coll.insertMany(batch, { ordered: false });
        count += batch.length;
      }
      await read(count);
    }
    await coll.deleteMany({ _id: { $gte: 1_000_000 + 10_000 } });
    await read(10_000);
    const { BSON } = await import('mongodb');
    return { points, docBytes: BSON.calculateObjectSize(doc(1)) };
  } finally {
    await client.close();
  }
}

function fmt(v: number, d = 1): string {
  return Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '–';
}

const started = Date.now();
const engine = await Engine.start();
let modes: ModeResult[];
let memory: Awaited<ReturnType<typeof memoryCurve>>;
try {
  modes = [await runMode(engine, 1, 1), await runMode(engine, 10, 500_000)];
  memory = await memoryCurve(engine);
} finally {
  await engine.call('stop').catch(() => undefined);
}
const list = cpus();
const machine = `${list[0]?.model.trim() ?? 'unknown'}, ${list.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Linux ${release()}`;
const one = modes[0] as ModeResult;
const ten = modes[1] as ModeResult;
const best = (pick: (m: ModeResult) => number): number => Math.max(pick(one), pick(ten));
const targets = [
  [
    'durable single-document inserts/s',
    '≥ 5,000',
    fmt(
      best((m) => m.insertsPerSecond),
      0,
    ),
    best((m) => m.insertsPerSecond) >= 5000,
  ],
  [
    'point reads by _id/s',
    '≥ 20,000',
    fmt(
      best((m) => m.readsPerSecond),
      0,
    ),
    best((m) => m.readsPerSecond) >= 20_000,
  ],
  [
    'change event after the ack, p99 (1 / 10 connections)',
    '≤ 2 ms',
    `${fmt(one.changeAckToEvent.p99, 2)} / ${fmt(ten.changeAckToEvent.p99, 2)} ms`,
    Math.max(one.changeAckToEvent.p99, ten.changeAckToEvent.p99) <= 2,
  ],
] as const;
const row = (label: string, pick: (m: ModeResult) => string): string => `| ${label} | ${pick(one)} | ${pick(ten)} |`;
const lat = (l: Latency): string => `${fmt(l.p50, 2)} / ${fmt(l.p99, 2)}`;
const md = [
  '# Engine benchmark (mongo-embedded, official driver 7.9)',
  '',
  `Machine: ${machine}. The engine runs in a child process with a data directory on disk (every acknowledged write fsynced, group commit); the driver load runs in the parent. ${(PHASE_MS / 1000).toFixed(0)} s per phase; total ${((Date.now() - started) / 1000).toFixed(0)} s. The machine is shared: other jobs may have been running.`,
  '',
  '| target | required | measured | |',
  '|---|---|---|---|',
  ...targets.map(([name, req, got, met]) => `| ${name} | ${req} | ${got} | ${met ? 'met' : '**missed**'} |`),
  '',
  '| | 1 connection (maxPoolSize 1) | 10 connections (10 concurrent) |',
  '|---|---:|---:|',
  row('durable inserts/s', (m) => fmt(m.insertsPerSecond, 0)),
  row('insert latency p50 / p99 ms', (m) => lat(m.insertLatency)),
  row('engine CPU during inserts (share of a core)', (m) => `${fmt(m.engineCpuShareDuringInserts * 100, 0)}%`),
  row('point reads by _id/s', (m) => fmt(m.readsPerSecond, 0)),
  row('point read latency p50 / p99 ms', (m) => lat(m.readLatency)),
  row('indexed range query (100 docs)/s', (m) => fmt(m.rangeQueriesPerSecond, 0)),
  row('indexed range query latency p50 / p99 ms', (m) => lat(m.rangeLatency)),
  row('commit → change event: ack → event p50 / p99 ms', (m) => lat(m.changeAckToEvent)),
  row('commit → change event: send → event p50 / p99 ms', (m) => lat(m.changeSendToEvent)),
  '',
  `Memory against live data (documents of ${memory.docBytes} BSON bytes; after GC):`,
  '',
  '| live documents | engine RSS MB | heap used MB | heap per document (bytes) |',
  '|---:|---:|---:|---:|',
  ...memory.points.map(
    (p, i) =>
      `| ${p.liveDocs.toLocaleString('en-US')}${i === memory.points.length - 1 ? ' (after deleting back)' : ''} | ${fmt(p.rssMB)} | ${fmt(p.heapUsedMB)} | ${fmt(p.heapPerDocBytes, 0)} |`,
  ),
  '',
].join('\n');
await mkdir(RESULTS, { recursive: true });
await writeFile(`${RESULTS}engine.md`, md);
await writeFile(`${RESULTS}engine.json`, JSON.stringify({ machine, phaseMs: PHASE_MS, modes, memory }, null, 1));
console.log(md);
