import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { spawnServer, stopServer } from '../../apps/api/test/support/server-process.js';
import { raisePriority } from '../fanout/ipc.js';
import { median, summarize, type Summary } from '../fanout/stats.js';

/*
 * The abuse limits under load, measured against the real server (`apps/api/src/server.ts` in its own process,
 * with the embedded engine in-process, as `npm start` runs it), all on loopback:
 *
 * 1. Subscribe flood: one client sends only `subscribe` frames with an old `since` (replay
 *    amplification), first on one socket, then reconnecting whenever it is closed. Bytes it receives against
 *    bytes it sends, per sliding 10 s window, and /healthz latency from another client meanwhile.
 * 2. Request flood: 5,000 `GET /orders` at 50 concurrent from one client (its own token and loopback address)
 *    while another client (another token and address) reads `GET /orders` in a loop: its p99 during the flood
 *    against its quiet p99, quiet and flood interleaved over several rounds (the ratio's median and range), with
 *    the default rate limits; in the same rounds the floor (a bare Fastify answering the flood 429 in its first
 *    hook, `floor-server.ts`); once without any limit, for comparison.
 *
 * Every client signs its requests with a token of its own, made by the run after signing in as the admin.
 *
 * Bounded: every phase has a request count or a deadline. Writes bench/results/abuse.json and abuse.md.
 * Knobs: ABUSE_BENCH_ROUNDS (request-flood rounds, default 5), ABUSE_BENCH_ONLY (`subscribes` or `requests`),
 * ABUSE_BENCH_CPU_PROF (a directory: the API processes write `node --cpu-prof` profiles there), ABUSE_BENCH_SKIP_OFF=1
 * (no run without limits), BENCH_PRIORITY. The API processes inherit the environment (RATE_LIMIT_* to try others).
 */

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RESULTS = join(REPOSITORY_ROOT, 'bench', 'results');
const SEEDED_ORDERS = 300;
const FLOOD_REQUESTS = 5_000;
const FLOOD_CONCURRENCY = 50;
const WINDOW_MS = 10_000;
const ROUNDS = Number(process.env.ABUSE_BENCH_ROUNDS ?? 5);
const ONLY = process.env.ABUSE_BENCH_ONLY ?? '';
const CPU_PROF_DIR = process.env.ABUSE_BENCH_CPU_PROF ?? '';
/** The bystander's reads per quiet phase (and at most per flood phase). */
const QUIET_READS = 200;

/** Loopback source addresses: the attacker and the bystander are different clients to the rate limiter. */
const BYSTANDER = '127.0.0.1';
const FLOODER = '127.0.0.2';
const SUBSCRIBER = '127.0.0.3';
const SEEDER = '127.0.0.4';

/** The admin password the run's API processes start with (ORDERS_ADMIN_PASSWORD). */
const ADMIN_PASSWORD = 'abuse-bench-admin-password';

/** The `Authorization` header of each client, by its source address (one token each, made per API process). */
const credentials = new Map<string, string>();

/** Signs in as the admin and makes a token for each client: viewers, and an operator for the seed. */
async function issueTokens(port: number): Promise<void> {
  const base = `http://127.0.0.1:${port}`;
  const login = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  if (login.status !== 200) throw new Error(`sign-in failed with ${login.status}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
  credentials.clear();
  for (const [address, name, role] of [
    [BYSTANDER, 'bystander', 'viewer'],
    [FLOODER, 'flooder', 'viewer'],
    [SUBSCRIBER, 'subscriber', 'viewer'],
    [SEEDER, 'seeder', 'operator'],
  ] as const) {
    const created = await fetch(`${base}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: base },
      body: JSON.stringify({ name: `bench-${name}`, role, expires_in_days: 1 }),
    });
    if (created.status !== 201) throw new Error(`token creation failed with ${created.status}`);
    const { token } = (await created.json()) as { token: string };
    credentials.set(address, `Bearer ${token}`);
  }
}

