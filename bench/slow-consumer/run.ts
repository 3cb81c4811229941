import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Collection } from 'mongodb';
import WebSocket from 'ws';
import { CloseCode } from '@orders/contracts';
import { benchAuthorization } from '../fanout/auth.js';
import type { BenchOrder } from '../fanout/harness.js';
import { Child, raisePriority } from '../fanout/ipc.js';
import { clientFrame, EVENT_MARKER, nowMs } from '../fanout/raw-client.js';
import { machine } from '../fanout/report.js';
import { summarize, type Summary } from '../fanout/stats.js';

/*
 * Measured: while K clients stop reading, memory stays bounded and the other clients' latency is
 * unaffected. Processes (all on 127.0.0.1): the embedded engine in memory (bench/fanout/engine.ts), the real API
 * (./server.ts, buildApp with the product's defaults) and this orchestrator, which writes orders with the official
 * driver, holds 200 normal `ws` clients and the K slow ones. Phases run interleaved A B A B on one server:
 * A without slow clients, B with K clients that subscribe and then stop reading (`socket.pause()` on a raw socket,
 * so the server's send buffer for them fills). Results: bench/results/slow-consumer.{md,json}.
 *
 * Knobs: SLOW_BENCH_ORDERS (per phase, default 6000), SLOW_BENCH_RATE (orders/s, default 300), SLOW_BENCH_SLOW
 * (K, default 5), SLOW_BENCH_CLIENTS (default 200), SLOW_BENCH_CAP (WS_MAX_BUFFERED_BYTES; default: the product's).
 */

const NORMAL = envInt('SLOW_BENCH_CLIENTS', 200, 1, 2000);
const SLOW = envInt('SLOW_BENCH_SLOW', 5, 1, 100);
const ORDERS = envInt('SLOW_BENCH_ORDERS', 6000, 10, 100_000);
const RATE = envInt('SLOW_BENCH_RATE', 300, 1, 5000);
const CAP = process.env.SLOW_BENCH_CAP ? envInt('SLOW_BENCH_CAP', 4 * 1024 * 1024, 1024, 1024 ** 3) : undefined;
const PHASES: readonly ('A' | 'B')[] = ['A', 'B', 'A', 'B'];
const SAMPLE_MS = 100;
/** Every normal client must have every event this long after the last write, or the rest count as lost. */
const DRAIN_MS = 30_000;
/** After the first cut-off, how long to wait for the other slow clients' before resuming them all. */
const CUT_SETTLE_MS = 500;
/** The server terminates a cut-off peer that has not read its close frame after this (routes/ws.ts closeGraceMs). */
const CLOSE_GRACE_MS = 2_000;
/** A slow client the hub has not cut by this long after the normal clients drained is resumed anyway. */
const NO_CUT_WAIT_MS = 3_000;

// Names of 200 CJK characters, the contract's maximum length: 3 bytes each in UTF-8, so a wire event is ~1.4 KB.
const CUSTOMER = '顧客名'.repeat(67).slice(0, 200);
const PRODUCT_PAD = '商品名'.repeat(67);

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `done` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = nowMs() + timeoutMs;
  while (!done()) {
    if (nowMs() > deadline) return false;
    await sleep(20);
  }
  return true;
}

interface ServerSample {
  at: number;
  memory: NodeJS.MemoryUsage;
  cpu: NodeJS.CpuUsage;
  hub: {
    clients: number;
    slowConsumerCloses: number;
    resyncsSent: number;
    deliveries: number;
    framesSent: number;
  } | null;
}

/** What one phase hands the normal clients: the ids it writes, and where their latencies go. */
class PhaseTally {
  readonly latencies: Float64Array;
  /** Worst latency per second of writes (by send time, from `start`). */
  readonly worstPerSecond: Float64Array;
  start = Number.NaN;
  count = 0;
  duplicates = 0;
  outOfPhase = 0;
  constructor(
    readonly firstId: number,
    readonly orders: number,
    clients: number,
  ) {
    this.latencies = new Float64Array(orders * clients);
    this.worstPerSecond = new Float64Array(Math.ceil(orders / RATE) + 2);
  }

