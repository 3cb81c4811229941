import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Collection } from 'mongodb';
import { ChaosClient, type ClientStats, type Endpoint } from './client.js';
import { authHeaders, CHAOS_ADMIN_PASSWORD, signIn } from './auth.js';
import { startApi, startEngine, type ApiProcess, type EngineProcess, type LogCounts } from './processes.js';
import { Random, sleep } from './random.js';
import {
  currentPosition,
  readHistory,
  verifyClient,
  verifyHistory,
  type ClientVerdict,
  type HistoryRow,
  type HistoryVerdict,
} from './verify.js';
import { Writer, type StoredOrder, type WriterStats } from './writer.js';

/*
 * The fault run: the engine in its own process on a data directory, several API
 * processes on it (no broker), WebSocket clients that keep their own view, a writer mixing HTTP and driver writes,
 * and a fault loop: client drops and moves, SIGTERM and kill -9 of API processes (restarted), engine fail points,
 * and one engine stop/start on the same port and data directory. After a quiet period every client's view and
 * every client's received positions are compared with the database's documents and change history.
 */

export interface ChaosOptions {
  seed: number;
  durationMs: number;
  apis: number;
  clients: number;
  /** How long the engine stays stopped (0: never stopped). */
  engineDownMs: number;
  writerLanes: number;
  writerPauseMs: number;
  /** Mean pause between two faults. */
  faultIntervalMs: number;
  /** Bound on waiting for every client to catch up at the end. */
  quiesceTimeoutMs: number;
  log: (line: string) => void;
}

export const DEFAULT_OPTIONS: Omit<ChaosOptions, 'seed' | 'log'> = {
  durationMs: 120_000,
  apis: 3,
  clients: 8,
  engineDownMs: 5_000,
  writerLanes: 3,
  writerPauseMs: 40,
  faultIntervalMs: 1_500,
  quiesceTimeoutMs: 45_000,
};

const FAULT_WEIGHTS = {
  client_drop: 30,
  client_move: 25,
  api_sigterm: 8,
  api_kill9: 8,
  fp_getmore_close_connection: 8,
  fp_getmore_resumable_error: 8,
  fp_getmore_error: 5,
  fp_write_error: 8,
} as const;
type FaultKind = keyof typeof FAULT_WEIGHTS | 'engine_stop';

export interface EngineOutageReport {
  downMs: number;
  /** /readyz answers seen while the engine was down, by status. */
  readyzWhileDown: Record<string, number>;
  /** POST /orders answers while the engine was down, by status, and the slowest of them. */
  writesWhileDown: Record<string, number>;
  slowestWriteWhileDownMs: number;
  /** From the engine's restart until every API's /readyz answered 200. */
  recoveredAfterMs: number | null;
}

export interface ChaosReport {
  seed: number;
  durationMs: number;
  apis: number;
  clients: number;
  eventsWritten: { total: number; byOperation: Record<string, number> };
  writes: WriterStats;
  restarts: { api_sigterm: number; api_kill9: number; engine: number };
  faults: Partial<Record<FaultKind, number>>;
  failPointsRefused: number;
  engineOutage: EngineOutageReport | null;
  /** The clients' own counts, summed. */
  clientTotals: Pick<
    ClientStats,
    'connects' | 'reconnects' | 'drops' | 'moves' | 'snapshots' | 'idempotentReplays' | 'resyncs' | 'closeCodes'
  > & { eventsReceived: number };
  apiLogs: Record<string, number>;
  caughtUp: boolean;
  /** The order history against the database's change history (every API process records every change it reads). */
  orderHistory: HistoryVerdict;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  divergent: number;
  protocolErrors: number;
  verdicts: ClientVerdict[];
  protocolErrorExamples: string[];
  ok: boolean;
}

interface ApiSlot {
  index: number;
  generation: number;
  process: ApiProcess | null;
}

