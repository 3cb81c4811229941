import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ChangeItem } from '../../apps/api/src/realtime/change-mapping.js';
import { Hub } from '../../apps/api/src/realtime/hub/hub.js';
import { FeedPosition } from '../../apps/api/src/realtime/position.js';
import websocketPlugin from '../../apps/api/src/plugins/websocket.js';
import { registerWsRoute } from '../../apps/api/src/routes/ws.js';
import { Child, raisePriority } from './ipc.js';
import type { LoadReport } from './loadgen.js';
import { sourceAddresses } from './raw-client.js';
import { median } from './stats.js';

/*
 * Focused measurement of the hub's flush (no database, no Socket.IO): two copies of the product's /ws route in
 * this process, one writing pre-framed messages straight to each connection (directWrites, the default) and one
 * through ws.send, each given N clients by the load-generator processes in turn, in alternating blocks. For each
 * flush it records this process's CPU time and the wall time from publish to the last socket write, and waits
 * until every client counted the event before the next one.
 *
 *   node --import tsx --conditions=@orders/source bench/fanout/flush-micro.ts
 *   FLUSH_MICRO_CLIENTS=5000,10000 FLUSH_MICRO_ROUNDS=15 BENCH_PRIORITY=-10
 */

const counts = (process.env.FLUSH_MICRO_CLIENTS ?? '5000,10000').split(',').map(Number);
const rounds = Number(process.env.FLUSH_MICRO_ROUNDS ?? '15');
if (counts.some((c) => !Number.isInteger(c) || c < 1) || !Number.isInteger(rounds) || rounds < 1) {
  throw new Error('FLUSH_MICRO_CLIENTS: positive integers; FLUSH_MICRO_ROUNDS: a positive integer');
}

interface Side {
  name: string;
  hub: Hub;
  /** Written before each publish, as the change feed does. */
  position: FeedPosition;
  app: FastifyInstance;
  port: number;
  loadgens: Child[];
  cpuUs: number[];
  wallMs: number[];
  /** Wall ms of the first flush after each block's clients connected (not in the medians). */
  firstMs: number[];
}

async function side(name: string, directWrites: boolean): Promise<Side> {
  const position = new FeedPosition();
  const hub = new Hub({ position, maxBufferedBytes: 4 * 1024 * 1024, batchWindowMs: 5, ringSize: 1000 });
  const app = Fastify({ logger: false });
  await app.register(websocketPlugin);
  registerWsRoute(app, { hub, directWrites });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const loadgens = [
    await Child.start(`${name}-loadgen0`, './loadgen.ts'),
    await Child.start(`${name}-loadgen1`, './loadgen.ts'),
  ];
  return {
    name,
    hub,
    position,
    app,
    port: (app.server.address() as AddressInfo).port,
    loadgens,
    cpuUs: [],
    wallMs: [],
    firstMs: [],
  };
}

let n = 0;
function item(): ChangeItem {
  n += 1;
  const at = '2026-01-01T00:00:00.000Z';
  return {
    kind: 'created',
    position: `82${n.toString(16).toUpperCase().padStart(16, '0')}`,
    id: n,
    order: {
      id: n,
      customer_name: 'Bench Customer',
      product_name: 'bench widget, a name of ordinary length',
      status: 'pending',
      created_at: at,
      updated_at: at,
      version: 1,
    },
    before: null,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Publishes one event to `s` and resolves with the flush's CPU (µs) and wall time (ms) once it is written. */
function flushOnce(s: Side): Promise<{ cpuUs: number; wallMs: number }> {
  return new Promise((resolve) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    s.hub.observe({
      published() {},
      flushed() {
        const c = process.cpuUsage(c0);
        s.hub.observe(null);
        resolve({ cpuUs: c.user + c.system, wallMs: performance.now() - t0 });
      },
    });
    const next = item();
    s.position.set(next.position);
    s.hub.publish(next);
  });
}

/** Waits (bounded) until the load generators of `s` counted `events` events per client. */
async function received(s: Side, clients: number, events: number): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    const reports = await Promise.all(s.loadgens.map((g) => g.call<LoadReport>('report', { samples: false })));
    if (reports.reduce((sum, r) => sum + r.events, 0) >= clients * events) return;
    await sleep(20);
  }
  throw new Error(`${s.name}: not every client received ${events} events`);
}

/** Closes the side's clients, connects `clients` new ones (all subscribed), and zeroes their counts. */
async function connectSide(s: Side, clients: number): Promise<void> {
  await Promise.all(s.loadgens.map((g) => g.call('closeAll')));
  const answers = await Promise.all(
    s.loadgens.map((g, i) =>
      g.call<{ failed: number; firstError: string | null }>(
        'connect',
        {
          port: s.port,
          transport: 'ws',
          counting: Math.floor(clients / 2) + (i < clients % 2 ? 1 : 0),
          probes: 0,
          localAddresses: sourceAddresses(i, 2),
        },
        300_000,
      ),
    ),
  );
  const failed = answers.reduce((n, a) => n + a.failed, 0);
  if (failed > 0) throw new Error(`${s.name}: ${failed} clients failed to connect (${answers[0]?.firstError ?? ''})`);
  await Promise.all(s.loadgens.map((g) => g.call('reset')));
}

raisePriority(process.pid);
const sides = [await side('direct', true), await side('ws.send', false)];
// Both sides' clients at once would need two sockets per client in this process (ulimit -n): in blocks instead,
// one side connected at a time, alternating direct / ws.send block by block.
const BLOCKS = 3;
try {
  for (const clients of counts) {
    for (const s of sides) {
      s.cpuUs = [];
      s.wallMs = [];
      s.firstMs = [];
    }
    for (let block = 0; block < BLOCKS; block++) {
      for (const s of sides) {
        await connectSide(s, clients);
        const perBlock = Math.ceil(rounds / BLOCKS);
        // One warm-up flush per block, then the measured ones.
        for (let round = 0; round <= perBlock; round++) {
          const r = await flushOnce(s);
          await received(s, clients, round + 1);
          await sleep(100);
          if (round === 0) s.firstMs.push(r.wallMs);
          if (round > 0) {
            s.cpuUs.push(r.cpuUs);
            s.wallMs.push(r.wallMs);
          }
        }
        await Promise.all(s.loadgens.map((g) => g.call('closeAll')));
      }
    }
    for (const s of sides) {
      const cpu = median(s.cpuUs);
      console.log(
        `${clients.toLocaleString('en-US')} clients, ${s.name.padEnd(7)}: flush CPU ${(cpu / 1000).toFixed(1)} ms ` +
          `(${(cpu / clients).toFixed(2)} µs/delivery, range ${(Math.min(...s.cpuUs) / clients).toFixed(2)}–${(Math.max(...s.cpuUs) / clients).toFixed(2)}), ` +
          `publish → last write ${median(s.wallMs).toFixed(1)} ms (median of ${s.cpuUs.length}); ` +
          `first flush after connecting ${s.firstMs.map((ms) => ms.toFixed(0)).join(', ')} ms`,
      );
    }
  }
} finally {
  for (const s of sides) {
    for (const g of s.loadgens) await g.stop();
    s.hub.close();
    await s.app.close();
  }
}
