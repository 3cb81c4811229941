import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MongoClient, type Collection } from 'mongodb';
import { benchAuthorization } from './auth.js';
import { Child } from './ipc.js';
import type { ConnectArgs, LoadReport } from './loadgen.js';
import { nowMs, sourceAddresses, type Transport } from './raw-client.js';
import { summarize, type Summary } from './stats.js';

/*
 * The fan-out harness. Process layout, all on 127.0.0.1:
 *   engine   – the embedded database alone (bench/fanout/engine.ts)
 *   server   – the real API built by buildApp, transport ws or Socket.IO (bench/fanout/server.ts)
 *   loadgen  – N processes holding counting clients and probes (bench/fanout/loadgen.ts)
 *   this one – the writer (official driver, straight to the engine, like any script would) and the bookkeeping.
 * Writes carry their send time in product_name; ids join the writer's, the server's and the probes' timestamps.
 */

export interface ThroughputPlan {
  /** Deliveries/s the steps aim at, ascending; each step writes at target / clients per second. */
  targets: number[];
  stepMs: number;
  maxSteps: number;
  /** p99 end-to-end bound a step must keep (ms). */
  p99BoundMs: number;
}

export interface PostPlan {
  concurrency: number;
  durationMs: number;
  /** Clients and write rate of the fan-out running during the second measurement. */
  fanoutClients: number;
  fanoutWritesPerSecond: number;
}

export interface HarnessOptions {
  /** One entry per server run, in order: e.g. ws, sio, ws, sio (interleaved A B A B). */
  runs: Transport[];
  clientCounts: number[];
  probes: number;
  loadgens: number;
  /** Scenario 1: writes at 1/s for this many seconds at each client count. */
  latencyWrites: number;
  latencyIntervalMs: number;
  throughput: ThroughputPlan | null;
  /** Scenario 4, on ws runs only. */
  post: PostPlan | null;
  /** Refuse a step when a load generator used more than this share of a core … */
  maxLoadgenCpu: number;
  /** … or its event loop lagged more than this at p99 (ms). */
  maxLoadgenLagMs: number;
  /** Sample the server's CPU (the V8 profiler `node --cpu-prof` uses) during the first throughput step at `clients`. */
  profile?: { transport: Transport; clients: number; file: string } | null;
  /**
   * API processes per run (default 1). With K > 1 each is a separate server process against the same engine, with
   * its own change stream and no broker (the product's way to scale out); clients are split evenly over them,
   * and server CPU, memory and traces are summed over all of them.
   */
  servers?: number;
  /**
   * After `runs`: the same scenarios (no POST) with `servers` API processes, at `clientCounts`, for each of `runs`.
   * Its throughput sweep may take `extraSteps` more steps (it has no smaller client count to start it higher).
   */
  scaleOut?: { servers: number; clientCounts: number[]; runs: Transport[]; extraSteps?: number } | null;
  log: (line: string) => void;
}

export interface Segments {
  total: Summary;
  sentToAck: Summary;
  ackToProbe: Summary;
  sentToServer: Summary;
  fanout: Summary;
  fanoutToProbe: Summary;
}

export interface StepResult {
  clients: number;
  targetDps: number;
  writesPerSecond: number;
  writes: number;
  writeErrors: number;
  expectedDeliveries: number;
  deliveries: number;
  lost: number;
  extra: number;
  closedByServer: number;
  deliveriesPerSecond: number;
  framesPerSecond: number;
  serverCpuMicros: number;
  serverCpuUsPerDelivery: number;
  serverCpuShare: number;
  /** Share of the server's CPU time spent in the kernel (socket writes on loopback run the peer's receive path too). */
  serverSystemShare: number;
  engineCpuShare: number;
  loadgen: { cpuShare: number; lagP99Ms: number; lagMaxMs: number }[];
  loadgenSaturated: boolean;
  orchestratorLagP99Ms: number;
  /** Share of a core used by other processes on the machine during the step. */
  foreignCpuShare: number;
  segments: Segments;
  pass: boolean;
  verdict: string;
}