  add(sent: number, at: number): void {
    const latency = at - sent;
    if (this.count < this.latencies.length) this.latencies[this.count++] = latency;
    const second = Math.floor((sent - this.start) / 1000);
    if (second >= 0 && second < this.worstPerSecond.length) {
      this.worstPerSecond[second] = Math.max(this.worstPerSecond[second] as number, latency);
    }
  }
}

const READY = Buffer.from('{"type":"ready"');
const RESYNC = Buffer.from('"type":"resync"');
const ORDER_ID = Buffer.from('"order":{"id":');
const SENT = Buffer.from('sent=');

/** The decimal number (digits and one dot) at `from` in an ASCII region of `buf`. */
function numberAt(buf: Buffer, from: number): number {
  let end = from;
  while (end < buf.length) {
    const c = buf[end] as number;
    if ((c < 0x30 || c > 0x39) && c !== 0x2e) break;
    end += 1;
  }
  return Number(buf.toString('latin1', from, end));
}

/**
 * A subscribed `ws` client that timestamps each order event against its write. It scans frames for the order id
 * and the send time rather than decoding and parsing ~60k events/s of CJK text, so 200 of them in this process
 * measure the server rather than the orchestrator's JSON parsing.
 */
class NormalClient {
  readonly ws: WebSocket;
  readonly ready: Promise<void>;
  closeCode: number | null = null;
  resyncs = 0;
  private seen: Uint8Array = new Uint8Array(0);
  private tally: PhaseTally | null = null;
  received = 0;

  constructor(url: string) {
    this.ws = new WebSocket(url, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      headers: { authorization: benchAuthorization() },
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('subscription not ready within 20 s')), 20_000);
      this.ws.once('open', () => this.ws.send(JSON.stringify({ type: 'subscribe' })));
      this.ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      this.ws.on('message', (data: Buffer) => {
        const at = nowMs();
        if (data.subarray(0, READY.length).equals(READY)) {
          clearTimeout(timer);
          resolve();
          return;
        }
        if (data.includes(RESYNC)) this.resyncs += 1;
        this.scan(data, at);
      });
    });
    this.ready.catch(() => undefined);
    this.ws.on('close', (code) => (this.closeCode = code));
  }

  /** Starts counting a phase's events. */
  begin(tally: PhaseTally): void {
    this.tally = tally;
    this.seen = new Uint8Array(tally.orders);
    this.received = 0;
  }

  /** Every order event in the frame: its id, then the send time in its product_name (fields in that order). */
  private scan(data: Buffer, at: number): void {
    let from = data.indexOf(ORDER_ID);
    while (from !== -1) {
      const id = numberAt(data, from + ORDER_ID.length);
      const sentAt = data.indexOf(SENT, from);
      if (sentAt === -1) return;
      this.record(id, numberAt(data, sentAt + SENT.length), at);
      from = data.indexOf(ORDER_ID, sentAt);
    }
  }

  private record(id: number, sent: number, at: number): void {
    const tally = this.tally;
    if (tally === null) return;
    const index = id - tally.firstId;
    if (index < 0 || index >= tally.orders) {
      tally.outOfPhase += 1;
      return;
    }
    if (this.seen[index] === 1) {
      tally.duplicates += 1;
      return;
    }
    this.seen[index] = 1;
    this.received += 1;
    tally.add(sent, at);
  }
}

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;

/**
 * A client that subscribes and then stops reading: a raw `net` socket with a hand-made WebSocket upgrade, paused
 * once the server's `ready` arrived, so everything the server sends piles up in the kernel and then in the
 * server's send buffer. After `resume()` it reads what was queued, counting order events and bytes, until the
 * close frame (its code) or the end of the TCP connection (no code: the server dropped it).
 */
