import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { spawnServer, stopServer } from '../../apps/api/test/support/server-process.js';
import { summarize, type Summary } from '../fanout/stats.js';

/*
 * The abuse limits under load, measured against the real server (`apps/api/src/server.ts` in its own process,
 * with the embedded engine in-process, as `npm start` runs it), all on loopback:
 *
 * 1. Subscribe flood: one client sends only `subscribe` frames with an old `since` (replay
 *    amplification), first on one socket, then reconnecting whenever it is closed. Bytes it receives against
 *    bytes it sends, per sliding 10 s window, and /healthz latency from another client meanwhile.
 * 2. Request flood: 5,000 `GET /orders` at 50 concurrent from one client (its own token and loopback address)
 *    while another client (another token and address) reads `GET /orders` in a loop: its p99 during the flood
 *    against its quiet p99. Run with the default rate limits and, for comparison, without any.
 *
 * Every client signs its requests with a token of its own, made by the run after signing in as the admin.
 *
 * Bounded: every phase has a request count or a deadline. Writes bench/results/abuse.json and abuse.md.
 */

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RESULTS = join(REPOSITORY_ROOT, 'bench', 'results');
const SEEDED_ORDERS = 300;
const FLOOD_REQUESTS = 5_000;
const FLOOD_CONCURRENCY = 50;
const WINDOW_MS = 10_000;

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

async function startApi(env: Record<string, string>): Promise<ApiProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'orders-bench-abuse-'));
  const server = await spawnServer({
    ...process.env,
    DATA_DIR: dataDir,
    WEB_DIST_DIR: join(dataDir, 'no-dashboard'),
    ORDERS_ADMIN_PASSWORD: ADMIN_PASSWORD,
    ...env,
  });
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

async function subscribeFlood(
  port: number,
  since: string,
  mode: 'one socket, 200 frames' | 'reconnecting, 20 frames/s',
): Promise<SubscribeFloodResult> {
  const frame = JSON.stringify({ type: 'subscribe', since });
  const durationMs = mode === 'one socket, 200 frames' ? 5_000 : 20_000;
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

  if (mode === 'one socket, 200 frames') {
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

interface RequestFloodResult {
  rateLimit: string;
  quiet: Summary;
  duringFlood: Summary;
  p99Ratio: number;
  floodStatuses: Record<string, number>;
  floodSeconds: number;
  rssBeforeMb: number;
  rssAfterMb: number;
}

async function requestFlood(api: ApiProcess, rateLimit: string): Promise<RequestFloodResult> {
  const bystander = new Agent({ keepAlive: true, maxSockets: 1 });
  const flooder = new Agent({ keepAlive: true, maxSockets: FLOOD_CONCURRENCY });
  const read = () => http(api.port, bystander, BYSTANDER, 'GET', '/orders?limit=20');
  // Warm-up, then the bystander's quiet latency: 300 requests one after another.
  await loop(read, () => false, 100, BYSTANDER_PACE_MS);
  const quiet = await loop(read, () => false, 300, BYSTANDER_PACE_MS);
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
    rateLimit,
    quiet: quietSummary,
    duringFlood: duringSummary,
    p99Ratio: duringSummary.p99 / quietSummary.p99,
    floodStatuses: statuses,
    floodSeconds,
    rssBeforeMb,
    rssAfterMb,
  };
}

// ---- run ------------------------------------------------------------------------------------------------------

async function seed(port: number): Promise<string> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const before = JSON.parse((await http(port, agent, SEEDER, 'GET', '/orders?limit=1')).body) as {
    position: string | null;
  };
  for (let id = 1; id <= SEEDED_ORDERS; id++) {
    const result = await http(port, agent, SEEDER, 'POST', '/orders', {
      id,
      customer_name: `Customer ${id} with a longer name`,
      product_name: `Product ${id % 17}`,
      status: 'pending',
    });
    if (result.status !== 201) throw new Error(`seeding order ${id}: ${result.status} ${result.body}`);
  }
  agent.destroy();
  if (before.position === null) throw new Error('GET /orders returned no position before seeding');
  return before.position;
}

function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : 'n/a';
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const subscribeFloods: SubscribeFloodResult[] = [];
  const requestFloods: RequestFloodResult[] = [];

  const api = await startApi({});
  try {
    await issueTokens(api.port);
    const since = await seed(api.port);
    subscribeFloods.push(await subscribeFlood(api.port, since, 'one socket, 200 frames'));
    await sleep(WINDOW_MS + 500); // a fresh rate-limit window for the next client
    subscribeFloods.push(await subscribeFlood(api.port, since, 'reconnecting, 20 frames/s'));
    requestFloods.push(
      await requestFlood(api, 'default (RATE_LIMIT_MAX=600 per 10 s per principal, RATE_LIMIT_IN_FLIGHT=6)'),
    );
  } finally {
    await api.close();
  }
  const unlimited = await startApi({ RATE_LIMIT_MAX: '0', RATE_LIMIT_ADDRESS_MAX: '0', RATE_LIMIT_IN_FLIGHT: '0' });
  try {
    await issueTokens(unlimited.port);
    await seed(unlimited.port);
    requestFloods.push(
      await requestFlood(unlimited, 'off (RATE_LIMIT_MAX, _ADDRESS_MAX, _IN_FLIGHT all 0), for comparison'),
    );
  } finally {
    await unlimited.close();
  }

  const results = { startedAt, seededOrders: SEEDED_ORDERS, subscribeFloods, requestFloods };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'abuse.json'), `${JSON.stringify(results, null, 2)}\n`);

  const lines = [
    '# Abuse limits under load',
    '',
    `Run ${startedAt}. One API process (\`server.ts\`, embedded engine in-process, default limits) on 127.0.0.1; ` +
      `${SEEDED_ORDERS} orders seeded. The machine is shared with other jobs: latencies include their noise.`,
    '',
    '## Subscribe flood (only `subscribe` frames, with the position from before the seed)',
    '',
    '| mode | frames sent | bytes sent | bytes received | worst 10 s received÷sent | connections | closes | /healthz p50 / p99 / max (ms) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...subscribeFloods.map(
      (r) =>
        `| ${r.mode} | ${r.framesSent} | ${r.bytesSent} | ${r.bytesReceived} | ${r.worstWindowRatio.toFixed(1)}× | ` +
        `${r.connections} | ${JSON.stringify(r.closes)} | ${ms(r.healthz.p50)} / ${ms(r.healthz.p99)} / ${ms(r.healthz.max)} |`,
    ),
    '',
    '## Request flood (5,000 `GET /orders` at 50 concurrent from 127.0.0.2 with its own token; the bystander reads from 127.0.0.1 with another)',
    '',
    '| rate limit | bystander quiet p50 / p99 (ms) | during flood p50 / p99 (ms) | p99 ratio | flood answers | flood time (s) | RSS before → after (MB) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...requestFloods.map(
      (r) =>
        `| ${r.rateLimit} | ${ms(r.quiet.p50)} / ${ms(r.quiet.p99)} | ${ms(r.duringFlood.p50)} / ${ms(r.duringFlood.p99)} | ` +
        `${r.p99Ratio.toFixed(2)}× | ${JSON.stringify(r.floodStatuses)} | ${r.floodSeconds.toFixed(1)} | ` +
        `${r.rssBeforeMb.toFixed(0)} → ${r.rssAfterMb.toFixed(0)} |`,
    ),
    '',
  ];
  writeFileSync(join(RESULTS, 'abuse.md'), lines.join('\n'));
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
