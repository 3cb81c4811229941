import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Collection } from 'mongodb';
import { load, nowMs, summarize, watchInserts, type EventWatcher, type Latency } from './measure.js';
import { rawLoad } from './raw-wire.js';

/*
 * `npm run bench -w @orders/mongo-embedded`: the engine in a child process with a data directory on
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

const PHASE_MS = Number(process.env.ENGINE_BENCH_PHASE_MS ?? 2000);
const SMALL_HISTORY_BYTES = 2 ** 20;
const RESULTS = fileURLToPath(new URL('../../../../bench/results/', import.meta.url));

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

  /** `historyBytes`: bound the engine's change history to this many bytes (default: the engine's own). */
  static start(historyBytes?: number): Promise<Engine> {
    // ENGINE_BENCH_CPU_PROF=<dir>: the engine process writes a V8 CPU profile there when it exits (node --cpu-prof).
    const profDir = process.env.ENGINE_BENCH_CPU_PROF;
    const execArgv = ['--expose-gc', ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])];
    const proc = fork(
      fileURLToPath(new URL('./engine-child.js', import.meta.url)),
      historyBytes ? [String(historyBytes)] : [],
      {
        execArgv,
      },
    );
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
  /** Change stream in the writers' process (one driver process for everything, as in the API). */
  changeAckToEvent: Latency;
  changeSendToEvent: Latency;
  /** Change stream in a process of its own, so the writers' saturated event loop is not on the event's path. */
  changeAckToEventOwnProcess: Latency;
  changeSendToEventOwnProcess: Latency;
  engineCpuShareDuringInserts: number;
  /** CPU microseconds per operation, in the engine process and in this (driver) process. */
  engineCpuUsPerInsert: number;
  driverCpuUsPerInsert: number;
  engineCpuUsPerRead: number;
  driverCpuUsPerRead: number;
}

interface CpuSplit {
  engineUsPerOp: number;
  driverUsPerOp: number;
  engineShare: number;
}

/**
 * Runs `phase` and splits the CPU it cost between the engine process and this one, per completed operation
 * (without an engine, only this process's share is measured; the engine's figures are NaN).
 */
async function withCpu<T extends { perSecond: number }>(
  engine: Engine | null,
  phase: () => Promise<T>,
): Promise<T & CpuSplit> {
  const usage = async (): Promise<number> => {
    if (engine === null) return Number.NaN;
    const { cpu } = await engine.call<Usage>('usage');
    return cpu.user + cpu.system;
  };
  const e0 = await usage();
  const d0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await phase();
  const seconds = (performance.now() - t0) / 1000;
  const engineUs = (await usage()) - e0;
  const d1 = process.cpuUsage(d0);
  const ops = Math.max(1, result.perSecond * seconds);
  return {
    ...result,
    engineUsPerOp: engineUs / ops,
    driverUsPerOp: (d1.user + d1.system) / ops,
    engineShare: engineUs / (seconds * 1e6),
  };
}