function authorization(address: string): Record<string, string> {
  const header = credentials.get(address);
  return header === undefined ? {} : { authorization: header };
}

interface ApiProcess {
  child: ChildProcess;
  port: number;
  close(): Promise<void>;
}

async function startApi(env: Record<string, string>, script = 'apps/api/src/server.ts'): Promise<ApiProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'orders-bench-abuse-'));
  const nodeArgs = CPU_PROF_DIR === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`];
  const server = await spawnServer(
    {
      ...process.env,
      DATA_DIR: dataDir,
      WEB_DIST_DIR: join(dataDir, 'no-dashboard'),
      ORDERS_ADMIN_PASSWORD: ADMIN_PASSWORD,
      ...env,
    },
    { script, nodeArgs },
  );
  if (server.child.pid !== undefined) raisePriority(server.child.pid);
  return {
    child: server.child,
    port: server.port,
    async close() {
      await stopServer(server);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match?.[1] === undefined ? Number.NaN : Number(match[1]) / 1024;
}

interface HttpResult {
  status: number;
  ms: number;
  body: string;
}

/** One HTTP request from `localAddress`; resolves with status 0 on a network error. */
function http(
  port: number,
  agent: Agent,
  localAddress: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<HttpResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        localAddress,
        headers: {
          ...authorization(localAddress),
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - started,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started, body: '' }));
    req.end(payload);
  });
}

/**
 * The bystander starts a read at most this often (50/s): a busy client that stays inside its own budget
 * (RATE_LIMIT_MAX per principal), so what it measures is the flooder's effect, not its own limit.
 */
const BYSTANDER_PACE_MS = 20;

/** Repeats `call` until `stop()` (or `limit` calls), one per `paceMs` at most, collecting each 200's duration. */
async function loop(
  call: () => Promise<HttpResult>,
  stop: () => boolean,
  limit: number,
  paceMs = 0,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < limit && !stop(); i++) {
    const result = await call();
    if (result.status === 200) times.push(result.ms);
    if (paceMs > result.ms) await sleep(paceMs - result.ms);
  }
  return times;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- 1. subscribe flood ---------------------------------------------------------------------------------------

interface SubscribeFloodResult {
  mode: string;
  durationMs: number;
  framesSent: number;
  bytesSent: number;
  bytesReceived: number;
  connections: number;
  closes: Record<string, number>;
  /** Largest bytes received ÷ bytes sent over any 10 s window (1 s steps). */
  worstWindowRatio: number;
  healthz: Summary;
}

/** A client frame's size on the wire: header (2, 4 or 10 bytes) + mask (4) + payload. */
function clientFrameBytes(payload: number): number {
  return payload + 4 + (payload < 126 ? 2 : payload < 65_536 ? 4 : 10);
}
function serverFrameBytes(payload: number): number {
  return payload + (payload < 126 ? 2 : payload < 65_536 ? 4 : 10);
}

async function subscribeFlood(port: number, since: string, mode: string): Promise<SubscribeFloodResult> {
  const frame = JSON.stringify({ type: 'subscribe', since });
  const oneSocket = mode.startsWith('one socket');
  const durationMs = oneSocket ? 5_000 : 20_000;
  const started = performance.now();
  const sentAt: number[] = [];
  const received: { at: number; bytes: number }[] = [];
  const closes: Record<string, number> = {};
  let connections = 0;
  let done = false;

  const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const probe = loop(
    async () => {
      const result = await http(port, probeAgent, BYSTANDER, 'GET', '/healthz');
      await sleep(20);
      return result;
    },
    () => done,
    100_000,
  );

  const connect = (): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      connections += 1;
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
        localAddress: SUBSCRIBER,
        headers: authorization(SUBSCRIBER),
      });
      socket.on('message', (data: Buffer) =>
        received.push({ at: performance.now() - started, bytes: serverFrameBytes(data.length) }),
      );
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
      socket.once('close', (code) => {
        closes[String(code)] = (closes[String(code)] ?? 0) + 1;
      });
    });

  const send = (socket: WebSocket): boolean => {
    if (socket.readyState !== WebSocket.OPEN) return false;
    socket.send(frame);
    sentAt.push(performance.now() - started);
    return true;
  };

  if (oneSocket) {
    const socket = await connect();
    for (let i = 0; i < 200; i++) if (!send(socket)) break;
    while (performance.now() - started < durationMs) await sleep(100);
    socket.terminate();
  } else {
    let socket: WebSocket | null = null;
    while (performance.now() - started < durationMs) {
      if (socket === null || socket.readyState === WebSocket.CLOSED) {
        socket = await connect().catch(() => null);
        if (socket === null) {
          await sleep(50);
          continue;
        }
      }
      send(socket);
      await sleep(50);
    }
    socket?.terminate();
  }
  done = true;
  const healthTimes = await probe;
  probeAgent.destroy();

  const bytesSent = sentAt.length * clientFrameBytes(Buffer.byteLength(frame));
  const bytesReceived = received.reduce((sum, r) => sum + r.bytes, 0);
  let worstWindowRatio = 0;
  for (let from = 0; from < Math.max(1, durationMs - WINDOW_MS + 1); from += 1_000) {
    const to = from + WINDOW_MS;
    const sent = sentAt.filter((t) => t >= from && t < to).length * clientFrameBytes(Buffer.byteLength(frame));
    const got = received.filter((r) => r.at >= from && r.at < to).reduce((sum, r) => sum + r.bytes, 0);
    if (sent > 0) worstWindowRatio = Math.max(worstWindowRatio, got / sent);
  }
  return {
    mode,
    durationMs,
    framesSent: sentAt.length,
    bytesSent,
    bytesReceived,
    connections,
    closes,
    worstWindowRatio,
    healthz: summarize(healthTimes),
  };
}

// ---- 2. request flood -----------------------------------------------------------------------------------------

/** One round: the bystander's quiet reads, then its reads during one flood. */
interface FloodRound {
  quiet: Summary;
  duringFlood: Summary;
  p99Ratio: number;
  floodStatuses: Record<string, number>;
  floodSeconds: number;
  rssBeforeMb: number;
  rssAfterMb: number;
}

interface RequestFloodResult {
  server: string;
  rounds: FloodRound[];
  /** Median, lowest and highest of the rounds' p99 ratios. */
  medianRatio: number;
  minRatio: number;
  maxRatio: number;
}

async function floodRound(api: ApiProcess, warmUp: boolean): Promise<FloodRound> {
  const bystander = new Agent({ keepAlive: true, maxSockets: 1 });
  const flooder = new Agent({ keepAlive: true, maxSockets: FLOOD_CONCURRENCY });
  const read = () => http(api.port, bystander, BYSTANDER, 'GET', '/orders?limit=20');
  if (warmUp) await loop(read, () => false, 100, BYSTANDER_PACE_MS);
  const quiet = await loop(read, () => false, QUIET_READS, BYSTANDER_PACE_MS);
  const rssBeforeMb = rssMb(api.child.pid);

  let remaining = FLOOD_REQUESTS;
  const statuses: Record<string, number> = {};
  const floodStarted = performance.now();
  const worker = async (): Promise<void> => {
    while (remaining > 0) {
      remaining -= 1;
      const result = await http(api.port, flooder, FLOODER, 'GET', '/orders');
      statuses[String(result.status)] = (statuses[String(result.status)] ?? 0) + 1;
    }
  };
  let flooding = true;
  const workers = Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, worker)).then(() => {
    flooding = false;
  });
  const during = await loop(read, () => !flooding, 100_000, BYSTANDER_PACE_MS);
  await workers;
  const floodSeconds = (performance.now() - floodStarted) / 1000;
  const rssAfterMb = rssMb(api.child.pid);
  bystander.destroy();
  flooder.destroy();
  const quietSummary = summarize(quiet);
  const duringSummary = summarize(during);
  return {
    quiet: quietSummary,
    duringFlood: duringSummary,
    p99Ratio: duringSummary.p99 / quietSummary.p99,
    floodStatuses: statuses,
    floodSeconds,
    rssBeforeMb,
    rssAfterMb,
  };
}

function floodResult(server: string, rounds: FloodRound[]): RequestFloodResult {
  const ratios = rounds.map((round) => round.p99Ratio);
  return {
    server,
    rounds,
    medianRatio: median(ratios),
    minRatio: Math.min(...ratios),
    maxRatio: Math.max(...ratios),
  };
}

/** Starts the floor server, answering the bystander with the body the API gave it. */
async function startFloor(api: ApiProcess): Promise<ApiProcess> {
  const agent = new Agent({ keepAlive: false });
  const { body } = await http(api.port, agent, BYSTANDER, 'GET', '/orders?limit=20');
  agent.destroy();
  return startApi({ FLOOR_FLOODER: FLOODER, FLOOR_BODY: body }, 'bench/abuse/floor-server.ts');
}

// ---- run ------------------------------------------------------------------------------------------------------

/** The position from before the seed, and the one after the first REPLAY_FITS_AFTER orders. */
interface Seeded {
  before: string;
  later: string;
}

/** A `since` this many orders into the seed leaves a replay (the rest) that fits the default replay budget. */
const REPLAY_FITS_AFTER = 200;

async function seed(port: number): Promise<Seeded> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const before = JSON.parse((await http(port, agent, SEEDER, 'GET', '/orders?limit=1')).body) as {
    position: string | null;
  };
  let later: string | null = null;
  for (let id = 1; id <= SEEDED_ORDERS; id++) {
    const result = await http(port, agent, SEEDER, 'POST', '/orders', {
      id,
      customer_name: `Customer ${id} with a longer name`,
      product_name: `Product ${id % 17}`,
      status: 'pending',
    });
    if (result.status !== 201) throw new Error(`seeding order ${id}: ${result.status} ${result.body}`);
    if (id === REPLAY_FITS_AFTER) {
      const page = JSON.parse((await http(port, agent, SEEDER, 'GET', '/orders?limit=1')).body) as {
        position: string | null;
      };
      later = page.position;
    }
  }
  agent.destroy();
  if (before.position === null || later === null) throw new Error('GET /orders returned no position');
  return { before: before.position, later };
}

function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : 'n/a';
}

async function main(): Promise<void> {
  raisePriority(process.pid);
  const startedAt = new Date().toISOString();
  const subscribeFloods: SubscribeFloodResult[] = [];
  const requestFloods: RequestFloodResult[] = [];

  const api = await startApi({});
  try {
    await issueTokens(api.port);
    const seeded = await seed(api.port);
    if (ONLY !== 'requests') {
      subscribeFloods.push(await subscribeFlood(api.port, seeded.before, 'one socket, 200 frames'));
      await sleep(WINDOW_MS + 500); // a fresh rate-limit window (and replay budget) for the next client
      subscribeFloods.push(await subscribeFlood(api.port, seeded.before, 'reconnecting, 20 frames/s'));
      await sleep(WINDOW_MS + 500);
      subscribeFloods.push(
        await subscribeFlood(
          api.port,
          seeded.later,
          `reconnecting, 20 frames/s, since ${SEEDED_ORDERS - REPLAY_FITS_AFTER} events back (a replay within the budget)`,
        ),
      );
    }
    if (ONLY !== 'subscribes') {
      const floor = await startFloor(api);
      const limited: FloodRound[] = [];
      const bare: FloodRound[] = [];
      try {
        // Interleaved, so both see the same neighbours on this shared machine.
        for (let round = 0; round < ROUNDS; round++) {
          limited.push(await floodRound(api, round === 0));
          bare.push(await floodRound(floor, round === 0));
        }
      } finally {
        await floor.close();
      }
      requestFloods.push(floodResult('API, default limits', limited));
      requestFloods.push(floodResult('floor: bare Fastify, the flood answered 429 in its first hook', bare));
    }
  } finally {
    await api.close();
  }
  if (ONLY !== 'subscribes' && process.env.ABUSE_BENCH_SKIP_OFF !== '1') {
    const unlimited = await startApi({ RATE_LIMIT_MAX: '0', RATE_LIMIT_ADDRESS_MAX: '0', RATE_LIMIT_IN_FLIGHT: '0' });
    try {
      await issueTokens(unlimited.port);
      await seed(unlimited.port);
      requestFloods.push(
        floodResult('API, every request limit off (one round, for comparison)', [await floodRound(unlimited, true)]),
      );
    } finally {
      await unlimited.close();
    }
  }

  const results = { startedAt, seededOrders: SEEDED_ORDERS, rounds: ROUNDS, subscribeFloods, requestFloods };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'abuse.json'), `${JSON.stringify(results, null, 2)}\n`);

  const priority = process.env.BENCH_PRIORITY ? `nice ${process.env.BENCH_PRIORITY} (BENCH_PRIORITY)` : 'default';
  const lines = [
    '# Abuse limits under load',
    '',
    `Run ${startedAt}. One API process (\`server.ts\`, embedded engine in-process, default limits) on 127.0.0.1; ` +
      `${SEEDED_ORDERS} orders seeded. Process priority: ${priority}. The machine is shared with other jobs: ` +
      'latencies include their noise.',
    '',
    '## Subscribe flood (only `subscribe` frames, with the position from before the seed unless stated)',
    '',
    '| mode | frames sent | bytes sent | bytes received | worst 10 s received÷sent | connections | closes | /healthz p50 / p99 / max (ms) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...subscribeFloods.map(
      (r) =>
        `| ${r.mode} | ${r.framesSent} | ${r.bytesSent} | ${r.bytesReceived} | ${r.worstWindowRatio.toFixed(1)}× | ` +
        `${r.connections} | ${JSON.stringify(r.closes)} | ${ms(r.healthz.p50)} / ${ms(r.healthz.p99)} / ${ms(r.healthz.max)} |`,
    ),
    '',
    `## Request flood (5,000 \`GET /orders\` at 50 concurrent from ${FLOODER} with its own token; the bystander reads from ${BYSTANDER} with another)`,
    '',
    `Quiet (${QUIET_READS} reads) and flood interleaved, ${ROUNDS} rounds against the API and the floor in turn.`,
    '',
    '| server | p99 ratio, median (range) | per round: quiet p99 → flood p99 (ms) | flood answers (all rounds) | flood time per round (s) | RSS first → last (MB) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...requestFloods.map((r) => {
      const statuses: Record<string, number> = {};
      for (const round of r.rounds) {
        for (const [status, count] of Object.entries(round.floodStatuses)) {
          statuses[status] = (statuses[status] ?? 0) + count;
        }
      }
      const first = r.rounds[0];
      const last = r.rounds[r.rounds.length - 1];
      return (
        `| ${r.server} | ${r.medianRatio.toFixed(2)}× (${r.minRatio.toFixed(2)}–${r.maxRatio.toFixed(2)}) | ` +
        `${r.rounds.map((round) => `${ms(round.quiet.p99)} → ${ms(round.duringFlood.p99)}`).join('; ')} | ` +
        `${JSON.stringify(statuses)} | ${r.rounds.map((round) => round.floodSeconds.toFixed(1)).join(', ')} | ` +
        `${first?.rssBeforeMb.toFixed(0) ?? 'n/a'} → ${last?.rssAfterMb.toFixed(0) ?? 'n/a'} |`
      );
    }),
    '',
  ];
  writeFileSync(join(RESULTS, 'abuse.md'), lines.join('\n'));
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
