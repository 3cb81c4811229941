import type { IncomingMessage } from 'node:http';
import { Session } from 'node:inspector/promises';
import type { Duplex } from 'node:stream';
import { Server as SocketIoServer } from 'socket.io';
import type { ChangeItem } from '../../apps/api/src/orders/feed.js';
import { startBenchApi, type BenchApi } from './api.js';
import { serve } from './ipc.js';
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
  api = await startBenchApi(
    args.mongoUri,
    args.batchWindowMs !== undefined ? { WS_BATCH_WINDOW_MS: String(args.batchWindowMs) } : {},
  );
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

function usage(raw: unknown): object {
  const { gc: wantGc } = (raw ?? {}) as { gc?: boolean };
  const gc = (globalThis as { gc?: () => void }).gc;
  if (wantGc && gc) {
    gc();
    gc();
  }
  return { cpu: process.cpuUsage(), memory: process.memoryUsage(), at: nowMs() };
}

async function stop(): Promise<void> {
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
    usage,
    stats: () => ({ hub: api?.app.realtime.stats() ?? null, sioClients: io?.engine.clientsCount ?? 0 }),
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
