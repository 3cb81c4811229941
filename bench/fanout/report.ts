import { cpus, release, totalmem } from 'node:os';
import type { FloorPass, FloorResult } from './floor.js';
import type { RunResult, StepResult } from './harness.js';
import type { Transport } from './raw-client.js';
import { fmt, fmtRatio, mean, median, ratioOf, type Ratio } from './stats.js';

/** Turns the harness's raw results into the Markdown tables, the target verdicts and the SVG chart. */

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    kernel: release(),
  };
}

const NAMES: Record<Transport, string> = { ws: 'raw WebSocket hub', sio: 'Socket.IO 4' };

/**
 * The main runs (A B A B): those with as many API processes as the first run. Runs with another count are the
 * scale-out scenario (section 5) and stay out of the other tables.
 */
function runsOf(results: RunResult[], transport: Transport): RunResult[] {
  const servers = serversOf(results[0]);
  return results.filter((r) => r.transport === transport && serversOf(r) === servers);
}

function serversOf(r: RunResult | undefined): number {
  return r?.servers ?? 1;
}

/** "A", "B", or "A×2" for a run over two API processes. */
function runLabel(r: RunResult): string {
  return `${r.transport === 'ws' ? 'A' : 'B'}${serversOf(r) > 1 ? `×${serversOf(r)}` : ''}`;
}

/** One row of the scale-out comparison: a transport with K API processes at a client count. */
export interface ScaleOutRow {
  transport: Transport;
  servers: number;
  clients: number;
  runs: number;
  p50: number;
  p99: number;
  p999: number;
  fanoutP99: number;
  lost: number;
  bestDps: number;
  bestCpuUs: number;
}

/** The scale-out scenario next to the main runs at the same client counts (means over runs). */
export function scaleOutRows(results: RunResult[]): ScaleOutRow[] {
  const main = serversOf(results[0]);
  const other = results.filter((r) => serversOf(r) !== main);
  if (other.length === 0) return [];
  const clientCounts = [...new Set(other.flatMap((r) => r.latency.map((l) => l.clients)))].sort((a, b) => a - b);
  const rows: ScaleOutRow[] = [];
  for (const clients of clientCounts) {
    for (const transport of ['ws', 'sio'] as const) {
      for (const servers of [...new Set(results.map(serversOf))].sort((a, b) => a - b)) {
        const runs = results.filter((r) => r.transport === transport && serversOf(r) === servers);
        const steps = latencyAt(runs, clients);
        if (steps.length === 0) continue;
        const best = bestAt(runs, clients);
        rows.push({
          transport,
          servers,
          clients,
          runs: runs.length,
          p50: mean(steps.map((st) => st.segments.total.p50)),
          p99: mean(steps.map((st) => st.segments.total.p99)),
          p999: mean(steps.map((st) => st.segments.total.p999)),
          fanoutP99: mean(steps.map((st) => st.segments.fanout.p99)),
          lost: steps.reduce((n, st) => n + st.lost, 0),
          bestDps: mean(values(best, dps)),
          bestCpuUs: mean(values(best, (st) => st.serverCpuUsPerDelivery)),
        });
      }
    }
  }
  return rows;
}

function latencyAt(runs: RunResult[], clients: number): StepResult[] {
  return runs.flatMap((r) => r.latency.filter((l) => l.clients === clients));
}

function bestAt(runs: RunResult[], clients: number): (StepResult | null)[] {
  return runs.map((r) => r.throughput.find((t) => t.clients === clients)?.best ?? null);
}

/** Deliveries/s offered by a step: its deliveries over the n/rate seconds its n paced writes span. */
function dps(s: StepResult): number {
  return s.deliveries / (s.writes / s.writesPerSecond);
}

function values(steps: (StepResult | null)[], pick: (s: StepResult) => number): number[] {
  return steps.map((s) => (s === null ? Number.NaN : pick(s)));
}

/** Mean with the range over runs, e.g. "12.3 (11.9–12.8)". */
function spread(xs: number[], digits = 1): string {
  const finite = xs.filter((x) => Number.isFinite(x));
  if (finite.length === 0) return '–';
  if (finite.length === 1) return fmt(finite[0] as number, digits);
  return `${fmt(mean(finite), digits)} (${fmt(Math.min(...finite), digits)}–${fmt(Math.max(...finite), digits)})`;
}

export interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean | null;
}

export interface Summary {
  clientCounts: number[];
  latency: {
    clients: number;
    ws: { p50: number; p99: number; p999: number };
    sio: { p50: number; p99: number; p999: number };
  }[];
  throughput: {
    clients: number;
    wsBest: number;
    sioBest: number;
    ratio: Ratio;
    wsCpuUs: number;
    sioCpuUs: number;
    perCpuRatio: Ratio;
  }[];
  memory: { transport: Transport; rssPerConnKB: number; heapPerConnKB: number; clients: number }[];
  /** Server CPU per delivery at the same offered load (clients, target) on both transports, every step counted. */
  matched: { clients: number; target: number; wsCpuUs: number; sioCpuUs: number; perCpuRatio: Ratio }[];
  targets: Target[];
  /** Section 5: the same client count with 1 and with K API processes. */
  scaleOut: ScaleOutRow[];
}

/** Aggregates the runs (mean over repetitions, ratios with per-repetition spread) and judges the targets. */
export function summarizeRuns(results: RunResult[], clientCounts: number[]): Summary {
  const ws = runsOf(results, 'ws');
  const sio = runsOf(results, 'sio');
  const latency = clientCounts.map((clients) => {
    const pick = (runs: RunResult[]) => {
      const steps = latencyAt(runs, clients);
      return {
        p50: mean(steps.map((s) => s.segments.total.p50)),
        p99: mean(steps.map((s) => s.segments.total.p99)),
        p999: mean(steps.map((s) => s.segments.total.p999)),
      };
    };
    return { clients, ws: pick(ws), sio: pick(sio) };
  });
  const throughput = clientCounts
    .filter((c) => ws.some((r) => r.throughput.some((t) => t.clients === c)))
    .map((clients) => {
      const a = bestAt(ws, clients);
      const b = bestAt(sio, clients);
      const dpsA = values(a, dps);
      const dpsB = values(b, dps);
      const cpuA = values(a, (s) => s.serverCpuUsPerDelivery);
      const cpuB = values(b, (s) => s.serverCpuUsPerDelivery);
      return {
        clients,
        wsBest: mean(dpsA),
        sioBest: mean(dpsB),
        ratio: ratioOf(dpsA, dpsB),
        wsCpuUs: mean(cpuA),
        sioCpuUs: mean(cpuB),
        perCpuRatio: ratioOf(
          cpuA.map((x) => 1 / x),
          cpuB.map((x) => 1 / x),
        ),
      };
    });
  const maxClients = Math.max(...clientCounts);
  const memory = (['ws', 'sio'] as const).map((transport) => {
    const rows = runsOf(results, transport).map((r) => r.memory.find((m) => m.clients === maxClients));
    return {
      transport,
      clients: maxClients,
      rssPerConnKB: mean(rows.map((m) => (m ? m.rssPerConnBytes / 1024 : Number.NaN))),
      heapPerConnKB: mean(rows.map((m) => (m ? m.heapPerConnBytes / 1024 : Number.NaN))),
    };
  });

  const stepAt = (r: RunResult, clients: number, target: number): StepResult | null =>
    r.throughput.find((t) => t.clients === clients)?.steps.find((st) => st.targetDps === target) ?? null;
  const loads = [
    ...new Set(ws.flatMap((r) => r.throughput.flatMap((t) => t.steps.map((st) => `${st.clients}:${st.targetDps}`)))),
  ].map((key) => key.split(':').map(Number) as [number, number]);
  const matched = loads
    .map(([clients, target]) => {
      const a = values(
        ws.map((r) => stepAt(r, clients, target)),
        (st) => st.serverCpuUsPerDelivery,
      );
      const b = values(
        sio.map((r) => stepAt(r, clients, target)),
        (st) => st.serverCpuUsPerDelivery,
      );
      return {
        clients,
        target,
        wsCpuUs: mean(a),
        sioCpuUs: mean(b),
        perCpuRatio: ratioOf(
          a.map((x) => 1 / x),
          b.map((x) => 1 / x),
        ),
      };
    })
    .filter((m) => Number.isFinite(m.wsCpuUs) && Number.isFinite(m.sioCpuUs))
    .sort((x, y) => x.clients - y.clients || x.target - y.target);

  const targets: Target[] = [];
  for (const clients of [5000, 10000]) {
    const row = throughput.find((t) => t.clients === clients);
    if (row) {
      targets.push({
        name: `deliveries/s at ${clients.toLocaleString('en-US')} clients, p99 ≤ 250 ms, no loss`,
        target: '≥ 50,000',
        measured: fmt(row.wsBest, 0),
        met: Number.isFinite(row.wsBest) ? row.wsBest >= 50_000 * 0.98 : false,
      });
    }
  }
  const l10k = latency.find((l) => l.clients === 10_000);
  if (l10k) {
    targets.push({
      name: '10,000 clients at 1 change/s, end-to-end',
      target: 'p50 ≤ 20 ms, p99 ≤ 60 ms',
      measured: `p50 ${fmt(l10k.ws.p50)} ms, p99 ${fmt(l10k.ws.p99)} ms`,
      met: l10k.ws.p50 <= 20 && l10k.ws.p99 <= 60,
    });
  }
  const wsMem = memory.find((m) => m.transport === 'ws');
  if (wsMem && ws.length > 0) {
    targets.push({
      name: 'server memory per idle connection (RSS, marginal)',
      target: '≤ 15 KB',
      measured: `${fmt(wsMem.rssPerConnKB)} KB RSS (heap ${fmt(wsMem.heapPerConnKB)} KB)`,
      met: wsMem.rssPerConnKB <= 15,
    });
  }
  if (sio.length > 0 && matched.length > 0) {
    const ratios = matched.map((m) => m.perCpuRatio.ratio).filter((x) => Number.isFinite(x));
    const overall = mean(matched.map((m) => 1 / m.wsCpuUs)) / mean(matched.map((m) => 1 / m.sioCpuUs));
    targets.push({
      name: 'deliveries per server CPU-second vs Socket.IO (same offered load, every step)',
      target: '≥ 1.3×',
      measured:
        `${fmt(overall, 2)}× overall; per load: ` +
        matched
          .map(
            (m) =>
              `${m.clients.toLocaleString('en-US')} clients @${fmt(m.target / 1000, 0)}k/s ${fmtRatio(m.perCpuRatio)}`,
          )
          .join('; '),
      met: ratios.length > 0 ? Math.min(...ratios) >= 1.3 : null,
    });
  }
  if (sio.length > 0 && throughput.length > 0) {
    const served = (transport: Transport): number[] =>
      runsOf(results, transport).map((r) => {
        const ok = r.throughput.filter((t) => t.best !== null && dps(t.best) >= 50_000 * 0.98);
        return ok.length > 0 ? Math.max(...ok.map((t) => t.clients)) : 0;
      });
    const a = served('ws');
    const b = served('sio');
    const ratio = ratioOf(a, b);
    const capped = mean(a) >= maxClients;
    targets.push({
      name: 'clients kept within p99 ≤ 250 ms at 50,000 deliveries/s vs Socket.IO',
      target: '≥ 1.3×',
      measured:
        `ws ${spread(a, 0)}, Socket.IO ${spread(b, 0)}` +
        (Number.isFinite(ratio.ratio) ? ` → ${fmtRatio(ratio)}` : '') +
        (capped ? ` (ws reached the largest count tried, ${maxClients.toLocaleString('en-US')})` : ''),
      met: Number.isFinite(ratio.ratio) ? ratio.ratio >= 1.3 : mean(a) > 0 && mean(b) === 0 ? true : null,
    });
  }
  const posts = ws.map((r) => r.post).filter((p) => p !== null);
  if (posts.length > 0) {
    const aloneRate = mean(posts.map((p) => p.alone.perSecond));
    const aloneP99 = mean(posts.map((p) => p.alone.latency.p99));
    const duringP99 = mean(posts.map((p) => p.duringFanout.latency.p99));
    targets.push({
      name: 'POST /orders alone',
      target: '≥ 2,000/s at p99 ≤ 20 ms',
      measured: `${fmt(aloneRate, 0)}/s, p99 ${fmt(aloneP99)} ms`,
      met: aloneRate >= 2000 && aloneP99 <= 20,
    });
    targets.push({
      name: 'POST /orders p99 during a 50,000 deliveries/s fan-out',
      target: '≤ 2× alone',
      measured: `p99 ${fmt(duringP99)} ms (${fmt(duringP99 / aloneP99, 2)}×), fan-out ${fmt(mean(posts.map((p) => p.duringFanout.fanoutDeliveriesPerSecond)), 0)}/s`,
      met: duringP99 <= 2 * aloneP99,
    });
  }
  return { clientCounts, latency, throughput, memory, matched, targets, scaleOut: scaleOutRows(results) };
}