class SlowClient {
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;
  closeCode: number | null = null;
  endedAt: number | null = null;
  /** Still connected when the phase ended: the server never cut it. */
  stillOpen = false;
  /** The socket error that ended it, if any (e.g. ECONNRESET when the server dropped it). */
  error: string | null = null;
  events = 0;
  bytesAfterReady = 0;
  private readonly socket: Socket;
  private head: Buffer | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private upgraded = false;
  private subscribed = false;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    let resolveReady!: () => void;
    let rejectReady!: (err: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    const timer = setTimeout(() => rejectReady(new Error('slow client: not ready within 20 s')), 20_000);
    this.closed = new Promise<void>((resolve) => {
      this.socket.on('close', () => {
        this.endedAt = nowMs();
        clearTimeout(timer);
        rejectReady(new Error('slow client: closed before ready'));
        resolve();
      });
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => (this.error = err.code ?? err.message));
    this.socket.on('connect', () => {
      this.socket.write(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.on('data', (chunk: Buffer) => {
      if (!this.upgraded) {
        const buf = this.head ? Buffer.concat([this.head, chunk]) : chunk;
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) {
          this.head = buf;
          return;
        }
        if (!buf.toString('latin1', 0, 12).startsWith('HTTP/1.1 101')) {
          rejectReady(new Error(`slow client: upgrade refused: ${buf.toString('latin1', 0, 40)}`));
          this.socket.destroy();
          return;
        }
        this.upgraded = true;
        this.socket.write(clientFrame(OP_TEXT, Buffer.from(JSON.stringify({ type: 'subscribe' }))));
        chunk = buf.subarray(end + 4);
      }
      if (this.subscribed) this.bytesAfterReady += chunk.length;
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.parse(() => {
        clearTimeout(timer);
        this.subscribed = true;
        // Stop reading at once: nothing after `ready` is consumed until resume().
        this.socket.pause();
        resolveReady();
      });
    });
  }

  /** Starts reading again (the queued data drains, then the close frame if the server still sent it). */
  resume(): void {
    this.socket.resume();
  }

  /** Closes the socket; a client the server had not ended by then is marked as never cut. */
  destroy(): void {
    if (this.endedAt === null) this.stillOpen = true;
    this.socket.destroy();
  }

  private parse(onReady: () => void): void {
    for (;;) {
      const buf = this.buffer;
      if (buf.length < 2) return;
      const b1 = (buf[1] as number) & 0x7f;
      const headerLen = b1 < 126 ? 2 : b1 === 126 ? 4 : 10;
      if (buf.length < headerLen) return;
      const len = b1 < 126 ? b1 : b1 === 126 ? buf.readUInt16BE(2) : Number(buf.readBigUInt64BE(2));
      if (buf.length < headerLen + len) return;
      const opcode = (buf[0] as number) & 0x0f;
      const payload = buf.subarray(headerLen, headerLen + len);
      this.buffer = buf.subarray(headerLen + len);
      if (opcode === OP_CLOSE) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.socket.end();
        return;
      }
      if (opcode !== OP_TEXT) continue;
      if (!this.subscribed) {
        if (payload.toString('utf8').startsWith('{"type":"ready"')) {
          onReady();
          if (this.socket.isPaused()) return;
        }
        continue;
      }
      let at = payload.indexOf(EVENT_MARKER);
      while (at !== -1) {
        this.events += 1;
        at = payload.indexOf(EVENT_MARKER, at + EVENT_MARKER.length);
      }
    }
  }
}

interface MemoryFigures {
  heapUsed: number;
  rss: number;
  /** Buffers outside the V8 heap: where queued frames live. */
  external: number;
}

interface PhaseResult {
  phase: 'A' | 'B';
  index: number;
  slowClients: number;
  orders: number;
  writeFailures: number;
  writeSeconds: number;
  latencyMs: Summary;
  eventsExpected: number;
  eventsReceived: number;
  lost: number;
  duplicates: number;
  normalClientsClosed: number;
  normalClientResyncs: number;
  memory: { before: MemoryFigures; peak: MemoryFigures; after: MemoryFigures };
  /** CPU over the writes and their delivery, as % of one core: the API, the engine, this process, everyone else. */
  serverCpuPercent: number;
  engineCpuPercent: number;
  orchestratorCpuPercent: number;
  otherCpuPercent: number;
  orchestratorLagP99Ms: number;
  slow: {
    cutByHub: number;
    /** What each slow client saw after resuming: the close code, or null when the connection ended without one. */
    observedCodes: (number | 'open' | null)[];
    /** First unread event (first write of the phase, sent) → the hub's k-th cut-off, seconds (± SAMPLE_MS). */
    firstUnreadToCutSeconds: number[];
    /** Bytes each slow client read after resuming: what the kernel and the server had queued for it. */
    queuedBytes: number[];
    queuedEvents: number[];
    socketErrors: (string | null)[];
  } | null;
  /** Worst normal-client latency per second of writes, ms. */
  worstPerSecondMs: number[];
}

/** Busy CPU time of the whole machine so far (µs), from /proc/stat; null where there is none. */
function machineBusyMicros(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, ...fields] = line.trim().split(/\s+/).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1e6) / 100;
  } catch {
    return null;
  }
}