/** Runs the whole fault run and returns its figures; every child process is stopped before it returns. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { log } = options;
  const random = new Random(options.seed);
  const dataDir = await mkdtemp(join(tmpdir(), 'orders-chaos-'));
  const dbName = 'chaos';
  const logCounts: LogCounts = new Map();
  const faults: Partial<Record<FaultKind, number>> = {};
  const restarts = { api_sigterm: 0, api_kill9: 0, engine: 0 };
  let failPointsRefused = 0;
  let engineOutage: EngineOutageReport | null = null;

  let engine: EngineProcess | null = null;
  const slots: ApiSlot[] = [];
  const clients: ChaosClient[] = [];
  let control: MongoClient | null = null;
  let writer: Writer | null = null;

  const endpoints = (): Endpoint[] =>
    slots.flatMap((slot) => (slot.process && slot.process.child.isRunning() ? [toEndpoint(slot.process)] : []));

  const startSlot = async (slot: ApiSlot): Promise<void> => {
    if (!engine) throw new Error('engine not started');
    slot.generation += 1;
    slot.process = await startApi(
      `api-${slot.index}.${slot.generation}`,
      {
        MONGODB_URI: engine.uri,
        MONGODB_DB: dbName,
        DATA_DIR: dataDir,
        WEB_DIST_DIR: join(dataDir, 'no-dashboard'),
        ORDERS_ADMIN_PASSWORD: CHAOS_ADMIN_PASSWORD,
      },
      logCounts,
    );
  };

  try {
    engine = await startEngine(join(dataDir, 'db'), 0);
    log(`engine ${engine.uri} (data ${dataDir})`);
    for (let index = 1; index <= options.apis; index++) slots.push({ index, generation: 0, process: null });
    await Promise.all(slots.map(startSlot));
    const [firstEndpoint] = endpoints();
    if (firstEndpoint === undefined) throw new Error('no API process started');
    await signIn(firstEndpoint.baseUrl);
    log(
      `API processes: ${endpoints()
        .map((e) => `${e.name} ${e.baseUrl}`)
        .join(', ')}`,
    );

    // The writer's and the verifier's own connection (not the API's appName, so fail points spare it).
    control = new MongoClient(engine.uri, { appName: 'chaos-control', serverSelectionTimeoutMS: 2_000 });
    await control.connect();
    const orders: Collection<StoredOrder> = control.db(dbName).collection<StoredOrder>('orders');
    const start = await currentPosition(orders);

    for (let i = 0; i < options.clients; i++) {
      const client = new ChaosClient(`client-${i + 1}`, endpoints, new Random(options.seed * 1000 + i + 1));
      clients.push(client);
      client.start();
    }
    await waitUntil(() => clients.every((c) => c.live), 30_000);

    writer = new Writer({
      lanes: options.writerLanes,
      pauseMs: options.writerPauseMs,
      endpoints,
      orders,
      random: new Random(options.seed * 7919),
    });
    writer.start();

    const admin = control.db('admin');
    const setFailPoint = async (kind: FaultKind, data: Record<string, unknown>, times: number): Promise<void> => {
      try {
        await admin.command({
          configureFailPoint: 'failCommand',
          mode: { times },
          data: { appName: 'orders-api', ...data },
        });
        faults[kind] = (faults[kind] ?? 0) + 1;
      } catch {
        failPointsRefused += 1;
      }
    };

    const restarting = new Set<ApiSlot>();
    const stopApi = async (kind: 'api_sigterm' | 'api_kill9'): Promise<void> => {
      const running = slots.filter((slot) => !restarting.has(slot) && slot.process?.child.isRunning());
      // Keep one process serving: clients and writes always have somewhere to go.
      if (running.length < 2) return;
      const slot = random.pick(running);
      const victim = slot.process;
      if (!victim) return;
      restarting.add(slot);
      faults[kind] = (faults[kind] ?? 0) + 1;
      const exit = await victim.child.stop(kind === 'api_sigterm' ? 'SIGTERM' : 'SIGKILL');
      if (kind === 'api_sigterm' && exit.code !== 0)
        log(`${victim.name} exited with ${exit.code ?? exit.signal} after SIGTERM`);
      restarts[kind] += 1;
      await sleep(random.int(200, 1500));
      try {
        // An API cannot boot while the engine is down (it exits 1): try again, a bounded number of times.
        for (let attempt = 1; ; attempt++) {
          try {
            await startSlot(slot);
            break;
          } catch (err) {
            if (attempt >= 30) throw err;
            await sleep(1_000);
          }
        }
      } finally {
        restarting.delete(slot);
      }
    };
    // Restarts and the outage run beside the fault loop, so faults keep coming while a process boots.
    const background = new Set<Promise<void>>();
    const inBackground = (task: Promise<void>): void => {
      const tracked = task
        .catch((err: unknown) => log(`fault task failed: ${(err as Error).message}`))
        .finally(() => background.delete(tracked));
      background.add(tracked);
    };
    let engineDown = false;

    const stopEngine = async (): Promise<void> => {
      if (!engine) return;
      faults.engine_stop = (faults.engine_stop ?? 0) + 1;
      const port = engine.port;
      const outage: EngineOutageReport = {
        downMs: options.engineDownMs,
        readyzWhileDown: {},
        writesWhileDown: {},
        slowestWriteWhileDownMs: 0,
        recoveredAfterMs: null,
      };
      engineOutage = outage;
      log(`engine: stopping for ${options.engineDownMs} ms`);
      await engine.child.stop('SIGTERM');
      const until = Date.now() + options.engineDownMs;
      let probe = 0;
      while (Date.now() < until) {
        await Promise.all(
          endpoints().map(async (endpoint) => {
            const ready = await status(`${endpoint.baseUrl}/readyz`);
            outage.readyzWhileDown[ready] = (outage.readyzWhileDown[ready] ?? 0) + 1;
            probe += 1;
            const began = Date.now();
            const write = await status(`${endpoint.baseUrl}/orders`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ id: 900_000_000 + probe, customer_name: 'Probe', product_name: 'Outage' }),
            });
            outage.slowestWriteWhileDownMs = Math.max(outage.slowestWriteWhileDownMs, Date.now() - began);
            outage.writesWhileDown[write] = (outage.writesWhileDown[write] ?? 0) + 1;
          }),
        );
        await sleep(Math.min(500, Math.max(0, until - Date.now())));
      }
      engine = await startEngine(join(dataDir, 'db'), port);
      restarts.engine += 1;
      const restartedAt = Date.now();
      const recovered = await waitUntilAsync(async () => {
        const answers = await Promise.all(endpoints().map((e) => status(`${e.baseUrl}/readyz`)));
        return answers.length > 0 && answers.every((a) => a === '200');
      }, 60_000);
      outage.recoveredAfterMs = recovered ? Date.now() - restartedAt : null;
      log(`engine: back on port ${port}; APIs ready after ${outage.recoveredAfterMs ?? 'never'} ms`);
    };

    const deadline = Date.now() + options.durationMs;
    const engineStopAt =
      options.engineDownMs > 0 ? Date.now() + (options.durationMs * random.int(30, 60)) / 100 : Infinity;
    let engineStopped = false;
    let lastReport = Date.now();
    for (let step = 0; step < 100_000 && Date.now() < deadline; step++) {
      await sleep(options.faultIntervalMs / 2 + random.next() * options.faultIntervalMs);
      if (!engineStopped && Date.now() >= engineStopAt) {
        engineStopped = true;
        engineDown = true;
        inBackground(stopEngine().finally(() => (engineDown = false)));
        continue;
      }
      const kind = random.weighted(FAULT_WEIGHTS);
      // Fail points live in the engine's memory: none while it is stopped or restarting.
      if (engineDown && kind.startsWith('fp_')) continue;
      switch (kind) {
        case 'client_drop':
        case 'client_move': {
          const client = random.pick(clients);
          if (!client.live) break;
          faults[kind] = (faults[kind] ?? 0) + 1;
          if (kind === 'client_drop') client.drop();
          else client.move();
          break;
        }
        case 'api_sigterm':
        case 'api_kill9':
          inBackground(stopApi(kind));
          break;
        case 'fp_getmore_close_connection':
          await setFailPoint(kind, { failCommands: ['getMore'], closeConnection: true }, random.int(1, 3));
          break;
        case 'fp_getmore_resumable_error':
          await setFailPoint(
            kind,
            { failCommands: ['getMore'], errorCode: 6, errorLabels: ['ResumableChangeStreamError'] },
            random.int(1, 3),
          );
          break;
        case 'fp_getmore_error':
          await setFailPoint(kind, { failCommands: ['getMore'], errorCode: 2 }, random.int(1, 2));
          break;
        case 'fp_write_error':
          await setFailPoint(
            kind,
            { failCommands: ['insert', 'update', 'delete', 'findAndModify'], errorCode: random.pick([2, 11600]) },
            random.int(1, 4),
          );
          break;
      }
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        const events = clients.reduce((sum, c) => sum + c.stats.events, 0);
        log(
          `… ${Math.round((deadline - Date.now()) / 1000)} s left; faults ${JSON.stringify(faults)}; events received ${events}`,
        );
      }
    }

    // Quiet period: no more faults, every process up, writes stopped; then every client must catch up.
    log('quiescing: stopping the writer, clearing fail points, restarting missing API processes');
    for (let i = 0; i < 10 && background.size > 0; i++) await Promise.all([...background]);
    await writer.stop();
    await admin.command({ configureFailPoint: 'failCommand', mode: 'off' }).catch(() => undefined);
    for (const slot of slots) if (!slot.process?.child.isRunning()) await startSlot(slot);
    const history = await readHistory(orders, start);
    const lastPosition = history.at(-1)?.position ?? start;
    const caughtUp = await waitUntil(
      () => clients.every((c) => c.live && c.position !== null && c.position >= lastPosition),
      options.quiesceTimeoutMs,
    );
    // Anything still in flight after catching up would be a duplicate or an extra: give it a moment to show.
    await sleep(1_000);
    for (const client of clients) await client.stop();
    const documents = await orders.find({}).toArray();
    const recorded = control.db(dbName).collection<HistoryRow>('order_history');
    const readRecorded = () =>
      recorded
        .find({ _id: { $gt: start } }, { projection: { _id: 1, order_id: 1 } })
        .sort({ _id: 1 })
        .toArray();
    // The history writers store a change just after fanning it out: give the last ones time to land.
    const expectedCount = verifyHistory(history, []).expected;
    await waitUntilAsync(async () => (await readRecorded()).length >= expectedCount, options.quiesceTimeoutMs);
    const orderHistory = verifyHistory(history, await readRecorded());
    const verdicts = clients.map((client) => verifyClient(client, history, documents));

    const byOperation: Record<string, number> = {};
    for (const event of history) byOperation[event.operation] = (byOperation[event.operation] ?? 0) + 1;
    const sum = (pick: (c: ChaosClient) => number): number => clients.reduce((total, c) => total + pick(c), 0);
    const merge = (pick: (c: ChaosClient) => Record<string, number>): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const client of clients) for (const [k, v] of Object.entries(pick(client))) out[k] = (out[k] ?? 0) + v;
      return out;
    };
    const lost = verdicts.reduce((total, v) => total + v.lost, 0);
    const divergent = verdicts.reduce((total, v) => total + v.divergent, 0);
    const duplicates = sum((c) => c.stats.duplicates);
    const outOfOrder = sum((c) => c.stats.outOfOrder);
    const protocolErrorExamples = clients.flatMap((c) => c.stats.protocolErrors.map((e) => `${c.name}: ${e}`));
    return {
      seed: options.seed,
      durationMs: options.durationMs,
      apis: options.apis,
      clients: options.clients,
      eventsWritten: { total: history.length, byOperation },
      writes: writer.stats,
      restarts,
      faults,
      failPointsRefused,
      engineOutage,
      clientTotals: {
        connects: sum((c) => c.stats.connects),
        reconnects: sum((c) => c.stats.reconnects),
        drops: sum((c) => c.stats.drops),
        moves: sum((c) => c.stats.moves),
        snapshots: sum((c) => c.stats.snapshots),
        eventsReceived: sum((c) => c.stats.events),
        idempotentReplays: sum((c) => c.stats.idempotentReplays),
        resyncs: merge((c) => c.stats.resyncs),
        closeCodes: merge((c) => c.stats.closeCodes),
      },
      apiLogs: Object.fromEntries([...logCounts].sort((a, b) => b[1] - a[1])),
      caughtUp,
      orderHistory,
      lost,
      duplicates,
      outOfOrder,
      divergent,
      protocolErrors: protocolErrorExamples.length,
      verdicts,
      protocolErrorExamples,
      ok:
        caughtUp &&
        orderHistory.missing === 0 &&
        orderHistory.extra === 0 &&
        lost === 0 &&
        duplicates === 0 &&
        outOfOrder === 0 &&
        divergent === 0 &&
        protocolErrorExamples.length === 0,
    };
  } finally {
    await writer?.stop().catch(() => undefined);
    await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
    await control?.close().catch(() => undefined);
    await Promise.all(slots.flatMap((slot) => (slot.process ? [slot.process.child.stop('SIGTERM', 5_000)] : [])));
    await engine?.child.stop('SIGTERM', 5_000);
    await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function toEndpoint(api: ApiProcess): Endpoint {
  return { name: api.name, baseUrl: api.baseUrl, wsUrl: api.wsUrl };
}

/** The status of one request as a string ("network" when it failed before an answer). */
async function status(url: string, init: RequestInit = {}): Promise<string> {
  try {
    const headers = { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) };
    const response = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
    return String(response.status);
  } catch {
    return 'network';
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  return waitUntilAsync(() => Promise.resolve(condition()), timeoutMs);
}

