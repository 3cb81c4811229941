import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serve } from './ipc.js';
import { RawClient, type ProbeSample, type Transport } from './raw-client.js';

/*
 * A load-generator process: holds counting clients and probes, and reports what they received together with its
 * own CPU use and event-loop delay, so the orchestrator can refuse a step where this process was the bottleneck.
 */

export interface ConnectArgs {
  port: number;
  /**
   * Several API processes: the clients are split over these ports in contiguous blocks of the connection order,
   * so the probes (spread evenly through that order) are spread evenly over the processes too.
   */
  ports?: number[];
  transport: Transport;
  counting: number;
  probes: number;
  subscribe?: string;
  /** Source addresses to spread connections over (127.0.0.0/8). */
  localAddresses: string[];
  /** Handshakes in flight at once. */
  concurrency?: number;
}

export interface LoadReport {
  clients: number;
  open: number;
  closedByServer: number;
  /** Order events counted per client in the window: total, min, max. */
  events: number;
  minEvents: number | null;
  maxEvents: number;
  frames: number;
  samples: ProbeSample[];
  /** CPU time of this process in the window (µs) and the window's length (ms). */
  cpuMicros: number;
  wallMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

const clients: RawClient[] = [];
const probes: RawClient[] = [];
let addressCursor = 0;
const LOOP_RESOLUTION_MS = 10;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loopDelay.enable();
let windowStart = { cpu: process.cpuUsage(), wall: performance.now() };

async function connectAll(raw: unknown): Promise<{ clients: number; failed: number; firstError: string | null }> {
  const args = raw as ConnectArgs;
  const concurrency = args.concurrency ?? 200;
  // Probes spread evenly through the connection order: the hub writes to sockets in subscription order, so probes
  // bunched at the front would see only the first writes of each flush.
  const total = args.probes + args.counting;
  const jobs: boolean[] = Array<boolean>(total).fill(false);
  for (let k = 0; k < args.probes; k++) jobs[Math.floor(((k + 0.5) * total) / args.probes)] = true;
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next++;
      const probe = jobs[index] === true;
      const ports = args.ports && args.ports.length > 0 ? args.ports : [args.port];
      const port = ports[Math.floor((index * ports.length) / jobs.length)] as number;
      const localAddress = args.localAddresses[addressCursor++ % args.localAddresses.length];
      const client = new RawClient({
        host: '127.0.0.1',
        port,
        transport: args.transport,
        localAddress,
        probe,
        subscribe: args.subscribe,
      });
      try {
        await client.ready;
        (probe ? probes : clients).push(client);
      } catch (err) {
        failed += 1;
        firstError ??= err instanceof Error ? err.message : String(err);
        client.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  return { clients: clients.length + probes.length, failed, firstError };
}

function resetWindow(): void {
  for (const c of clients) c.resetCount();
  for (const c of probes) c.resetCount();
  loopDelay.reset();
  windowStart = { cpu: process.cpuUsage(), wall: performance.now() };
}

function report(raw: unknown): LoadReport {
  const { samples: wantSamples = true } = (raw ?? {}) as { samples?: boolean };
  const cpu = process.cpuUsage(windowStart.cpu);
  let events = 0;
  let frames = 0;
  // A load generator without clients reports no minimum (null), not zero.
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let open = 0;
  let closedByServer = 0;
  const samples: ProbeSample[] = [];
  for (const list of [probes, clients]) {
    for (const c of list) {
      events += c.events;
      frames += c.frames;
      if (c.events < min) min = c.events;
      if (c.events > max) max = c.events;
      if (c.closed) closedByServer += 1;
      else open += 1;
    }
  }
  if (wantSamples) for (const p of probes) for (const s of p.samples) samples.push(s);
  return {
    clients: clients.length + probes.length,
    open,
    closedByServer,
    events,
    minEvents: Number.isFinite(min) ? min : null,
    maxEvents: max,
    frames,
    samples,
    cpuMicros: cpu.user + cpu.system,
    wallMs: performance.now() - windowStart.wall,
    // The histogram records whole timer periods; the lag is what exceeds the sampling resolution.
    loopDelayP99Ms: loopDelay.count > 0 ? Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS) : 0,
    loopDelayMaxMs: loopDelay.count > 0 ? Math.max(0, loopDelay.max / 1e6 - LOOP_RESOLUTION_MS) : 0,
  };
}

/** Plain TCP readers for the machine-floor measurement: they read and discard, like a counting client's kernel path. */
const floorSockets: Socket[] = [];
let floorBytes = 0;

async function floorConnect(raw: unknown): Promise<{ connected: number; failed: number }> {
  const args = raw as { port: number; count: number; localAddresses: string[] };
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < args.count) {
      const localAddress = args.localAddresses[next++ % args.localAddresses.length];
      const socket = connect({ host: '127.0.0.1', port: args.port, localAddress });
      socket.on('data', (chunk: Buffer) => (floorBytes += chunk.length));
      socket.on('error', () => undefined);
      const ok = await new Promise<boolean>((resolve) => {
        socket.once('connect', () => resolve(true));
        socket.once('error', () => resolve(false));
      });
      if (ok) floorSockets.push(socket);
      else failed += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(200, args.count) }, worker));
  return { connected: floorSockets.length, failed };
}

function floorClose(): { bytes: number } {
  for (const socket of floorSockets.splice(0)) socket.destroy();
  const bytes = floorBytes;
  floorBytes = 0;
  return { bytes };
}

async function closeAll(): Promise<void> {
  for (const c of [...clients, ...probes]) c.close();
  clients.length = 0;
  probes.length = 0;
  // Let the close frames go out before the process (or the next phase) moves on.
  await new Promise((resolve) => setTimeout(resolve, 200));
}

serve(
  {
    connect: connectAll,
    reset: resetWindow,
    report,
    closeAll,
    floorConnect,
    floorClose,
  },
  () => {
    for (const c of [...clients, ...probes]) c.destroy();
    for (const socket of floorSockets.splice(0)) socket.destroy();
    loopDelay.disable();
    return Promise.resolve();
  },
);