function cpuOf(usage: NodeJS.CpuUsage): number {
  return usage.user + usage.system;
}

function memoryOf(sample: ServerSample): MemoryFigures {
  return {
    heapUsed: sample.memory.heapUsed,
    rss: sample.memory.rss,
    external: sample.memory.external + sample.memory.arrayBuffers,
  };
}

/** Writes `count` orders at `perSecond` through the driver, each carrying its send time; bounded by count. */
async function writeOrders(
  orders: Collection<BenchOrder>,
  firstId: number,
  count: number,
  perSecond: number,
): Promise<{ failures: number; seconds: number; firstSent: number }> {
  const pending: Promise<void>[] = [];
  let failures = 0;
  const start = nowMs();
  let firstSent = Number.NaN;
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / perSecond - nowMs();
    if (wait > 1) await sleep(wait);
    const sent = nowMs();
    if (i === 0) firstSent = sent;
    const now = new Date();
    const product = `sent=${sent.toFixed(3)};${PRODUCT_PAD}`.slice(0, 200);
    pending.push(
      orders
        .insertOne({
          _id: firstId + i,
          customer_name: CUSTOMER,
          product_name: product,
          status: 'pending',
          created_at: now,
          updated_at: now,
          version: 1,
        })
        .then(
          () => undefined,
          () => {
            failures += 1;
          },
        ),
    );
  }
  await Promise.all(pending);
  return { failures, seconds: (nowMs() - start) / 1000, firstSent };
}