/** The Markdown report: machine, scenario tables, segments, targets. */
export function markdown(
  results: RunResult[],
  summary: Summary,
  m: Machine,
  notes: string[],
  floor: FloorResult[] = [],
): string {
  const ws = runsOf(results, 'ws');
  const sio = runsOf(results, 'sio');
  const lines: string[] = [];
  lines.push('# Fan-out benchmark', '');
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}. ` +
      `Runs (interleaved): ${results.map(runLabel).join(' ')} — A = ${NAMES.ws}, B = ${NAMES.sio}` +
      (results.some((r) => serversOf(r) > 1) ? '; ×K = K API processes (section 5)' : '') +
      '. ' +
      'Figures are means over the runs of a transport, with the range in parentheses; ratios are A/B of the means with the range of the per-run ratios.',
    '',
  );
  for (const note of notes) lines.push(`- ${note}`);
  lines.push('');

  lines.push('## Targets', '', '| target | required | measured | |', '|---|---|---|---|');
  const floorMax = floor.find((f) => f.clients === Math.max(...floor.map((x) => x.clients)));
  for (const t of summary.targets) {
    lines.push(
      `| ${t.name} | ${t.target} | ${t.measured} | ${t.met === null ? 'n/a' : t.met ? 'met' : '**missed**'} |`,
    );
    if (floorMax && t.name.startsWith('10,000 clients at 1 change/s')) {
      const ms = median(floorMax.write.map((p) => p.ms));
      lines.push(
        `| ↳ machine floor: one ${floorMax.bytes}-byte \`socket.write\` to each of ${floorMax.clients.toLocaleString('en-US')} loopback sockets, no product code (section 0) | – | ` +
          `${fmt(ms)} ms per round (${fmt((ms * 1000) / floorMax.clients)} µs/socket): the last socket of a flush waits at least this long | floor |`,
      );
    }
  }
  lines.push('');

  if (floor.length > 0) {
    lines.push(
      '## 0. Machine floor: the kernel cost of one small write to each of N loopback sockets',
      '',
      'A process with no product code writes the same Buffer to each of N plain TCP sockets on 127.0.0.1 (readers in the load-generator processes, reading and discarding), ' +
        `${floor[0]?.write.length ?? 0} timed passes per row after a warm-up, each after the previous one drained. "write" = one \`socket.write(frame)\` per socket (what the hub does); ` +
        '"cork + 2 writes" = `cork(); write(header); write(payload); uncork()` (how `ws.send` writes a frame, one writev). Median ms per pass (range), µs per socket, and the kernel share of the CPU the loop used.',
      '',
      '| sockets | bytes | write ms/pass | write µs/socket | kernel share | cork + 2 writes ms/pass | µs/socket |',
      '|---:|---:|---:|---:|---:|---:|---:|',
    );
    const passes = (ps: FloorPass[]): string => {
      const ms = ps.map((p) => p.ms);
      return `${fmt(median(ms))} (${fmt(Math.min(...ms))}–${fmt(Math.max(...ms))})`;
    };
    for (const f of floor) {
      const w = median(f.write.map((p) => p.ms));
      const c = median(f.cork.map((p) => p.ms));
      const cpu = f.write.reduce((n, p) => n + p.cpuUs, 0);
      const sys = f.write.reduce((n, p) => n + p.sysUs, 0);
      lines.push(
        `| ${f.clients.toLocaleString('en-US')} | ${f.bytes} | ${passes(f.write)} | ${fmt((w * 1000) / f.clients, 1)} | ${cpu > 0 ? `${fmt((sys / cpu) * 100, 0)}%` : '–'} | ` +
          `${passes(f.cork)} | ${fmt((c * 1000) / f.clients, 1)} |`,
      );
    }
    lines.push('');
  }

  lines.push('## 1. Latency at 1 change/s (end-to-end: write sent → event parsed by a probe)', '');
  lines.push(
    '| clients | A p50 ms | A p99 ms | A p99.9 ms | B p50 ms | B p99 ms | B p99.9 ms | p99 B/A |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const row of summary.latency) {
    const a = latencyAt(ws, row.clients);
    const b = latencyAt(sio, row.clients);
    const p99 = ratioOf(
      b.map((s) => s.segments.total.p99),
      a.map((s) => s.segments.total.p99),
    );
    lines.push(
      `| ${row.clients.toLocaleString('en-US')} | ${spread(a.map((s) => s.segments.total.p50))} | ${spread(a.map((s) => s.segments.total.p99))} | ` +
        `${spread(a.map((s) => s.segments.total.p999))} | ${spread(b.map((s) => s.segments.total.p50))} | ${spread(b.map((s) => s.segments.total.p99))} | ` +
        `${spread(b.map((s) => s.segments.total.p999))} | ${fmtRatio(p99)} |`,
    );
  }
  lines.push('');
  lines.push(
    'Segments at 1 change/s, p50 / p99 ms (mean over runs). "server" = the feed handed the event to the hub; "fan-out" = until the last socket write of the flush (A) or `io.emit` returned (B).',
    '',
  );
  lines.push(
    '| transport | clients | sent→ack | sent→server | server→fan-out done | fan-out done→probe | ack→probe | total | lost |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const [transport, runs] of [
    ['A', ws],
    ['B', sio],
  ] as const) {
    for (const clients of summary.clientCounts) {
      const steps = latencyAt(runs, clients);
      if (steps.length === 0) continue;
      const seg = (k: keyof StepResult['segments']) =>
        `${fmt(mean(steps.map((s) => s.segments[k].p50)))} / ${fmt(mean(steps.map((s) => s.segments[k].p99)))}`;
      lines.push(
        `| ${transport} | ${clients.toLocaleString('en-US')} | ${seg('sentToAck')} | ${seg('sentToServer')} | ${seg('fanout')} | ${seg('fanoutToProbe')} | ${seg('ackToProbe')} | ${seg('total')} | ${steps.reduce((n, s) => n + s.lost, 0)} |`,
      );
    }
  }
  lines.push('');

  if (summary.throughput.length > 0) {
    lines.push('## 2. Highest deliveries/s with p99 ≤ 250 ms and no lost frame', '');
    lines.push(
      '| clients | A deliveries/s | B deliveries/s | A/B | A server CPU-µs/delivery | B server CPU-µs/delivery | deliveries per CPU-s A/B |',
      '|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const t of summary.throughput) {
      const a = bestAt(ws, t.clients);
      const b = bestAt(sio, t.clients);
      lines.push(
        `| ${t.clients.toLocaleString('en-US')} | ${spread(values(a, dps), 0)} | ${spread(
          values(b, dps),
          0,
        )} | ${fmtRatio(t.ratio)} | ` +
          `${spread(
            values(a, (s) => s.serverCpuUsPerDelivery),
            2,
          )} | ${spread(
            values(b, (s) => s.serverCpuUsPerDelivery),
            2,
          )} | ${fmtRatio(t.perCpuRatio)} |`,
      );
    }
    if (summary.matched.length > 0) {
      lines.push(
        '',
        'Server CPU per delivery at the same offered load on both transports (every step, pass or not; mean over runs):',
        '',
        '| clients | target deliveries/s | A CPU-µs/delivery | B CPU-µs/delivery | deliveries per CPU-s A/B |',
        '|---:|---:|---:|---:|---:|',
      );
      for (const m of summary.matched) {
        lines.push(
          `| ${m.clients.toLocaleString('en-US')} | ${m.target.toLocaleString('en-US')} | ${fmt(m.wsCpuUs, 2)} | ${fmt(m.sioCpuUs, 2)} | ${fmtRatio(m.perCpuRatio)} |`,
        );
      }
    }
    lines.push(
      '',
      'Every step (target deliveries/s → measured; e2e p50/p99 ms; server CPU share of a core, kernel part; CPU used by other processes on the machine; load-generator CPU share and loop-lag p99; verdict):',
      '',
    );
    lines.push(
      '| run | clients | target/s | writes/s | deliveries/s | events/frame | p50 | p99 | server CPU | CPU-µs/deliv. | other procs | loadgen CPU / lag p99 | verdict |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
    );
    results.forEach((r, i) => {
      for (const sweep of r.throughput) {
        for (const s of sweep.steps) {
          lines.push(
            `| ${i + 1}${runLabel(r)} | ${s.clients.toLocaleString('en-US')} | ${s.targetDps.toLocaleString('en-US')} | ${fmt(s.writesPerSecond, 1)} | ${fmt(dps(s), 0)} | ${fmt(s.deliveriesPerSecond / s.framesPerSecond, 2)} | ` +
              `${fmt(s.segments.total.p50)} | ${fmt(s.segments.total.p99)} | ${fmt(s.serverCpuShare * 100, 0)}% (${fmt(s.serverSystemShare * 100, 0)}% sys) | ${fmt(s.serverCpuUsPerDelivery, 2)} | ${fmt(s.foreignCpuShare * 100, 0)}% | ` +
              `${s.loadgen.map((l) => `${fmt(l.cpuShare * 100, 0)}%/${fmt(l.lagP99Ms, 0)}ms`).join(', ')} | ${s.verdict} |`,
          );
        }
      }
    });
    lines.push('');
  }

  lines.push('## 3. Server memory per idle connection (after GC, marginal over each batch of added clients)', '');
  lines.push(
    '| transport | clients after | added | RSS KB/conn | heap KB/conn | external KB/conn |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const [name, runs] of [
    ['A', ws],
    ['B', sio],
  ] as const) {
    const counts = [...new Set(runs.flatMap((r) => r.memory.map((mm) => mm.clients)))].filter((c) => c >= 1000);
    for (const clients of counts) {
      const rows = runs.map((r) => r.memory.find((mm) => mm.clients === clients)).filter((mm) => mm !== undefined);
      lines.push(
        `| ${name} | ${clients.toLocaleString('en-US')} | ${rows[0]?.added.toLocaleString('en-US') ?? '–'} | ${spread(rows.map((mm) => mm.rssPerConnBytes / 1024))} | ` +
          `${spread(rows.map((mm) => mm.heapPerConnBytes / 1024))} | ${spread(rows.map((mm) => mm.externalPerConnBytes / 1024))} |`,
      );
    }
  }
  lines.push('');

  const posts = ws.map((r) => r.post).filter((p) => p !== null);
  if (posts.length > 0) {
    lines.push('## 4. `POST /orders` (A only; closed loop, keep-alive)', '');
    lines.push('| phase | requests/s | p50 ms | p99 ms | p99.9 ms | errors |', '|---|---:|---:|---:|---:|---:|');
    lines.push(
      `| alone | ${spread(
        posts.map((p) => p.alone.perSecond),
        0,
      )} | ${spread(posts.map((p) => p.alone.latency.p50))} | ${spread(posts.map((p) => p.alone.latency.p99))} | ${spread(posts.map((p) => p.alone.latency.p999))} | ${posts.reduce((n, p) => n + p.alone.errors, 0)} |`,
    );
    lines.push(
      `| during fan-out (${spread(
        posts.map((p) => p.duringFanout.fanoutDeliveriesPerSecond),
        0,
      )} deliveries/s, fan-out p99 ${spread(posts.map((p) => p.duringFanout.fanoutP99Ms))} ms, lost ${posts.reduce((n, p) => n + p.duringFanout.fanoutLost, 0)}) | ` +
        `${spread(
          posts.map((p) => p.duringFanout.perSecond),
          0,
        )} | ${spread(posts.map((p) => p.duringFanout.latency.p50))} | ${spread(posts.map((p) => p.duringFanout.latency.p99))} | ${spread(posts.map((p) => p.duringFanout.latency.p999))} | ${posts.reduce((n, p) => n + p.duringFanout.errors, 0)} |`,
    );
    lines.push('');
  }
  if (summary.scaleOut.length > 0) {
    lines.push(
      '## 5. Several API processes (scale-out: each its own change stream, no broker)',
      '',
      'The same engine, K API server processes, each with its own change stream and its own clients (split evenly; probes spread over all of them); Socket.IO needs no adapter either, ' +
        "since each process broadcasts its own stream's events to its own clients. Latency at 1 change/s; the highest deliveries/s step with p99 ≤ 250 ms and no lost frame; " +
        'server CPU summed over the K processes (the every-step table in section 2 lists these runs as ×K, with the summed CPU share). All processes share the same 2 cores.',
      '',
      '| transport | API processes | clients | runs | e2e p50 ms | e2e p99 ms | e2e p99.9 ms | fan-out p99 ms (per process) | lost | best deliveries/s | server CPU-µs/delivery (sum) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const row of summary.scaleOut) {
      lines.push(
        `| ${row.transport === 'ws' ? 'A' : 'B'} | ${row.servers} | ${row.clients.toLocaleString('en-US')} | ${row.runs} | ${fmt(row.p50)} | ${fmt(row.p99)} | ${fmt(row.p999)} | ` +
          `${fmt(row.fanoutP99)} | ${row.lost} | ${Number.isFinite(row.bestDps) ? fmt(row.bestDps, 0) : '–'} | ${Number.isFinite(row.bestCpuUs) ? fmt(row.bestCpuUs, 2) : '–'} |`,
      );
    }
    lines.push('');
  }
  lines.push('![latency against clients](fanout-latency.svg)', '');
  return lines.join('\n');
}

