import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHarness, type HarnessOptions, type RunResult } from './harness.js';
import { raisePriority } from './ipc.js';
import { profileTable, type CpuProfile } from './profile.js';
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
const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
const profileFile = fileURLToPath(new URL('../results/tmp/fanout-ws-10000.cpuprofile', import.meta.url));
const clientCounts = quick ? [1, 1000, 5000] : [1, 1000, 5000, 10_000];

const options: HarnessOptions = {
  runs: quick ? ['ws', 'sio'] : ['ws', 'sio', 'ws', 'sio'],
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
  log: (line) => console.log(line),
};

raisePriority(process.pid);
if (process.env.BENCH_REPORT_ONLY !== '1') takeLock();
const started = Date.now();
// BENCH_REPORT_ONLY=1 rebuilds the Markdown and SVG from the last fanout.json (no measurement).
const previous =
  process.env.BENCH_REPORT_ONLY === '1'
    ? (JSON.parse(await readFile(`${resultsDir}fanout.json`, 'utf8')) as {
        results: RunResult[];
        totalSeconds?: number;
      })
    : null;
const results = previous ? previous.results : await runHarness(options);
const totalSeconds = previous?.totalSeconds ?? (Date.now() - started) / 1000;
const summary = summarizeRuns(results, clientCounts);
const notes = [
  `Processes: the engine (${process.env.BENCH_DURABLE === '1' ? 'durable, journalling to a temp dir' : 'in memory; BENCH_DURABLE=1 journals to disk — engine.md has the durable figures'}), the API server (buildApp, transport switched by bench/fanout/server.ts), ` +
    `${options.loadgens} load generators (raw sockets; ${options.probes} probes parse and timestamp, the rest count \`"type":"order.\` occurrences), ` +
    'and the orchestrator, which writes straight to the engine with the official driver (w: majority). All on 127.0.0.1, 2 cores shared.',
  `Scenario 1 writes ${options.latencyWrites} orders at 1/s at each client count; scenario 2 steps the write rate up (${options.throughput?.stepMs ?? 0} ms per step) and stops at the first step that misses p99 ≤ 250 ms, loses a delivery, or finds a load generator saturated (> ${options.maxLoadgenCpu * 100}% CPU or loop lag p99 > ${options.maxLoadgenLagMs} ms: the step is refused).`,
  'Cross-process timestamps use performance.timeOrigin + now(); skew between processes is well under a millisecond (fan-out done→probe can read slightly negative).',
  `Total time ${totalSeconds.toFixed(0)} s. Process priority: ${process.env.BENCH_PRIORITY ? `nice ${process.env.BENCH_PRIORITY} for every benchmark process (BENCH_PRIORITY), ahead of other jobs on this shared machine` : 'default (other jobs on the machine compete; see "other procs" per step)'}.`,
];
await mkdir(resultsDir, { recursive: true });
await writeFile(
  `${resultsDir}fanout.json`,
  JSON.stringify(
    { machine: machine(), options: { ...options, log: undefined }, totalSeconds, summary, results },
    null,
    1,
  ),
);
let md = markdown(results, summary, machine(), notes);
if (profiling && existsSync(profileFile)) {
  const profile = JSON.parse(await readFile(profileFile, 'utf8')) as CpuProfile;
  const table = profileTable(
    `Server CPU profile: ws, ${Math.max(...clientCounts).toLocaleString('en-US')} clients, first throughput step`,
    profile,
    30,
  );
  await writeFile(`${resultsDir}fanout-profile.md`, `# Fan-out server profile\n\n${table}`);
  md += `\n${table}`;
}
await writeFile(`${resultsDir}fanout.md`, md);
await writeFile(`${resultsDir}fanout-latency.svg`, latencyChart(summary));
console.log(`\n${md}`);