async function waitUntilAsync(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000; i++) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return false;
}

/** Renders the report as the lines `npm run chaos` prints. */
export function formatReport(report: ChaosReport): string {
  const lines = [
    `seed ${report.seed}, ${report.durationMs / 1000} s, ${report.apis} API processes, ${report.clients} clients`,
    `events written:      ${report.eventsWritten.total} ${JSON.stringify(report.eventsWritten.byOperation)}`,
    `writes over HTTP:    ${JSON.stringify(report.writes.http)}; direct: ${JSON.stringify(report.writes.driver)}`,
    `HTTP answers:        ${JSON.stringify(report.writes.statuses)}; retries ${report.writes.retries}, idempotent replays ${report.writes.idempotentReplays}, abandoned ${report.writes.abandoned}`,
    `restarts:            ${JSON.stringify(report.restarts)}`,
    `faults injected:     ${JSON.stringify(report.faults)}${report.failPointsRefused ? ` (${report.failPointsRefused} fail points refused)` : ''}`,
  ];
  if (report.engineOutage) {
    const o = report.engineOutage;
    lines.push(
      `engine outage:       ${o.downMs} ms; /readyz meanwhile ${JSON.stringify(o.readyzWhileDown)}; POST meanwhile ${JSON.stringify(o.writesWhileDown)} (slowest ${o.slowestWriteWhileDownMs} ms); all ready ${o.recoveredAfterMs ?? 'never'} ms after restart`,
    );
  }
  const c = report.clientTotals;
  lines.push(
    `clients:             connects ${c.connects}, reconnects ${c.reconnects}, drops ${c.drops}, moves ${c.moves}, snapshots ${c.snapshots}, close codes ${JSON.stringify(c.closeCodes)}`,
    `resyncs:             ${JSON.stringify(c.resyncs)}`,
    `events received:     ${c.eventsReceived} (idempotent replays ${c.idempotentReplays})`,
    `API warn/error logs: ${JSON.stringify(report.apiLogs)}`,
    `caught up:           ${report.caughtUp}`,
    `order history:       ${report.orderHistory.recorded} entries for ${report.orderHistory.expected} changes; missing ${report.orderHistory.missing}, extra or twice ${report.orderHistory.extra}`,
    ...report.orderHistory.examples.map((example) => `  ${example}`),
    `events lost:         ${report.lost}`,
    `duplicated:          ${report.duplicates} (out of order: ${report.outOfOrder})`,
    `views ≠ database:    ${report.divergent}`,
    `protocol errors:     ${report.protocolErrors}`,
  );
  for (const v of report.verdicts) {
    if (v.lost > 0 || v.divergent > 0) {
      lines.push(
        `  ${v.name}: lost ${v.lost} ${JSON.stringify(v.lostExamples)}; divergent ${v.divergent} ${JSON.stringify(v.divergentExamples)}`,
      );
    }
  }
  for (const e of report.protocolErrorExamples.slice(0, 10)) lines.push(`  ${e}`);
  lines.push(report.ok ? 'RESULT: OK' : 'RESULT: FAILED');
  return lines.join('\n');
}