export interface MemoryResult {
  clients: number;
  added: number;
  rssPerConnBytes: number;
  heapPerConnBytes: number;
  externalPerConnBytes: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Clients each API process counted once connected (one entry per process). */
  perServerClients?: number[];
}

export interface PostResult {
  alone: PostLoad & {
    /**
     * CPU µs per answered request while measured alone, in the API process(es) and in the engine: steadier than
     * the rate on a machine shared with other jobs, and the engine's share shows what a request costs the database.
     */
    serverCpuUsPerRequest?: number;
    engineCpuUsPerRequest?: number;
    /** Share of a core used meanwhile by processes other than the benchmark's (other jobs): a noisy-run flag. */
    foreignCpuShare?: number;
  };
  duringFanout: PostLoad & { fanoutDeliveriesPerSecond: number; fanoutLost: number; fanoutP99Ms: number };
}

export interface PostLoad {
  requests: number;
  errors: number;
  perSecond: number;
  latency: Summary;
}

export interface RunResult {
  transport: Transport;
  /** API processes the clients were split over (absent in results from before the option: 1). */
  servers?: number;
  run: number;
  connectFailures: number;
  memory: MemoryResult[];
  latency: StepResult[];
  throughput: { clients: number; steps: StepResult[]; best: StepResult | null; stoppedBy: string }[];
  post: PostResult | null;
}

/** A process's `usage` answer: its CPU and memory, and when it was read. */
export interface Usage {
  cpu: NodeJS.CpuUsage;
  memory: NodeJS.MemoryUsage;
  at: number;
}

interface WriteRow {
  id: number;
  sent: number;
  ack: number;
  ok: boolean;
}

/** What the writers store: an order as the API would (the feed validates it against the contract). */
export interface BenchOrder {
  _id: number;
  customer_name: string;
  product_name: string;
  status: 'pending';
  created_at: Date;
  updated_at: Date;
  version: number;
}

/** Inserts orders at a steady rate straight into the engine with the official driver (w: majority). */
class Writer {
  private nextId: number;
  constructor(
    private readonly orders: Collection<BenchOrder>,
    firstId: number,
  ) {
    this.nextId = firstId;
  }

  /** Writes `count` orders at `perSecond`, each acknowledged before its row is final. Bounded by count. */
  async run(count: number, perSecond: number, customer: string): Promise<WriteRow[]> {
    const rows: WriteRow[] = [];
    const pending: Promise<void>[] = [];
    const start = nowMs();
    for (let i = 0; i < count; i++) {
      const due = start + (i * 1000) / perSecond;
      const wait = due - nowMs();
      if (wait > 1) await sleep(wait);
      const id = this.nextId++;
      const sent = nowMs();
      const row: WriteRow = { id, sent, ack: Number.NaN, ok: false };
      rows.push(row);
      const now = new Date();
      pending.push(
        this.orders
          .insertOne(
            {
              _id: id,
              customer_name: customer,
              product_name: `bench sent=${sent.toFixed(3)}`,
              status: 'pending',
              created_at: now,
              updated_at: now,
              version: 1,
            },
            { writeConcern: { w: 'majority' } },
          )
          .then(
            () => {
              row.ack = nowMs();
              row.ok = true;
            },
            () => {
              row.ack = nowMs();
            },
          ),
      );
    }
    await Promise.all(pending);
    return rows;
  }
}

