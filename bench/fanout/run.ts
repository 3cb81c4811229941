import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureFloor, type FloorResult } from './floor.js';
import { runHarness, type HarnessOptions, type RunResult } from './harness.js';
import { raisePriority } from './ipc.js';
import { profileTable, type CpuProfile } from './profile.js';
import type { Transport } from './raw-client.js';
import { latencyChart, machine, markdown, summarizeRuns } from './report.js';

/*
 * `npm run bench` (fan-out part): server and load generators in separate processes, both transports
 * interleaved A B A B, results to bench/results/fanout.{json,md} and fanout-latency.svg.
 * BENCH_QUICK=1 runs one pair at smaller sizes; BENCH_PROFILE=1 also samples the server's CPU during the
 * ws throughput step at the largest client count and writes bench/results/fanout-profile.md.
 */

/**
 * Two benchmark runs at once on two cores would each measure the other: the second one refuses to start.
 * The lock names the holder's pid; a lock left by a dead process is taken over.
 */
function takeLock(): void {
  const lock = fileURLToPath(new URL('../results/tmp/fanout.lock', import.meta.url));
  mkdirSync(dirname(lock), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      process.on('exit', () => rmSync(lock, { force: true }));
      return;
    } catch {
      const holder = Number(readFileSync(lock, 'utf8'));
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        console.error(`Another fan-out benchmark (pid ${holder}) is running; refusing to measure alongside it.`);
        process.exit(2);
      }
      rmSync(lock, { force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const quick = process.env.BENCH_QUICK === '1';
const profiling = process.env.BENCH_PROFILE === '1';
// BENCH_CLIENTS=5000,10000 and BENCH_TRANSPORTS=ws (or ws,sio,…: the run order) narrow a development run.
const clientsKnob = listKnob('BENCH_CLIENTS').map(Number);
const transportsKnob = listKnob('BENCH_TRANSPORTS');
if (clientsKnob.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('BENCH_CLIENTS: positive integers');
if (transportsKnob.some((t) => t !== 'ws' && t !== 'sio')) throw new Error('BENCH_TRANSPORTS: ws and/or sio');
const narrowed = quick || clientsKnob.length > 0 || transportsKnob.length > 0;
// Anything but the full run writes under results/tmp/ (gitignored), so a development run never replaces the
// committed figures; BENCH_OUT names that output (default "fanout-dev").
const outName = process.env.BENCH_OUT ?? (narrowed ? 'fanout-dev' : 'fanout');
if (!/^[\w.-]+$/.test(outName)) throw new Error('BENCH_OUT: a plain file name');
const resultsDir = fileURLToPath(
  new URL(narrowed || outName !== 'fanout' ? '../results/tmp/' : '../results/', import.meta.url),
);
const profileFile = fileURLToPath(new URL('../results/tmp/fanout-ws-10000.cpuprofile', import.meta.url));
const clientCounts = clientsKnob.length > 0 ? clientsKnob : quick ? [1, 1000, 5000] : [1, 1000, 5000, 10_000];

function listKnob(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

// BENCH_API_PROCESSES=K: the main runs split their clients over K API processes (default 1). BENCH_SCALE_OUT=K:
// after the main runs, one A B pair at the largest client count with K API processes (default 2 on the full run,
// off on a narrowed one; 0 turns it off).
const apiProcesses = Number(process.env.BENCH_API_PROCESSES ?? '1');
const scaleOutServers = Number(process.env.BENCH_SCALE_OUT ?? (narrowed ? '0' : '2'));
if (!Number.isInteger(apiProcesses) || apiProcesses < 1 || apiProcesses > 8)
  throw new Error('BENCH_API_PROCESSES: 1 to 8');
if (!Number.isInteger(scaleOutServers) || scaleOutServers < 0 || scaleOutServers > 8)
  throw new Error('BENCH_SCALE_OUT: 0 to 8');

const options: HarnessOptions = {
  runs: (transportsKnob.length > 0
    ? transportsKnob
    : quick
      ? ['ws', 'sio']
      : ['ws', 'sio', 'ws', 'sio']) as Transport[],
  clientCounts,
  probes: 100,
  loadgens: 2,
  latencyWrites: quick ? 4 : 6,
  latencyIntervalMs: 1000,
  throughput: {
    targets: [10_000, 20_000, 35_000, 50_000, 70_000, 100_000, 140_000, 200_000, 280_000],
    stepMs: quick ? 2000 : 3000,
    maxSteps: 3,
    p99BoundMs: 250,
  },
  post: { concurrency: 10, durationMs: quick ? 2000 : 4000, fanoutClients: 1000, fanoutWritesPerSecond: 50 },
  maxLoadgenCpu: 0.9,
  maxLoadgenLagMs: 50,
  profile: profiling ? { transport: 'ws', clients: Math.max(...clientCounts), file: profileFile } : null,
  servers: apiProcesses,
  scaleOut:
    scaleOutServers > 0 && scaleOutServers !== apiProcesses
      ? {
          servers: scaleOutServers,
          clientCounts: [Math.max(...clientCounts)],
          runs: transportsKnob.length > 0 ? [...new Set(transportsKnob as Transport[])] : ['ws', 'sio'],
          extraSteps: 1,
        }
      : null,
  log: (line) => console.log(line),
};

raisePriority(process.pid);
if (process.env.BENCH_REPORT_ONLY !== '1') takeLock();
const started = Date.now();
// BENCH_REPORT_ONLY=1 rebuilds the Markdown and SVG from the last fanout.json (no measurement).
const previous =
  process.env.BENCH_REPORT_ONLY === '1'
    ? (JSON.parse(await readFile(`${resultsDir}${outName}.json`, 'utf8')) as {
        results: RunResult[];
        floor?: FloorResult[];
        totalSeconds?: number;
      })
    : null;
// The machine floor first (a few seconds; BENCH_FLOOR=0 skips it): the bare kernel cost the fan-out sits on.
const floor =
  previous?.floor ??
  (previous === null && process.env.BENCH_FLOOR !== '0'
    ? await measureFloor({ counts: [1000, 5000, 10_000], rounds: 5, bytes: 300 }, options.loadgens, options.log)
    : []);
const results = previous ? previous.results : await runHarness(options);
const totalSeconds = previous?.totalSeconds ?? (Date.now() - started) / 1000;
const summary = summarizeRuns(results, clientCounts);
const notes = [
  `Processes: the engine (${process.env.BENCH_DURABLE === '1' ? 'durable, journalling to a temp dir' : 'in memory; BENCH_DURABLE=1 journals to disk — engine.md has the durable figures'}), the API server (buildApp, transport switched by bench/fanout/server.ts), ` +
    `${options.loadgens} load generators (raw sockets; ${options.probes} probes parse and timestamp, the rest count \`"type":"order.\` occurrences), ` +
    'and the orchestrator, which writes straight to the engine with the official driver (w: majority). All on 127.0.0.1, 2 cores shared.',
  `Scenario 1 writes ${options.latencyWrites} orders at 1/s at each client count, after one unmeasured write (the first fan-out to freshly connected sockets is a one-off, slower); scenario 2 steps the write rate up (${options.throughput?.stepMs ?? 0} ms per step) and stops at the first step that misses p99 ≤ 250 ms, loses a delivery, or finds a load generator saturated (> ${options.maxLoadgenCpu * 100}% CPU or loop lag p99 > ${options.maxLoadgenLagMs} ms: the step is refused).`,
  'Cross-process timestamps use performance.timeOrigin + now(); skew between processes is well under a millisecond (fan-out done→probe can read slightly negative).',
  `Total time ${totalSeconds.toFixed(0)} s. Process priority: ${process.env.BENCH_PRIORITY ? `nice ${process.env.BENCH_PRIORITY} for every benchmark process (BENCH_PRIORITY), ahead of other jobs on this shared machine` : 'default (other jobs on the machine compete; see "other procs" per step)'}.`,
];
await mkdir(resultsDir, { recursive: true });
await writeFile(
  `${resultsDir}${outName}.json`,
  JSON.stringify(
    { machine: machine(), options: { ...options, log: undefined }, totalSeconds, summary, floor, results },
    null,
    1,
  ),
);
let md = markdown(results, summary, machine(), notes, floor);
if (profiling && existsSync(profileFile)) {
  const profile = JSON.parse(await readFile(profileFile, 'utf8')) as CpuProfile;
  const table = profileTable(
    `Server CPU profile: ws, ${Math.max(...clientCounts).toLocaleString('en-US')} clients, first throughput step`,
    profile,
    30,
  );
  await writeFile(`${resultsDir}${outName}-profile.md`, `# Fan-out server profile\n\n${table}`);
  md += `\n${table}`;
}
await writeFile(`${resultsDir}${outName}.md`, md);
await writeFile(`${resultsDir}${outName}-latency.svg`, latencyChart(summary));
console.log(`\n${md}`);
