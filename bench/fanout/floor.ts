import { Child } from './ipc.js';
import { sourceAddresses } from './raw-client.js';
import { median } from './stats.js';

/*
 * The machine floor of fan-out: what writing one small frame to each of N loopback TCP sockets costs on this
 * machine with no product code at all. A server process (bench/fanout/server.ts, not started as an API) accepts
 * plain sockets from the load-generator processes, which read and discard; it times a bare loop of
 * `socket.write(sameBuffer)` over the first N sockets, and the same loop written the way ws.send frames a
 * message (cork, header, payload, uncork). No fan-out to N sockets can finish faster than this loop.
 */

/** One timed pass of writes: wall ms of the loop and the process CPU it used (µs, and its kernel part). */
export interface FloorPass {
  ms: number;
  cpuUs: number;
  sysUs: number;
}

export interface FloorPlan {
  counts: number[];
  /** Timed passes per count and variant (after one warm-up pass). */
  rounds: number;
  /** Frame size in bytes (header included). */
  bytes: number;
}

export interface FloorResult {
  clients: number;
  bytes: number;
  /** One `write(frame)` per socket. */
  write: FloorPass[];
  /** `cork(); write(header); write(payload); uncork()` per socket (ws.send's pattern). */
  cork: FloorPass[];
}

/** Runs the floor measurement in its own server and load-generator processes, then stops them. */
export async function measureFloor(
  plan: FloorPlan,
  loadgens: number,
  log: (line: string) => void,
): Promise<FloorResult[]> {
  const children: Child[] = [];
  try {
    const server = await Child.start('floor-server', './server.ts');
    children.push(server);
    const { port } = await server.call<{ port: number }>('floorListen');
    const generators: Child[] = [];
    for (let g = 0; g < loadgens; g++) {
      const child = await Child.start(`floor-loadgen${g}`, './loadgen.ts');
      children.push(child);
      generators.push(child);
    }
    const total = Math.max(...plan.counts);
    const answers = await Promise.all(
      generators.map((g, i) =>
        g.call<{ connected: number; failed: number }>(
          'floorConnect',
          {
            port,
            count: Math.floor(total / loadgens) + (i < total % loadgens ? 1 : 0),
            localAddresses: sourceAddresses(i, loadgens),
          },
          120_000,
        ),
      ),
    );
    const failed = answers.reduce((n, a) => n + a.failed, 0);
    if (failed > 0) throw new Error(`floor: ${failed} sockets failed to connect`);
    // Readers in different processes connect in interleaved order: the first N accepted are spread over them.
    const results = await server.call<FloorResult[]>('floorMeasure', plan, 120_000);
    for (const r of results) {
      const w = median(r.write.map((p) => p.ms));
      const c = median(r.cork.map((p) => p.ms));
      log(
        `   floor: ${r.clients.toLocaleString('en-US')} sockets × ${r.bytes} B: write ${w.toFixed(1)} ms/round ` +
          `(${((w * 1000) / r.clients).toFixed(1)} µs/socket), cork+2 writes ${c.toFixed(1)} ms/round (${((c * 1000) / r.clients).toFixed(1)} µs/socket)`,
      );
    }
    await Promise.all(generators.map((g) => g.call('floorClose')));
    return results;
  } finally {
    for (const child of [...children].reverse()) await child.stop();
  }
}