/** Busy CPU time of the whole machine so far (µs), from /proc/stat; null where there is none. */
function machineBusyMicros(): number | null {
  try {
    const fields = (readFileSync('/proc/stat', 'latin1').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return (total - idle) * 10_000; // USER_HZ = 100
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CPU µs a process used between two readings, user and kernel. */
export function cpuMicros(a: Usage, b: Usage): number {
  return b.cpu.user - a.cpu.user + (b.cpu.system - a.cpu.system);
}

/** Runs every scenario for each entry of `runs` and returns the raw results (see report.ts for the tables). */
export async function runHarness(options: HarnessOptions): Promise<RunResult[]> {
  const plans: RunPlan[] = options.runs.map((transport) => ({
    transport,
    servers: options.servers ?? 1,
    clientCounts: options.clientCounts,
    post: options.post,
    throughput: options.throughput,
  }));
  const scaleOut = options.scaleOut;
  if (scaleOut) {
    const throughput = options.throughput
      ? { ...options.throughput, maxSteps: options.throughput.maxSteps + (scaleOut.extraSteps ?? 0) }
      : null;
    for (const transport of scaleOut.runs) {
      plans.push({ transport, servers: scaleOut.servers, clientCounts: scaleOut.clientCounts, post: null, throughput });
    }
  }
  const results: RunResult[] = [];
  for (let i = 0; i < plans.length; i++) {
    const plan = plans[i] as RunPlan;
    options.log(
      `\n== run ${i + 1}/${plans.length}: ${plan.transport === 'ws' ? 'raw WebSocket hub' : 'Socket.IO 4'}` +
        (plan.servers > 1 ? `, ${plan.servers} API processes` : ''),
    );
    results.push(await runOne(options, plan, i));
  }
  return results;
}

interface RunPlan {
  transport: Transport;
  servers: number;
  clientCounts: number[];
  post: PostPlan | null;
  throughput: ThroughputPlan | null;
}

async function runOne(options: HarnessOptions, plan: RunPlan, runIndex: number): Promise<RunResult> {
  const { transport } = plan;
  const { log } = options;
  const children: Child[] = [];
  const orchestratorLag = monitorEventLoopDelay({ resolution: 10 });
  orchestratorLag.enable();
  let mongo: MongoClient | null = null;
  try {
    // BENCH_ENGINE_CPU_PROF=<dir>: the engine writes a V8 CPU profile there when it exits (node --cpu-prof).
    const engineProf = process.env.BENCH_ENGINE_CPU_PROF;
    const engine = await Child.start(
      'engine',
      './engine.ts',
      engineProf ? ['--cpu-prof', `--cpu-prof-dir=${engineProf}`] : [],
    );
    children.push(engine);
    const mongoUri = await engine.call<string>('uri');
    const servers: Child[] = [];
    const ports: number[] = [];
    for (let k = 0; k < plan.servers; k++) {
      const server = await Child.start(plan.servers > 1 ? `server${k}` : 'server', './server.ts', ['--expose-gc']);
      children.push(server);
      servers.push(server);
      ports.push((await server.call<{ port: number }>('start', { transport, mongoUri })).port);
    }
    const loadgens: Child[] = [];
    for (let g = 0; g < options.loadgens; g++) {
      const child = await Child.start(`loadgen${g}`, './loadgen.ts');
      children.push(child);
      loadgens.push(child);
    }
    mongo = new MongoClient(mongoUri, { maxPoolSize: 20, writeConcern: { w: 'majority' } });
    await mongo.connect();
    const writer = new Writer(mongo.db('orders').collection<BenchOrder>('orders'), 1 + runIndex * 10_000_000);
    log(
      `   engine, ${servers.length > 1 ? `${servers.length} API processes (ports ${ports.join(', ')})` : `server (port ${ports.join()})`} and ${loadgens.length} load generator(s) up`,
    );

    const result: RunResult = {
      transport,
      servers: plan.servers,
      run: runIndex,
      connectFailures: 0,
      memory: [],
      latency: [],
      throughput: [],
      post: null,
    };
    const ctx: StepContext = { options, servers, ports, engine, loadgens, writer, orchestratorLag, transport };
    let previousBest: number | null = null;
    for (const target of plan.clientCounts) {
      // Every level starts from no clients, so its probes sit evenly through the hub's write order.
      await Promise.all(loadgens.map((g) => g.call('closeAll')));
      await waitForClients(servers, 0);
      const before = await usageOf(servers, true);
      const add = target;
      const probes = Math.min(options.probes, target);
      const t0 = nowMs();
      const failed = await connectClients(ctx, ports, add - probes, probes, undefined);
      result.connectFailures += failed;
      const after = await usageOf(servers, true);
      const perServerClients = await clientsOf(servers);
      const sum = (list: Usage[], pick: (m: NodeJS.MemoryUsage) => number): number =>
        list.reduce((n, u) => n + pick(u.memory), 0);
      const delta = (pick: (m: NodeJS.MemoryUsage) => number): number => sum(after, pick) - sum(before, pick);
      const memory: MemoryResult = {
        clients: target,
        added: add,
        rssPerConnBytes: delta((m) => m.rss) / add,
        heapPerConnBytes: delta((m) => m.heapUsed) / add,
        externalPerConnBytes: delta((m) => m.external + m.arrayBuffers) / add,
        rssBytes: sum(after, (m) => m.rss),
        heapUsedBytes: sum(after, (m) => m.heapUsed),
        perServerClients,
      };
      result.memory.push(memory);
      log(
        `   ${target} clients connected in ${((nowMs() - t0) / 1000).toFixed(1)} s (${failed} failed); ` +
          `idle memory per added connection: RSS ${(memory.rssPerConnBytes / 1024).toFixed(1)} KB, heap ${(memory.heapPerConnBytes / 1024).toFixed(1)} KB`,
      );

      // One unmeasured write first: the first fan-out to freshly connected sockets is markedly slower (first write
      // on each connection; flush-micro.ts prints it), a one-off that would otherwise be scenario 1's p99.
      await warmUp(ctx, target);
      const latency = await measureStep(
        ctx,
        target,
        0,
        options.latencyWrites,
        1000 / options.latencyIntervalMs,
        'bench',
        250,
      );
      result.latency.push(latency);
      log(`   [1] ${target} clients @1 change/s: ${describe(latency)}`);

      if (plan.throughput && target >= 1000) {
        const sweep = await sweepThroughput(ctx, plan.throughput, target, previousBest);
        result.throughput.push(sweep);
        if (sweep.best) previousBest = sweep.best.targetDps;
      }
    }

    if (plan.post && transport === 'ws') {
      await Promise.all(loadgens.map((g) => g.call('closeAll')));
      await waitForClients(servers, 0);
      result.post = await measurePost(ctx, plan.post);
    }
    return result;
  } finally {
    orchestratorLag.disable();
    await mongo?.close().catch(() => undefined);
    // Load generators first, so the server sees closes rather than resets; the engine last.
    for (const child of [...children].reverse()) await child.stop();
  }
}

/** Writes one order and waits (bounded) until every client counted it; nothing is recorded. */
async function warmUp(ctx: StepContext, clients: number): Promise<void> {
  await Promise.all(ctx.loadgens.map((g) => g.call('reset')));
  const rows = await ctx.writer.run(1, 1, 'bench');
  const expected = rows.filter((r) => r.ok).length * clients;
  const deadline = nowMs() + 5000;
  while (nowMs() < deadline) {
    const reports = await Promise.all(ctx.loadgens.map((g) => g.call<LoadReport>('report', { samples: false })));
    if (reports.reduce((sum, r) => sum + r.events, 0) >= expected) return;
    await sleep(50);
  }
}

/** Waits (bounded) until the servers count `n` connected clients in all, so memory and CPU readings are settled. */
async function waitForClients(servers: Child[], n: number): Promise<void> {
  const deadline = nowMs() + 10_000;
  while (nowMs() < deadline) {
    if ((await clientsOf(servers)).reduce((sum, c) => sum + c, 0) === n) return;
    await sleep(50);
  }
}

/** Connected clients per API process. */
async function clientsOf(servers: Child[]): Promise<number[]> {
  const stats = await Promise.all(
    servers.map((s) => s.call<{ hub: { clients: number } | null; sioClients: number }>('stats')),
  );
  return stats.map((st) => (st.hub?.clients ?? 0) + st.sioClients);
}

function usageOf(servers: Child[], gc = false): Promise<Usage[]> {
  return Promise.all(servers.map((s) => s.call<Usage>('usage', gc ? { gc: true } : undefined)));
}

/** CPU used by every server between two readings (µs): user and kernel. */
function serversCpu(a: Usage[], b: Usage[]): { total: number; system: number } {
  let total = 0;
  let system = 0;
  a.forEach((u, i) => {
    const v = b[i] as Usage;
    total += cpuMicros(u, v);
    system += v.cpu.system - u.cpu.system;
  });
  return { total, system };
}

interface StepContext {
  options: HarnessOptions;
  /** The API processes (one unless scaled out) and their ports, in the same order. */
  servers: Child[];
  ports: number[];
  engine: Child;
  loadgens: Child[];
  writer: Writer;
  orchestratorLag: ReturnType<typeof monitorEventLoopDelay>;
  transport: Transport;
}

async function connectClients(
  ctx: StepContext,
  ports: number[],
  counting: number,
  probes: number,
  subscribe: string | undefined,
): Promise<number> {
  const n = ctx.loadgens.length;
  const answers = await Promise.all(
    ctx.loadgens.map((g, i) =>
      g.call<{ failed: number; firstError: string | null }>(
        'connect',
        {
          port: ports[0] as number,
          ports,
          transport: ctx.transport,
          counting: Math.floor(counting / n) + (i < counting % n ? 1 : 0),
          probes: Math.floor(probes / n) + (i < probes % n ? 1 : 0),
          subscribe,
          localAddresses: sourceAddresses(i, n),
        } satisfies ConnectArgs,
        300_000,
      ),
    ),
  );
  for (const a of answers) if (a.firstError) ctx.options.log(`   connect error (sample): ${a.firstError}`);
  return answers.reduce((sum, a) => sum + a.failed, 0);
}

async function sweepThroughput(
  ctx: StepContext,
  plan: ThroughputPlan,
  clients: number,
  previousBest: number | null,
): Promise<RunResult['throughput'][number]> {
  const { targets } = plan;
  // Start one step below the previous client count's best (capacity falls as clients grow), else at the second.
  let index = previousBest !== null ? Math.max(0, targets.indexOf(previousBest) - 1) : Math.min(1, targets.length - 1);
  const steps: StepResult[] = [];
  let best: StepResult | null = null;
  let stoppedBy = 'step limit';
  const tried = new Set<number>();
  for (let s = 0; s < plan.maxSteps && index >= 0 && index < targets.length && !tried.has(index); s++) {
    tried.add(index);
    const target = targets[index] as number;
    const perSecond = target / clients;
    const writes = Math.max(1, Math.round((perSecond * plan.stepMs) / 1000));
    const profile = ctx.options.profile;
    const profiling = profile && profile.transport === ctx.transport && profile.clients === clients;
    // With several API processes, the first one is profiled.
    const profiled = ctx.servers[0] as Child;
    if (profiling) await profiled.call('profileStart');
    const step = await measureStep(ctx, clients, target, writes, perSecond, 'bench', plan.p99BoundMs);
    if (profiling) {
      const cpuProfile = await profiled.call<object>('profileStop');
      await mkdir(dirname(profile.file), { recursive: true });
      await writeFile(profile.file, JSON.stringify(cpuProfile));
      ctx.options.log(`   profile written: ${profile.file}`);
      ctx.options.profile = null;
    }
    steps.push(step);
    ctx.options.log(`   [2] ${clients} clients, target ${target.toLocaleString('en-US')}/s: ${describe(step)}`);
    if (step.loadgenSaturated) {
      stoppedBy = 'load generator saturated: step refused';
      break;
    }
    if (step.pass) {
      best = step;
      index += 1;
      if (index >= targets.length) stoppedBy = 'highest target passed';
      continue;
    }
    stoppedBy = step.verdict;
    if (best !== null) break;
    index -= 1;
  }
  return { clients, steps, best, stoppedBy };
}

function describe(step: StepResult): string {
  const t = step.segments.total;
  return (
    `${Math.round(step.deliveriesPerSecond).toLocaleString('en-US')} deliveries/s, e2e p50 ${t.p50.toFixed(1)} ms p99 ${t.p99.toFixed(1)} ms, ` +
    `lost ${step.lost}, server CPU ${(step.serverCpuShare * 100).toFixed(0)}% [${(step.serverSystemShare * 100).toFixed(0)}% sys] (${step.serverCpuUsPerDelivery.toFixed(2)} µs/delivery), ` +
    `other processes ${(step.foreignCpuShare * 100).toFixed(0)}%, loadgen CPU ${step.loadgen.map((l) => `${(l.cpuShare * 100).toFixed(0)}%`).join('/')} lag p99 ${step.loadgen.map((l) => l.lagP99Ms.toFixed(0)).join('/')} ms → ${step.verdict}`
  );
}

/** One measurement window: writes at a rate, waits for every client to receive them, joins the timestamps. */
async function measureStep(
  ctx: StepContext,
  clients: number,
  targetDps: number,
  writes: number,
  perSecond: number,
  customer: string,
  p99BoundMs: number,
): Promise<StepResult> {
  const { servers, engine, loadgens, writer, options } = ctx;
  await Promise.all(loadgens.map((g) => g.call('reset')));
  await Promise.all(servers.map((s) => s.call('traceStart')));
  ctx.orchestratorLag.reset();
  const s0 = await usageOf(servers);
  const e0 = await engine.call<Usage>('usage');
  const m0 = machineBusyMicros();
  const o0 = process.cpuUsage();
  const rows = await writer.run(writes, perSecond, customer);
  const writeEnd = nowMs();
  const ok = rows.filter((r) => r.ok).length;
  const expected = ok * clients;
  // Wait (bounded) until every client has counted every event, or nothing more arrives.
  const drainDeadline = writeEnd + 5000;
  while (nowMs() < drainDeadline) {
    const reports = await Promise.all(loadgens.map((g) => g.call<LoadReport>('report', { samples: false })));
    if (reports.reduce((sum, r) => sum + r.events, 0) >= expected) break;
    await sleep(50);
  }
  const s1 = await usageOf(servers);
  const e1 = await engine.call<Usage>('usage');
  const m1 = machineBusyMicros();
  const o1 = process.cpuUsage(o0);
  const reports = await Promise.all(loadgens.map((g) => g.call<LoadReport>('report', { samples: true })));
  const traces = await Promise.all(servers.map((s) => s.call<[number, number, number][]>('traceTake')));
  const trace = traces.flat();
  const windowMs = (s1[0] as Usage).at - (s0[0] as Usage).at;

  const deliveries = reports.reduce((sum, r) => sum + r.events, 0);
  const frames = reports.reduce((sum, r) => sum + r.frames, 0);
  const closedByServer = reports.reduce((sum, r) => sum + r.closedByServer, 0);
  const maxEvents = Math.max(...reports.map((r) => r.maxEvents));
  const minEvents = Math.min(...reports.map((r) => r.minEvents ?? Number.POSITIVE_INFINITY));
  const segments = joinSegments(
    rows,
    trace,
    reports.flatMap((r) => r.samples),
  );
  const { total: serverCpu, system: serverSystem } = serversCpu(s0, s1);
  // n writes paced 1/perSecond apart offer n/perSecond seconds of load.
  const writeSeconds = writes / perSecond;
  const loadgen = reports.map((r) => ({
    cpuShare: r.cpuMicros / (r.wallMs * 1000),
    lagP99Ms: r.loopDelayP99Ms,
    lagMaxMs: r.loopDelayMaxMs,
  }));
  // CPU used on this machine by processes other than the benchmark's own (other users' jobs): a noisy-run flag.
  const mine = serverCpu + cpuMicros(e0, e1) + o1.user + o1.system + reports.reduce((n, r) => n + r.cpuMicros, 0);
  const foreignCpuShare = m0 !== null && m1 !== null ? Math.max(0, (m1 - m0 - mine) / (windowMs * 1000)) : Number.NaN;
  const loadgenSaturated = loadgen.some(
    (l) => l.cpuShare > options.maxLoadgenCpu || l.lagP99Ms > options.maxLoadgenLagMs,
  );
  const lost = Math.max(0, expected - deliveries);
  const extra = maxEvents > ok ? deliveries - expected : 0;
  const sentSpan = rows.length > 1 ? ((rows[rows.length - 1] as WriteRow).sent - (rows[0] as WriteRow).sent) / 1000 : 0;
  const achievedRate = sentSpan > 0 ? (rows.length - 1) / sentSpan : perSecond;
  const problems: string[] = [];
  if (loadgenSaturated) problems.push('REFUSED: load generator saturated');
  if (lost > 0 || minEvents < ok) problems.push(`lost ${lost} deliveries`);
  if (extra > 0) problems.push(`${extra} unexpected deliveries`);
  if (closedByServer > 0) problems.push(`${closedByServer} clients closed by the server`);
  if (ok < rows.length) problems.push(`${rows.length - ok} writes failed`);
  if (segments.total.p99 > p99BoundMs) problems.push(`p99 ${segments.total.p99.toFixed(0)} ms > ${p99BoundMs} ms`);
  if (writes > 10 && achievedRate < 0.9 * perSecond) problems.push(`writer fell behind (${achievedRate.toFixed(0)}/s)`);
  return {
    clients,
    targetDps,
    writesPerSecond: perSecond,
    writes: rows.length,
    writeErrors: rows.length - ok,
    expectedDeliveries: expected,
    deliveries,
    lost,
    extra,
    closedByServer,
    deliveriesPerSecond: deliveries / writeSeconds,
    framesPerSecond: frames / writeSeconds,
    serverCpuMicros: serverCpu,
    serverCpuUsPerDelivery: deliveries > 0 ? serverCpu / deliveries : Number.NaN,
    serverCpuShare: serverCpu / (windowMs * 1000),
    serverSystemShare: serverCpu > 0 ? serverSystem / serverCpu : Number.NaN,
    engineCpuShare: cpuMicros(e0, e1) / ((e1.at - e0.at) * 1000),
    loadgen,
    loadgenSaturated,
    orchestratorLagP99Ms: Math.max(0, ctx.orchestratorLag.percentile(99) / 1e6 - 10),
    foreignCpuShare,
    segments,
    pass: problems.length === 0,
    verdict: problems.length === 0 ? 'pass' : problems.join('; '),
  };
}

/**
 * Joins the writer's, the server's and the probes' timestamps by order id. With several API processes the trace
 * has one row per process for each id: sent→server and the fan-out are counted per process, and a probe's
 * fan-out done→probe is measured from the last process to finish (which process served it is not recorded).
 */
export function joinSegments(
  rows: WriteRow[],
  trace: [number, number, number][],
  samples: [number, number][],
): Segments {
  const writes = new Map<number, WriteRow>();
  for (const r of rows) writes.set(r.id, r);
  const lastDone = new Map<number, number>();
  for (const [id, , done] of trace) lastDone.set(id, Math.max(done, lastDone.get(id) ?? -Infinity));
  const total: number[] = [];
  const ackToProbe: number[] = [];
  const fanoutToProbe: number[] = [];
  for (const [id, at] of samples) {
    const w = writes.get(id);
    if (!w) continue;
    total.push(at - w.sent);
    ackToProbe.push(at - w.ack);
    const done = lastDone.get(id);
    if (done !== undefined) fanoutToProbe.push(at - done);
  }
  const sentToServer: number[] = [];
  const fanout: number[] = [];
  for (const [id, received, done] of trace) {
    const w = writes.get(id);
    if (w) sentToServer.push(received - w.sent);
    fanout.push(done - received);
  }
  return {
    total: summarize(total),
    sentToAck: summarize(rows.filter((r) => r.ok).map((r) => r.ack - r.sent)),
    ackToProbe: summarize(ackToProbe),
    sentToServer: summarize(sentToServer),
    fanout: summarize(fanout),
    fanoutToProbe: summarize(fanoutToProbe),
  };
}

// ---- scenario 4: POST /orders ------------------------------------------------------------------------------

async function postLoad(port: number, plan: PostPlan, firstId: number): Promise<PostLoad> {
  const agent = new Agent({ keepAlive: true, maxSockets: plan.concurrency });
  const latencies: number[] = [];
  let errors = 0;
  let nextId = firstId;
  const start = nowMs();
  const end = start + plan.durationMs;
  const worker = async (): Promise<void> => {
    // Bounded by time and by a generous count.
    for (let i = 0; i < 1_000_000 && nowMs() < end; i++) {
      const id = nextId++;
      const body = JSON.stringify({ id, customer_name: 'post load', product_name: 'widget', status: 'pending' });
      const t0 = nowMs();
      const status = await postOnce(agent, port, body);
      latencies.push(nowMs() - t0);
      if (status !== 201) errors += 1;
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  const elapsed = (nowMs() - start) / 1000;
  agent.destroy();
  return { requests: latencies.length, errors, perSecond: latencies.length / elapsed, latency: summarize(latencies) };
}

function postOnce(agent: Agent, port: number, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/orders',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: benchAuthorization(),
        },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

/** Unmeasured POST load before `POST /orders` alone is measured. */
const POST_WARMUP_MS = 6000;

async function measurePost(ctx: StepContext, plan: PostPlan): Promise<PostResult> {
  const { log } = ctx.options;
  // With several API processes, the POSTs go to the first; the fan-out's clients are spread over all of them.
  const port = ctx.ports[0] as number;
  // Warm-up (JIT, connections), not measured: measured on this machine, the POST path runs at about a third of its
  // steady rate for its first 2 s and settles after 4-6 s (V8 optimizing Fastify's and the driver's paths).
  await postLoad(port, { ...plan, durationMs: POST_WARMUP_MS }, 900_000_000);
  const s0 = await usageOf(ctx.servers);
  const e0 = await ctx.engine.call<Usage>('usage');
  const m0 = machineBusyMicros();
  const o0 = process.cpuUsage();
  const measured = await postLoad(port, plan, 910_000_000);
  const o1 = process.cpuUsage(o0);
  const m1 = machineBusyMicros();
  const s1 = await usageOf(ctx.servers);
  const e1 = await ctx.engine.call<Usage>('usage');
  const answered = Math.max(1, measured.requests);
  const serverCpu = serversCpu(s0, s1).total;
  const engineCpu = cpuMicros(e0, e1);
  // The load generators hold no clients yet (the scenarios before this one closed theirs): they count as others.
  const mine = serverCpu + engineCpu + o1.user + o1.system;
  const windowMs = (s1[0] as Usage).at - (s0[0] as Usage).at;
  const alone = {
    ...measured,
    serverCpuUsPerRequest: serverCpu / answered,
    engineCpuUsPerRequest: engineCpu / answered,
    foreignCpuShare: m0 !== null && m1 !== null ? Math.max(0, (m1 - m0 - mine) / (windowMs * 1000)) : Number.NaN,
  };
  log(
    `   [4] POST alone: ${alone.perSecond.toFixed(0)}/s, p50 ${alone.latency.p50.toFixed(1)} ms, p99 ${alone.latency.p99.toFixed(1)} ms, ${alone.errors} errors, ` +
      `CPU ${alone.serverCpuUsPerRequest.toFixed(0)} µs server + ${alone.engineCpuUsPerRequest.toFixed(0)} µs engine per request, other processes ${(alone.foreignCpuShare * 100).toFixed(0)}%`,
  );
  // Clients subscribed to the fan-out's customer only: the POSTed orders do not reach them.
  const probes = Math.min(ctx.options.probes, plan.fanoutClients);
  await connectClients(
    ctx,
    ctx.ports,
    plan.fanoutClients - probes,
    probes,
    '{"type":"subscribe","filter":{"customer":"fanout"}}',
  );
  const writes = Math.round((plan.fanoutWritesPerSecond * (plan.durationMs + 1000)) / 1000);
  const [fan, during] = await Promise.all([
    measureStep(
      ctx,
      plan.fanoutClients,
      plan.fanoutClients * plan.fanoutWritesPerSecond,
      writes,
      plan.fanoutWritesPerSecond,
      'fanout',
      250,
    ),
    sleep(500).then(() => postLoad(port, plan, 920_000_000)),
  ]);
  log(
    `   [4] POST during a ${Math.round(fan.deliveriesPerSecond).toLocaleString('en-US')} deliveries/s fan-out: ${during.perSecond.toFixed(0)}/s, ` +
      `p50 ${during.latency.p50.toFixed(1)} ms, p99 ${during.latency.p99.toFixed(1)} ms (fan-out: ${fan.verdict})`,
  );
  return {
    alone,
    duringFanout: {
      ...during,
      fanoutDeliveriesPerSecond: fan.deliveriesPerSecond,
      fanoutLost: fan.lost,
      fanoutP99Ms: fan.segments.total.p99,
    },
  };
}