function watchInChild(uri: string, coll: string, arrived: (id: number, at: number) => void): EventWatcher {
  const child = fork(fileURLToPath(new URL('./watcher-child.js', import.meta.url)), []);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the watcher process did not open its stream within 30 s')),
      30_000,
    );
    child.on('message', (m: { op: 'ready' } | { op: 'event'; id: number; at: number }) => {
      if (m.op === 'ready') {
        clearTimeout(timer);
        resolve();
      } else arrived(m.id, m.at);
    });
  });
  child.send({ op: 'start', uri, db: 'bench', coll });
  return {
    ready,
    async close() {
      child.send({ op: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Commit-to-change-event: writers insert one document each at a time (on `connections` concurrent loops), each
 * waiting for its event before the next write, and we time the event's arrival against the write's ack.
 */
async function ackToEvent(
  coll: Collection<Doc>,
  connections: number,
  nextId: () => number,
  watch: (arrived: (id: number, at: number) => void) => EventWatcher,
): Promise<{ ackToEvent: Latency; sendToEvent: Latency }> {
  const arrivals = new Map<number, number>();
  const waiters = new Map<number, () => void>();
  const watcher = watch((id, at) => {
    arrivals.set(id, at);
    waiters.get(id)?.();
  });
  const acks: number[] = [];
  const sends: number[] = [];
  try {
    await watcher.ready;
    await load(connections, PHASE_MS, 2000, async () => {
      const id = nextId();
      let timer: NodeJS.Timeout | undefined;
      const arrived = new Promise<void>((resolve) => {
        waiters.set(id, resolve);
        timer = setTimeout(resolve, 2000); // bounded: a lost event shows up as a missing sample
      });
      const sent = nowMs();
      await coll.insertOne(doc(id));
      const ack = nowMs();
      await arrived;
      clearTimeout(timer);
      waiters.delete(id);
      const at = arrivals.get(id);
      arrivals.delete(id);
      if (at !== undefined) {
        acks.push(at - ack);
        sends.push(at - sent);
      }
    });
  } finally {
    await watcher.close();
  }
  return { ackToEvent: summarize(acks), sendToEvent: summarize(sends) };
}

async function runMode(engine: Engine, connections: number, idBase: number): Promise<ModeResult> {
  const client = new MongoClient(engine.uri, { maxPoolSize: connections, writeConcern: { w: 'majority' } });
  const watcher = new MongoClient(engine.uri, { maxPoolSize: 1 });
  await client.connect();
  await watcher.connect();
  try {
    const collName = `mode${connections}`;
    const coll: Collection<Doc> = client.db('bench').collection<Doc>(collName);
    await coll.createIndex({ n: 1 });
    let id = idBase;
    const nextId = (): number => id++;

    const inserts = await withCpu(engine, () =>
      load(connections, PHASE_MS, 200_000, () => coll.insertOne(doc(nextId()))),
    );
    const live = id - idBase;

    const reads = await withCpu(engine, () =>
      load(connections, PHASE_MS, 1_000_000, async () => {
        const target = idBase + Math.floor(Math.random() * live);
        const found = await coll.findOne({ _id: target });
        if (found === null) throw new Error(`point read missed _id ${target}`);
      }),
    );
    const range = await load(connections, PHASE_MS, 1_000_000, async () => {
      const from = idBase + Math.floor(Math.random() * Math.max(1, live - 100));
      const docs = await coll.find({ n: { $gte: from, $lt: from + 100 } }).toArray();
      if (docs.length === 0) throw new Error('range query returned nothing');
    });

    const shared = await ackToEvent(coll, connections, nextId, (arrived) =>
      watchInserts(watcher, 'bench', collName, arrived),
    );
    const own = await ackToEvent(coll, connections, nextId, (arrived) => watchInChild(engine.uri, collName, arrived));
    return {
      connections,
      insertsPerSecond: inserts.perSecond,
      insertLatency: inserts.latency,
      readsPerSecond: reads.perSecond,
      readLatency: reads.latency,
      rangeQueriesPerSecond: range.perSecond,
      rangeLatency: range.latency,
      changeAckToEvent: shared.ackToEvent,
      changeSendToEvent: shared.sendToEvent,
      changeAckToEventOwnProcess: own.ackToEvent,
      changeSendToEventOwnProcess: own.sendToEvent,
      engineCpuShareDuringInserts: inserts.engineShare,
      engineCpuUsPerInsert: inserts.engineUsPerOp,
      driverCpuUsPerInsert: inserts.driverUsPerOp,
      engineCpuUsPerRead: reads.engineUsPerOp,
      driverCpuUsPerRead: reads.driverUsPerOp,
    };
  } finally {
    await watcher.close();
    await client.close();
  }
}

interface CeilingResult {
  connections: number;
  insertsPerSecond: number;
  readsPerSecond: number;
  driverCpuUsPerInsert: number;
  driverCpuUsPerRead: number;
}

/**
 * The same insertOne / findOne loops against the null server (canned replies, nothing stored): the most the
 * official driver itself issues per second on this machine, whatever the server.
 */
async function driverCeiling(connections: number): Promise<CeilingResult> {
  const child = fork(fileURLToPath(new URL('./null-server-child.js', import.meta.url)), []);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the null server did not start within 30 s')), 30_000);
      child.once('message', (m: { port: number }) => {
        clearTimeout(timer);
        resolve(m.port);
      });
    });
    const client = new MongoClient(`mongodb://127.0.0.1:${port}/?replicaSet=rs0`, {
      maxPoolSize: connections,
      writeConcern: { w: 'majority' },
    });
    await client.connect();
    try {
      const coll = client.db('bench').collection<Doc>('ceiling');
      const inserts = await withCpu(null, () => load(connections, PHASE_MS, 1_000_000, (i) => coll.insertOne(doc(i))));
      const reads = await withCpu(null, () =>
        load(connections, PHASE_MS, 1_000_000, async (i) => {
          if ((await coll.findOne({ _id: i })) === null) throw new Error('the null server answered no document');
        }),
      );
      return {
        connections,
        insertsPerSecond: inserts.perSecond,
        readsPerSecond: reads.perSecond,
        driverCpuUsPerInsert: inserts.driverUsPerOp,
        driverCpuUsPerRead: reads.driverUsPerOp,
      };
    } finally {
      await client.close();
    }
  } finally {
    child.disconnect();
    await exited;
  }
}

interface RawWireResult {
  connections: number;
  insertsPerSecond: number;
  insertLatency: Latency;
  engineCpuUsPerInsert: number;
  readsPerSecond: number;
  readLatency: Latency;
  engineCpuUsPerRead: number;
}

/** The engine's own capacity: durable inserts and _id reads over raw OP_MSG, without the driver. */
async function rawWire(engine: Engine, connections: number, idBase: number): Promise<RawWireResult> {
  const port = Number(new URL(engine.uri).port);
  const coll = `raw${connections}`;
  let written = 0;
  const inserts = await withCpu(engine, () =>
    rawLoad(port, connections, PHASE_MS, 200_000, (i) => {
      written = i + 1;
      return {
        insert: coll,
        documents: [doc(idBase + i)],
        ordered: true,
        writeConcern: { w: 'majority' },
        $db: 'bench',
      };
    }),
  );
  const reads = await withCpu(engine, () =>
    rawLoad(port, connections, PHASE_MS, 1_000_000, () => ({
      find: coll,
      filter: { _id: idBase + Math.floor(Math.random() * written) },
      limit: 1,
      singleBatch: true,
      $db: 'bench',
    })),
  );
  const failures = inserts.failures + reads.failures;
  if (failures > 0) throw new Error(`raw-wire phase: ${failures} commands did not answer ok`);
  return {
    connections,
    insertsPerSecond: inserts.perSecond,
    insertLatency: inserts.latency,
    engineCpuUsPerInsert: inserts.engineUsPerOp,
    readsPerSecond: reads.perSecond,
    readLatency: reads.latency,
    engineCpuUsPerRead: reads.engineUsPerOp,
  };
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
let raw: RawWireResult[];
let memory: Awaited<ReturnType<typeof memoryCurve>>;
try {
  modes = [await runMode(engine, 1, 1), await runMode(engine, 10, 500_000)];
  raw = [await rawWire(engine, 1, 0), await rawWire(engine, 10, 0)];
  memory = await memoryCurve(engine);
} finally {
  await engine.call('stop').catch(() => undefined);
}
// The same curve on an engine whose change history is bounded at 1 MiB: after deleting back, what the default
// engine still holds is its change history (the deletes, kept for resume), not the deleted documents.
const smallHistory = await Engine.start(SMALL_HISTORY_BYTES);
let memorySmallHistory: Awaited<ReturnType<typeof memoryCurve>>;
try {
  memorySmallHistory = await memoryCurve(smallHistory);
} finally {
  await smallHistory.call('stop').catch(() => undefined);
}
const ceilings = [await driverCeiling(1), await driverCeiling(10)];
const list = cpus();
const machine = `${list[0]?.model.trim() ?? 'unknown'}, ${list.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Linux ${release()}`;
const one = modes[0] as ModeResult;
const ten = modes[1] as ModeResult;
const [rawOne, rawTen] = raw as [RawWireResult, RawWireResult];
const [ceilOne, ceilTen] = ceilings as [CeilingResult, CeilingResult];
const maxOf = (...values: number[]): number => Math.max(...values);
const bestInserts = maxOf(one.insertsPerSecond, ten.insertsPerSecond);
const bestReads = maxOf(one.readsPerSecond, ten.readsPerSecond);
const ackP99 = maxOf(one.changeAckToEvent.p99, ten.changeAckToEvent.p99);
const ackP99Own = maxOf(one.changeAckToEventOwnProcess.p99, ten.changeAckToEventOwnProcess.p99);
const verdict = (met: boolean): string => (met ? 'met' : '**missed**');
const targets = [
  [
    'durable single-document inserts/s',
    '≥ 5,000',
    fmt(bestInserts, 0),
    fmt(maxOf(ceilOne.insertsPerSecond, ceilTen.insertsPerSecond), 0),
    fmt(maxOf(rawOne.insertsPerSecond, rawTen.insertsPerSecond), 0),
    verdict(bestInserts >= 5000),
  ],
  [
    'point reads by _id/s',
    '≥ 20,000',
    fmt(bestReads, 0),
    fmt(maxOf(ceilOne.readsPerSecond, ceilTen.readsPerSecond), 0),
    fmt(maxOf(rawOne.readsPerSecond, rawTen.readsPerSecond), 0),
    verdict(bestReads >= 20_000),
  ],
  [
    "change event after the ack, p99 (1 / 10 connections), stream in the writers' process",
    '≤ 2 ms',
    `${fmt(one.changeAckToEvent.p99, 2)} / ${fmt(ten.changeAckToEvent.p99, 2)} ms`,
    '',
    '',
    verdict(ackP99 <= 2),
  ],
  [
    'the same, stream in a process of its own',
    '≤ 2 ms',
    `${fmt(one.changeAckToEventOwnProcess.p99, 2)} / ${fmt(ten.changeAckToEventOwnProcess.p99, 2)} ms`,
    '',
    '',
    verdict(ackP99Own <= 2),
  ],
] as const;
const row = (label: string, pick: (m: ModeResult) => string): string => `| ${label} | ${pick(one)} | ${pick(ten)} |`;
const lat = (l: Latency): string => `${fmt(l.p50, 2)} / ${fmt(l.p99, 2)}`;
const us = (v: number): string => fmt(v, 0);
const md = [
  '# Engine benchmark (mongo-embedded, official driver 7.9)',
  '',
  `Machine: ${machine}. The engine runs in a child process with a data directory on disk (every acknowledged write fsynced, group commit); the driver load runs in the parent. ${(PHASE_MS / 1000).toFixed(0)} s per phase; total ${((Date.now() - started) / 1000).toFixed(0)} s. The machine is shared: other jobs may have been running.`,
  '',
  "Three views of the same operations: **through the driver** (what an application sees), **the driver alone** (the same loops against a null server in its own process that answers every command at once with a canned reply: the most the official driver issues per second on this machine, whatever the server), and **the engine over raw wire** (OP_MSG commands built with `bson`, one in flight per connection, replies only framed: what the engine sustains without the driver's cost).",
  '',
  '| target | required | through the driver | driver alone (null server) | engine over raw wire | |',
  '|---|---|---:|---:|---:|---|',
  ...targets.map(
    ([name, req, got, ceiling, wire, met]) => `| ${name} | ${req} | ${got} | ${ceiling} | ${wire} | ${met} |`,
  ),
  '',
  '## Through the driver',
  '',
  '| | 1 connection (maxPoolSize 1) | 10 connections (10 concurrent) |',
  '|---|---:|---:|',
  row('durable inserts/s', (m) => fmt(m.insertsPerSecond, 0)),
  row('insert latency p50 / p99 ms', (m) => lat(m.insertLatency)),
  row('engine CPU during inserts (share of a core)', (m) => `${fmt(m.engineCpuShareDuringInserts * 100, 0)}%`),
  row(
    'CPU µs per insert: engine / driver process',
    (m) => `${us(m.engineCpuUsPerInsert)} / ${us(m.driverCpuUsPerInsert)}`,
  ),
  row('point reads by _id/s', (m) => fmt(m.readsPerSecond, 0)),
  row('point read latency p50 / p99 ms', (m) => lat(m.readLatency)),
  row('CPU µs per read: engine / driver process', (m) => `${us(m.engineCpuUsPerRead)} / ${us(m.driverCpuUsPerRead)}`),
  row('indexed range query (100 docs)/s', (m) => fmt(m.rangeQueriesPerSecond, 0)),
  row('indexed range query latency p50 / p99 ms', (m) => lat(m.rangeLatency)),
  row("commit → change event, stream in the writers' process: ack → event p50 / p99 ms", (m) =>
    lat(m.changeAckToEvent),
  ),
  row('the same: send → event p50 / p99 ms', (m) => lat(m.changeSendToEvent)),
  row('commit → change event, stream in its own process: ack → event p50 / p99 ms', (m) =>
    lat(m.changeAckToEventOwnProcess),
  ),
  row('the same: send → event p50 / p99 ms', (m) => lat(m.changeSendToEventOwnProcess)),
  '',
  '## The driver alone, and the engine without the driver',
  '',
  '| | 1 connection | 10 connections |',
  '|---|---:|---:|',
  `| driver alone (null server): insertOne/s | ${fmt(ceilOne.insertsPerSecond, 0)} | ${fmt(ceilTen.insertsPerSecond, 0)} |`,
  `| driver alone: CPU µs per insertOne in the driver process | ${us(ceilOne.driverCpuUsPerInsert)} | ${us(ceilTen.driverCpuUsPerInsert)} |`,
  `| driver alone (null server): findOne by _id/s | ${fmt(ceilOne.readsPerSecond, 0)} | ${fmt(ceilTen.readsPerSecond, 0)} |`,
  `| driver alone: CPU µs per findOne in the driver process | ${us(ceilOne.driverCpuUsPerRead)} | ${us(ceilTen.driverCpuUsPerRead)} |`,
  `| engine over raw wire: durable inserts/s | ${fmt(rawOne.insertsPerSecond, 0)} | ${fmt(rawTen.insertsPerSecond, 0)} |`,
  `| engine over raw wire: insert latency p50 / p99 ms | ${lat(rawOne.insertLatency)} | ${lat(rawTen.insertLatency)} |`,
  `| engine over raw wire: engine CPU µs per insert | ${us(rawOne.engineCpuUsPerInsert)} | ${us(rawTen.engineCpuUsPerInsert)} |`,
  `| engine over raw wire: _id reads/s | ${fmt(rawOne.readsPerSecond, 0)} | ${fmt(rawTen.readsPerSecond, 0)} |`,
  `| engine over raw wire: read latency p50 / p99 ms | ${lat(rawOne.readLatency)} | ${lat(rawTen.readLatency)} |`,
  `| engine over raw wire: engine CPU µs per read | ${us(rawOne.engineCpuUsPerRead)} | ${us(rawTen.engineCpuUsPerRead)} |`,
  '',
  `Memory against live data (documents of ${memory.docBytes} BSON bytes; after GC). The engine keeps a change history for resume, bounded by records (100,000) and bytes (\`--oplogSize\`, 32 MiB by default): after deleting back, the default engine still holds the 90,000 delete events. The same curve with the history bounded at 1 MiB shows the documents themselves are released.`,
  '',
  '| live documents | engine RSS MB | heap used MB | heap per document (bytes) | with a 1 MiB history: heap used MB | heap per document (bytes) |',
  '|---:|---:|---:|---:|---:|---:|',
  ...memory.points.map((p, i) => {
    const small = memorySmallHistory.points[i];
    const label = `${p.liveDocs.toLocaleString('en-US')}${i === memory.points.length - 1 ? ' (after deleting back)' : ''}`;
    return `| ${label} | ${fmt(p.rssMB)} | ${fmt(p.heapUsedMB)} | ${fmt(p.heapPerDocBytes, 0)} | ${fmt(small?.heapUsedMB ?? Number.NaN)} | ${fmt(small?.heapPerDocBytes ?? Number.NaN, 0)} |`;
  }),
  '',
].join('\n');
await mkdir(RESULTS, { recursive: true });
await writeFile(`${RESULTS}engine.md`, md);
await writeFile(
  `${RESULTS}engine.json`,
  JSON.stringify({ machine, phaseMs: PHASE_MS, modes, raw, ceilings, memory, memorySmallHistory }, null, 1),
);
console.log(md);
