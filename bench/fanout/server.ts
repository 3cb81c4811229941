import type { IncomingMessage } from 'node:http';
import { Session } from 'node:inspector/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Server as SocketIoServer } from 'socket.io';
import type { ChangeItem } from '../../apps/api/src/realtime/change-mapping.js';
import { startBenchApi, type BenchApi } from './api.js';
import type { FloorPass } from './floor.js';
import { processUsage, serve } from './ipc.js';
import { nowMs, type Transport } from './raw-client.js';

/*
 * The bench-only server entry: the real API (buildApp) against the engine the orchestrator started, with the
 * transport switchable without forking product code.
 * - `ws`: the product as is: hub → raw WebSocket on /ws.
 * - `sio`: the seed's stack: a Socket.IO 4 server attached to the same HTTP server, and every event the feed
 *   hands the hub is broadcast with `io.emit('order', event)`, the same event object the hub serializes.
 * Timestamps come from the hub's observer: when the feed handed an event over, and when the flush that carried
 * it (or the `io.emit` call) returned.
 */

interface StartArgs {
  transport: Transport;
  mongoUri: string;
  batchWindowMs?: number;
}

/** [order id, event received by the server, fan-out done] in epoch ms. */
type TraceRow = [number, number, number];

const MAX_TRACE = 500_000;
let api: BenchApi | null = null;
let io: SocketIoServer | null = null;
let tracing = false;
const received = new Map<number, number>();
let trace: TraceRow[] = [];
let profiler: Session | null = null;

function eventOf(item: ChangeItem): object {
  return item.kind === 'deleted'
    ? { type: 'order.deleted', id: item.id, position: item.position }
    : { type: `order.${item.kind}`, order: item.order, position: item.position };
}

async function start(raw: unknown): Promise<{ port: number }> {
  const args = raw as StartArgs;
  // BENCH_WS_DIRECT_WRITES=0 runs the hub with every frame through ws.send (WS_DIRECT_WRITES=0), for comparison.
  const direct = process.env.BENCH_WS_DIRECT_WRITES;
  // BENCH_COSTS=before runs the API without the order history and without metrics; =after with both (a metrics
  // token set, so every request and flush is recorded). bench/costs.ts compares the two.
  const costs = process.env.BENCH_COSTS;
  api = await startBenchApi(args.mongoUri, {
    ...(costs === 'before' ? { HISTORY_RECORD: '0' } : {}),
    ...(costs === 'after' ? { HISTORY_RECORD: '1', METRICS_TOKEN: 'bench-metrics-token-0123456789' } : {}),
    ...(args.batchWindowMs !== undefined ? { WS_BATCH_WINDOW_MS: String(args.batchWindowMs) } : {}),
    ...(direct === '0' || direct === '1' ? { WS_DIRECT_WRITES: direct } : {}),
  });
  const instance = api.app;
  if (args.transport === 'sio') {
    const httpServer = instance.server;
    const fastifyUpgrade = httpServer.listeners('upgrade');
    const sio = new SocketIoServer(httpServer, {
      transports: ['websocket'],
      serveClient: false,
      perMessageDeflate: false,
      destroyUpgrade: false,
    });
    io = sio;
    // @fastify/websocket and engine.io would both take every upgrade (two ws servers on one socket): route by path.
    const engineUpgrade = httpServer.listeners('upgrade').filter((l) => !fastifyUpgrade.includes(l));
    httpServer.removeAllListeners('upgrade');
    httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const targets = req.url?.startsWith('/socket.io/') ? engineUpgrade : fastifyUpgrade;
      for (const listener of targets) Reflect.apply(listener, httpServer, [req, socket, head]);
    });
    instance.realtime.observe({
      published(item) {
        const at = nowMs();
        sio.emit('order', eventOf(item));
        if (tracing && trace.length < MAX_TRACE) trace.push([item.id, at, nowMs()]);
      },
      flushed() {},
    });
  } else {
    instance.realtime.observe({
      published(item) {
        if (tracing) received.set(item.id, nowMs());
      },
      flushed(items) {
        if (!tracing) return;
        const at = nowMs();
        for (const item of items) {
          if (trace.length < MAX_TRACE) trace.push([item.id, received.get(item.id) ?? Number.NaN, at]);
          received.delete(item.id);
        }
      },
    });
  }
  return { port: api.port };
}