/** A hand-written SVG line chart: end-to-end p50 and p99 at 1 change/s against clients, both transports. */
export function latencyChart(summary: Summary): string {
  const width = 640;
  const height = 360;
  const left = 60;
  const right = 150;
  const top = 30;
  const bottom = 50;
  const rows = summary.latency;
  const all = rows.flatMap((r) => [r.ws.p99, r.sio.p99, r.ws.p50, r.sio.p50]).filter((v) => Number.isFinite(v));
  const niceMax = niceCeil(Math.max(10, ...all));
  const x = (i: number): number => left + (rows.length <= 1 ? 0 : (i * (width - left - right)) / (rows.length - 1));
  const y = (v: number): number => top + (height - top - bottom) * (1 - v / niceMax);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="18" font-size="14" font-weight="bold">End-to-end latency at 1 change/s vs connected clients</text>`,
  );
  for (let k = 0; k <= 5; k++) {
    const v = (niceMax * k) / 5;
    out.push(
      `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v, 0)}</text>`,
    );
  }
  out.push(
    `<text x="14" y="${(top + height - bottom) / 2}" transform="rotate(-90 14 ${(top + height - bottom) / 2})" text-anchor="middle">ms</text>`,
  );
  rows.forEach((r, i) => {
    out.push(
      `<text x="${x(i)}" y="${height - bottom + 18}" text-anchor="middle">${r.clients.toLocaleString('en-US')}</text>`,
    );
  });
  out.push(
    `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">clients (categorical axis)</text>`,
  );
  const series: { label: string; color: string; dash: string; pick: (r: Summary['latency'][number]) => number }[] = [
    { label: 'raw WS p50', color: '#1f77b4', dash: '', pick: (r) => r.ws.p50 },
    { label: 'raw WS p99', color: '#1f77b4', dash: '6 4', pick: (r) => r.ws.p99 },
    { label: 'Socket.IO p50', color: '#d62728', dash: '', pick: (r) => r.sio.p50 },
    { label: 'Socket.IO p99', color: '#d62728', dash: '6 4', pick: (r) => r.sio.p99 },
  ];
  series.forEach((s, k) => {
    const points = rows
      .map((r, i) => [x(i), s.pick(r)] as const)
      .filter(([, v]) => Number.isFinite(v))
      .map(([px, v]) => `${px.toFixed(1)},${y(v).toFixed(1)}`);
    if (points.length > 0) {
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}" points="${points.join(' ')}"/>`,
      );
      for (const p of points) {
        const [px, py] = p.split(',');
        out.push(`<circle cx="${px}" cy="${py}" r="3" fill="${s.color}"/>`);
      }
    }
    const ly = top + 10 + k * 20;
    out.push(
      `<line x1="${width - right + 15}" x2="${width - right + 45}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`,
      `<text x="${width - right + 50}" y="${ly + 4}">${s.label}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function niceCeil(v: number): number {
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}