async function runPhase(
  phase: 'A' | 'B',
  index: number,
  ctx: {
    server: Child;
    engine: Child;
    port: number;
    normals: NormalClient[];
    orders: Collection<BenchOrder>;
    firstId: number;
  },
  log: (line: string) => void,
): Promise<PhaseResult> {
  const { server, port, normals } = ctx;
  const slowCount = phase === 'B' ? SLOW : 0;
  const slow: SlowClient[] = [];
  try {
    for (let i = 0; i < slowCount; i++) slow.push(new SlowClient(port));
    await Promise.all(slow.map((s) => s.ready));
    const tally = new PhaseTally(ctx.firstId, ORDERS, normals.length);
    for (const client of normals) client.begin(tally);
    const resyncsBefore = normals.reduce((n, c) => n + c.resyncs, 0);
    const before = await server.call<ServerSample>('sample', { gc: true });
    const busyBefore = machineBusyMicros();
    const engineBefore = await ctx.engine.call<{ cpu: NodeJS.CpuUsage }>('usage');
    const selfBefore = process.cpuUsage();
    const cutsBefore = before.hub?.slowConsumerCloses ?? 0;
    const peak = memoryOf(before);
    const cutTimes: number[] = [];
    const stopSampling = new AbortController();
    let lastSample = before;
    const sampler = (async () => {
      while (!stopSampling.signal.aborted) {
        const s = await server.call<ServerSample>('sample', { gc: false });
        lastSample = s;
        const m = memoryOf(s);
        peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
        peak.rss = Math.max(peak.rss, m.rss);
        peak.external = Math.max(peak.external, m.external);
        const cuts = (s.hub?.slowConsumerCloses ?? 0) - cutsBefore;
        while (cutTimes.length < cuts) cutTimes.push(s.at);
        await sleep(SAMPLE_MS);
      }
    })();
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();

    // Slow clients are resumed once the hub has cut them all (or shortly after the first cut, so a close frame
    // queued behind their backlog can still reach them within the server's grace period).
    // A slow client never cut (its backlog fit under the cap) is resumed a little after the normal ones drained.
    let quietSince = Number.POSITIVE_INFINITY;
    const resumer = (async () => {
      if (slowCount === 0) return;
      const limit = (ORDERS / RATE) * 1000 + DRAIN_MS + NO_CUT_WAIT_MS;
      await waitUntil(() => cutTimes.length > 0 || nowMs() > quietSince + NO_CUT_WAIT_MS, limit);
      await waitUntil(() => cutTimes.length >= slowCount, CUT_SETTLE_MS);
      for (const s of slow) s.resume();
    })();

    tally.start = nowMs();
    const written = await writeOrders(ctx.orders, ctx.firstId, ORDERS, RATE);
    const drained = await waitUntil(() => normals.every((c) => c.received >= ORDERS), DRAIN_MS);
    if (!drained) log(`   not every normal client had every event ${DRAIN_MS / 1000} s after the last write`);
    // CPU over the writes and their delivery only, not the slow clients' wind-down.
    const delivered = await server.call<ServerSample>('sample', { gc: false });
    const busyAfter = machineBusyMicros();
    const engineAfter = await ctx.engine.call<{ cpu: NodeJS.CpuUsage }>('usage');
    const selfMicros = cpuOf(process.cpuUsage(selfBefore));
    quietSince = nowMs();
    await resumer;
    await Promise.race([Promise.all(slow.map((s) => s.closed)), sleep(CLOSE_GRACE_MS + 10_000)]);
    // Slow clients the hub did not cut (still connected after draining) are closed here.
    for (const s of slow) s.destroy();
    await waitUntil(() => (lastSample.hub?.clients ?? 0) <= normals.length, 5_000);
    stopSampling.abort();
    await sampler;
    lag.disable();
    const after = await server.call<ServerSample>('sample', { gc: true });

    const received = normals.reduce((n, c) => n + c.received, 0);
    const expected = ORDERS * normals.length;
    const cpuMicros = cpuOf(delivered.cpu) - cpuOf(before.cpu);
    const engineMicros = cpuOf(engineAfter.cpu) - cpuOf(engineBefore.cpu);
    const windowMs = delivered.at - before.at;
    const percent = (micros: number): number => (micros / 1000 / windowMs) * 100;
    const result: PhaseResult = {
      phase,
      index,
      slowClients: slowCount,
      orders: ORDERS,
      writeFailures: written.failures,
      writeSeconds: written.seconds,
      latencyMs: summarize(Array.from(tally.latencies.subarray(0, tally.count))),
      eventsExpected: expected,
      eventsReceived: received,
      lost: expected - received,
      duplicates: tally.duplicates,
      normalClientsClosed: normals.filter((c) => c.closeCode !== null).length,
      normalClientResyncs: normals.reduce((n, c) => n + c.resyncs, 0) - resyncsBefore,
      memory: { before: memoryOf(before), peak, after: memoryOf(after) },
      serverCpuPercent: percent(cpuMicros),
      engineCpuPercent: percent(engineMicros),
      orchestratorCpuPercent: percent(selfMicros),
      otherCpuPercent:
        busyBefore === null || busyAfter === null
          ? Number.NaN
          : percent(busyAfter - busyBefore - cpuMicros - engineMicros - selfMicros),
      orchestratorLagP99Ms: Math.max(0, lag.percentile(99) / 1e6 - 10),
      slow:
        slowCount === 0
          ? null
          : {
              cutByHub: (after.hub?.slowConsumerCloses ?? 0) - cutsBefore,
              observedCodes: slow.map((s) => (s.stillOpen ? 'open' : s.closeCode)),
              firstUnreadToCutSeconds: cutTimes.map((t) => (t - written.firstSent) / 1000),
              queuedBytes: slow.map((s) => s.bytesAfterReady),
              queuedEvents: slow.map((s) => s.events),
              socketErrors: slow.map((s) => s.error),
            },
      worstPerSecondMs: Array.from(tally.worstPerSecond, (v) => Math.round(v * 10) / 10),
    };
    return result;
  } finally {
    for (const s of slow) s.destroy();
  }
}

const MB = 1024 * 1024;
const fmt = (n: number, digits = 1): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '–';
const mb = (n: number): string => fmt(n / MB);