// ---- machine floor: the kernel cost of one small write to each of N loopback sockets, with no product code ----

let floorServer: Server | null = null;
const floorSockets: Socket[] = [];

async function floorListen(): Promise<{ port: number }> {
  const server = createServer((socket) => {
    // As ws does on every upgraded socket.
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    floorSockets.push(socket);
  });
  floorServer = server;
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no floor address');
  return { port: address.port };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits (bounded) until the kernel took every byte, then a little more so the readers are idle again. */
async function drained(sockets: Socket[]): Promise<void> {
  const deadline = performance.now() + 5000;
  while (performance.now() < deadline && sockets.some((s) => s.writableLength > 0)) await sleep(5);
  await sleep(100);
}

function pass(sockets: Socket[], write: (s: Socket) => void): FloorPass {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const socket of sockets) write(socket);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuUs: c.user + c.system, sysUs: c.system };
}

/**
 * For each count: `rounds` passes of one `socket.write(frame)` to each of the first `count` sockets (the same
 * Buffer every time), and as many passes the way ws.send writes a frame (cork, header, payload, uncork), after a
 * warm-up pass of each. Passes alternate and each waits for the previous one's bytes to drain.
 */
async function floorMeasure(raw: unknown): Promise<object> {
  const args = raw as { counts: number[]; rounds: number; bytes: number };
  const need = Math.max(...args.counts);
  const deadline = performance.now() + 30_000;
  while (floorSockets.length < need && performance.now() < deadline) await sleep(20);
  if (floorSockets.length < need) throw new Error(`floor: ${floorSockets.length} of ${need} sockets connected`);
  const frame = Buffer.alloc(args.bytes, 0x78);
  frame[0] = 0x81;
  frame[1] = 126;
  frame.writeUInt16BE(args.bytes - 4, 2);
  const header = frame.subarray(0, 4);
  const payload = frame.subarray(4);
  const single = (s: Socket): void => {
    s.write(frame);
  };
  const corked = (s: Socket): void => {
    s.cork();
    s.write(header);
    s.write(payload);
    s.uncork();
  };
  const out = [];
  for (const count of args.counts) {
    const sockets = floorSockets.slice(0, count);
    const write: FloorPass[] = [];
    const cork: FloorPass[] = [];
    for (let round = 0; round <= args.rounds; round++) {
      const a = pass(sockets, single);
      await drained(sockets);
      const b = pass(sockets, corked);
      await drained(sockets);
      // Round 0 warms up (JIT, first-write allocations): not kept.
      if (round > 0) {
        write.push(a);
        cork.push(b);
      }
    }
    out.push({ clients: count, bytes: args.bytes, write, cork });
  }
  return out;
}

function floorClose(): void {
  for (const socket of floorSockets.splice(0)) socket.destroy();
  floorServer?.close();
  floorServer = null;
}

async function stop(): Promise<void> {
  floorClose();
  if (profiler) {
    await profiler.post('Profiler.stop').catch(() => undefined);
    profiler.disconnect();
  }
  if (io) {
    // Not io.close(): it would also close the HTTP server, which app.close() owns.
    io.disconnectSockets(true);
    io.engine.close();
  }
  await api?.close();
}

serve(
  {
    start,
    usage: processUsage,
    stats: () => ({ hub: api?.app.realtime.stats() ?? null, sioClients: io?.engine.clientsCount ?? 0 }),
    floorListen,
    floorMeasure,
    floorClose,
    traceStart: () => {
      tracing = true;
      trace = [];
      received.clear();
    },
    traceTake: () => {
      tracing = false;
      const rows = trace;
      trace = [];
      return rows;
    },
    profileStart: async () => {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
    },
    profileStop: async () => {
      if (!profiler) throw new Error('profiler not started');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = null;
      return profile;
    },
  },
  stop,
);