function worstSecond(perSecond: number[]): string {
  let at = 0;
  for (let i = 1; i < perSecond.length; i++) if ((perSecond[i] as number) > (perSecond[at] as number)) at = i;
  return `${at}–${at + 1} s: ${fmt(perSecond[at] ?? Number.NaN)}`;
}

function codesOf(codes: (number | 'open' | null)[]): string {
  const counts = new Map<string, number>();
  for (const code of codes) {
    const key = code === null ? 'dropped (no close frame)' : code === 'open' ? 'never cut' : String(code);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, v]) => `${v}× ${k}`).join(', ');
}

function markdown(results: PhaseResult[], meta: Record<string, unknown>, cap: number, windowMs: number): string {
  const m = machine();
  const lines: string[] = [];
  lines.push('# Slow-consumer benchmark', '');
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}. ` +
      `Run ${String(meta.startedAt)}, ${fmt(Number(meta.totalSeconds), 0)} s in all; process priority: ${String(meta.priority)}.`,
    '',
    `- Processes on 127.0.0.1: the embedded engine in memory, the real API (buildApp, product defaults: send-buffer ` +
      `cap WS_MAX_BUFFERED_BYTES = ${mb(cap)} MiB, batch window ${windowMs} ms), and the orchestrator, which writes ` +
      `orders with the official driver and holds ${NORMAL} normal \`ws\` clients (every event parsed and timestamped ` +
      `against the send time the write embeds in product_name) and, in phase B, ${SLOW} slow clients: raw sockets ` +
      'that upgrade, subscribe and then `socket.pause()`.',
    `- Each phase writes ${ORDERS.toLocaleString('en-US')} orders at ${RATE}/s; names are 200 CJK characters ` +
      `(the contract's maximum length, 3 bytes each in UTF-8), so a wire event is ~${fmt(Number(meta.eventBytes) / 1024)} KB. ` +
      'Phases run interleaved A B A B on one server (A: no slow clients, B: slow clients).',
    `- Memory is the API process's: before (after GC, slow clients connected), peak (sampled every ${SAMPLE_MS} ms, ` +
      'no GC, so heap peaks include garbage), after (after GC, slow clients gone). "external" = Buffers outside the ' +
      'V8 heap (external + arrayBuffers), where queued frames live.',
    '- Cut-off: the hub closes a client whose send buffer passes the cap with code 4000 (counted by the hub); the ' +
      'slow client is resumed right after and reads what was queued for it, then the close frame (4000) if it made ' +
      `it out before the server's ${CLOSE_GRACE_MS / 1000} s grace, otherwise the connection just ends. "first unread → cut" ` +
      `runs from the send of the phase's first write to the sample that saw the cut (± ${SAMPLE_MS} ms).`,
    `- The API also pings every 30 s and drops a peer that did not answer the previous ping, so a paused client goes ` +
      'within 30–60 s in any case; at this write rate the cap cuts it first.',
    '- CPU is % of one core (2 cores in all) over the writes and their delivery; "other processes" is the rest of ' +
      "the machine's busy time (/proc/stat): the machine is shared, and the orchestrator's clients share its cores.",
    '',
    '## Normal clients, per phase',
    '',
    '| phase | slow clients | end-to-end p50 ms | p99 ms | max ms | events lost | duplicates | resyncs / closes | worst second of writes: s in, max ms | CPU: API / engine / orchestrator / other processes | orchestrator loop lag p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of results) {
    lines.push(
      `| ${r.phase}${r.index} | ${r.slowClients} | ${fmt(r.latencyMs.p50)} | ${fmt(r.latencyMs.p99)} | ${fmt(r.latencyMs.max)} | ` +
        `${r.lost.toLocaleString('en-US')} of ${r.eventsExpected.toLocaleString('en-US')} | ${r.duplicates} | ` +
        `${r.normalClientResyncs} / ${r.normalClientsClosed} | ${worstSecond(r.worstPerSecondMs)} | ${fmt(r.serverCpuPercent, 0)}% / ${fmt(r.engineCpuPercent, 0)}% / ${fmt(r.orchestratorCpuPercent, 0)}% / ${fmt(r.otherCpuPercent, 0)}% | ${fmt(r.orchestratorLagP99Ms)} |`,
    );
  }
  lines.push(
    '',
    '## API process memory, per phase (MiB)',
    '',
    '| phase | heap before | heap peak | heap after | RSS before | RSS peak | RSS after | external before | external peak | external after |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of results) {
    const { before, peak, after } = r.memory;
    lines.push(
      `| ${r.phase}${r.index} | ${mb(before.heapUsed)} | ${mb(peak.heapUsed)} | ${mb(after.heapUsed)} | ${mb(before.rss)} | ` +
        `${mb(peak.rss)} | ${mb(after.rss)} | ${mb(before.external)} | ${mb(peak.external)} | ${mb(after.external)} |`,
    );
  }
  lines.push(
    '',
    '## Slow clients (phase B)',
    '',
    '| phase | cut by the hub (4000) | seen by the client after resuming | first unread → cut s (min–max) | queued per client at cut-off MiB (min–max) | events queued (min–max) |',
    '|---|---:|---|---:|---:|---:|',
  );
  for (const r of results) {
    if (r.slow === null) continue;
    const s = r.slow;
    const range = (values: number[], f: (n: number) => string): string =>
      values.length === 0 ? '–' : `${f(Math.min(...values))}–${f(Math.max(...values))}`;
    lines.push(
      `| ${r.phase}${r.index} | ${s.cutByHub} of ${r.slowClients} | ${codesOf(s.observedCodes)} | ` +
        `${range(s.firstUnreadToCutSeconds, (n) => fmt(n))} | ${range(s.queuedBytes, mb)} | ${range(s.queuedEvents, (n) => n.toLocaleString('en-US'))} |`,
    );
  }
  const a = results.filter((r) => r.phase === 'A');
  const b = results.filter((r) => r.phase === 'B');
  const avg = (rs: PhaseResult[], f: (r: PhaseResult) => number): number =>
    rs.reduce((n, r) => n + f(r), 0) / rs.length;
  lines.push(
    '',
    '## A vs B (means over the phases of each kind)',
    '',
    '| | A (no slow clients) | B (slow clients) | B/A |',
    '|---|---:|---:|---:|',
  );
  const rows: [string, (r: PhaseResult) => number, (n: number) => string][] = [
    ['p50 ms', (r) => r.latencyMs.p50, (n) => fmt(n)],
    ['p99 ms', (r) => r.latencyMs.p99, (n) => fmt(n)],
    ['max ms', (r) => r.latencyMs.max, (n) => fmt(n)],
    ['events lost', (r) => r.lost, (n) => fmt(n, 0)],
    ['heap peak − before MiB', (r) => r.memory.peak.heapUsed - r.memory.before.heapUsed, mb],
    ['RSS peak − before MiB', (r) => r.memory.peak.rss - r.memory.before.rss, mb],
    ['external peak − before MiB', (r) => r.memory.peak.external - r.memory.before.external, mb],
    ['RSS after − before MiB', (r) => r.memory.after.rss - r.memory.before.rss, mb],
  ];
  for (const [name, f, show] of rows) {
    const va = avg(a, f);
    const vb = avg(b, f);
    lines.push(`| ${name} | ${show(va)} | ${show(vb)} | ${va !== 0 ? `${fmt(vb / va, 2)}×` : '–'} |`);
  }
  lines.push('');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const log = (line: string): void => console.log(line);
  raisePriority(process.pid);
  const t0 = nowMs();
  const startedAt = new Date().toISOString();
  const children: Child[] = [];
  const normals: NormalClient[] = [];
  let mongo: MongoClient | null = null;
  try {
    const engine = await Child.start('engine', './engine.ts');
    children.push(engine);
    const mongoUri = await engine.call<string>('uri');
    const server = await Child.start('server', '../slow-consumer/server.ts', ['--expose-gc']);
    children.push(server);
    const started = await server.call<{ port: number; maxBufferedBytes: number; batchWindowMs: number }>('start', {
      mongoUri,
      ...(CAP !== undefined ? { maxBufferedBytes: CAP } : {}),
    });
    const { port } = started;
    mongo = new MongoClient(mongoUri, { maxPoolSize: 20, writeConcern: { w: 'majority' } });
    await mongo.connect();
    const orders = mongo.db('orders').collection<BenchOrder>('orders');
    log(`engine and API (port ${port}, cap ${mb(started.maxBufferedBytes)} MiB) up; connecting ${NORMAL} clients`);
    for (let i = 0; i < NORMAL; i += 50) {
      const batch = Array.from(
        { length: Math.min(50, NORMAL - i) },
        () => new NormalClient(`ws://127.0.0.1:${port}/ws`),
      );
      normals.push(...batch);
      await Promise.all(batch.map((c) => c.ready));
    }

    // A probe client sizes the wire event (a frame carrying a single event) during the warm-up.
    let eventBytes = 0;
    const probe = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: benchAuthorization() } });
    probe.on('message', (data: Buffer) => {
      if (eventBytes === 0 && data.includes(EVENT_MARKER) && !data.includes('"type":"batch"')) eventBytes = data.length;
    });
    await new Promise<void>((resolve, reject) => {
      probe.once('open', () => {
        probe.send(JSON.stringify({ type: 'subscribe' }));
        resolve();
      });
      probe.once('error', reject);
    });
    await sleep(200);
    // A second of writes at the phase rate warms the JIT on every path before the first measured phase.
    const warmOrders = Math.min(RATE, ORDERS);
    const warm = new PhaseTally(1, warmOrders, NORMAL);
    for (const c of normals) c.begin(warm);
    await writeOrders(orders, 1, warmOrders, RATE);
    await waitUntil(() => eventBytes > 0 && normals.every((c) => c.received >= warmOrders), DRAIN_MS);
    probe.close();

    const results: PhaseResult[] = [];
    for (let i = 0; i < PHASES.length; i++) {
      const phase = PHASES[i] as 'A' | 'B';
      const index = Math.floor(i / 2) + 1;
      log(`phase ${phase}${index}: ${ORDERS} orders at ${RATE}/s, ${phase === 'B' ? SLOW : 0} slow clients`);
      const r = await runPhase(
        phase,
        index,
        { server, engine, port, normals, orders, firstId: 1_000_000 * (i + 1) },
        log,
      );
      results.push(r);
      log(
        `   p50 ${fmt(r.latencyMs.p50)} ms, p99 ${fmt(r.latencyMs.p99)} ms, max ${fmt(r.latencyMs.max)} ms, lost ${r.lost}, ` +
          `heap ${mb(r.memory.before.heapUsed)}/${mb(r.memory.peak.heapUsed)}/${mb(r.memory.after.heapUsed)} MiB, ` +
          `RSS ${mb(r.memory.before.rss)}/${mb(r.memory.peak.rss)}/${mb(r.memory.after.rss)} MiB` +
          (r.slow
            ? `, cut ${r.slow.cutByHub}/${SLOW} (${codesOf(r.slow.observedCodes)}) after ${r.slow.firstUnreadToCutSeconds.map((s) => fmt(s)).join(', ')} s`
            : ''),
      );
    }

    const meta = {
      startedAt,
      totalSeconds: (nowMs() - t0) / 1000,
      priority: process.env.BENCH_PRIORITY ? `nice ${process.env.BENCH_PRIORITY}` : 'default',
      eventBytes,
      normalClients: NORMAL,
      slowClients: SLOW,
      ordersPerPhase: ORDERS,
      ratePerSecond: RATE,
      maxBufferedBytes: started.maxBufferedBytes,
      batchWindowMs: started.batchWindowMs,
      closeCodeExpected: CloseCode.SlowConsumer,
      machine: machine(),
    };
    const md = markdown(results, meta, started.maxBufferedBytes, started.batchWindowMs);
    const dir = fileURLToPath(new URL('../results/', import.meta.url));
    await mkdir(dir, { recursive: true });
    await writeFile(`${dir}slow-consumer.json`, `${JSON.stringify({ meta, results }, null, 2)}\n`);
    await writeFile(`${dir}slow-consumer.md`, md);
    log(`\n${md}`);
  } finally {
    for (const c of normals) c.ws.terminate();
    await mongo?.close().catch(() => undefined);
    for (const child of [...children].reverse()) await child.stop();
  }
}

await main();
