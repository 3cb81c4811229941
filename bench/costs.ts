import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureHistoryFloor } from './costs-floor.js';

/*
 * What the order history and the metrics cost: the fan-out harness (bench/fanout/run.ts) run with the API
 * without them (BENCH_COSTS=before: HISTORY_RECORD=0, no metrics) and with them (BENCH_COSTS=after: history
 * recorded, METRICS_TOKEN set), and compared side by side: `POST /orders` per second (alone, and during a fan-out),
 * the CPU each request costs the API and the engine, and the highest fan-out deliveries per second per client
 * count. Both sides have the same process layout (a fresh engine process, one API process, the load generators);
 * rounds alternate which side goes first (before, after, after, before, …) so a machine getting busier or quieter
 * during the run weighs on both. Figures are medians over the rounds, with their range.
 *
 *   node --import tsx --conditions=@orders/source bench/costs.ts [--rounds 3] [--quick] [--clients 1000,5000]
 *
 * Output: bench/results/costs.{md,json} on a full run, bench/results/tmp/costs-dev.{md,json} on a narrowed one.
 */

type Side = 'before' | 'after';

interface Figures {
  postAlonePerSecond: number | null;
  postDuringFanoutPerSecond: number | null;
  /** CPU µs per `POST /orders` measured alone, in the API process and in the engine. */
  postServerCpuUs: number | null;
  postEngineCpuUs: number | null;
  /** CPU used by other jobs on the machine while `POST /orders` was measured alone, in cores. */
  postForeignCpu: number | null;
  /** Highest deliveries/s that met the bound, by client count. */
  deliveriesPerSecond: Record<string, number | null>;
  /**
   * Server CPU µs per delivery at the first throughput step, by client count: less sensitive than the rates to
   * other processes competing for the cores.
   */
  cpuMicrosPerDelivery: Record<string, number | null>;
}

interface FanoutJson {
  results: {
    transport: string;
    post: {
      alone: {
        perSecond: number;
        serverCpuUsPerRequest?: number;
        engineCpuUsPerRequest?: number;
        foreignCpuShare?: number;
      };
      duringFanout: { perSecond: number };
    } | null;
    throughput: {
      clients: number;
      best: { deliveriesPerSecond: number } | null;
      steps: { serverCpuUsPerDelivery: number }[];
    }[];
  }[];
}

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    clients: { type: 'string' },
  },
  strict: true,
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) throw new Error('--rounds: an integer from 1 to 10');
if (values.clients !== undefined && !/^\d+(,\d+)*$/.test(values.clients)) {
  throw new Error('--clients: a comma list of client counts, e.g. 1000,5000');
}
const narrowed = values.quick || values.clients !== undefined;
const resultsDir = fileURLToPath(new URL(narrowed ? './results/tmp/' : './results/', import.meta.url));
const tmpDir = fileURLToPath(new URL('./results/tmp/', import.meta.url));
const outName = narrowed ? 'costs-dev' : 'costs';

/** One fan-out run for one side; resolves with its figures. */
async function runSide(side: Side, round: number): Promise<Figures> {
  const name = `costs-${side}-${String(round)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BENCH_COSTS: side,
    BENCH_OUT: name,
    BENCH_TRANSPORTS: 'ws',
    BENCH_SCALE_OUT: '0',
    BENCH_FLOOR: '0',
    ...(values.quick && { BENCH_QUICK: '1' }),
    ...(values.clients !== undefined && { BENCH_CLIENTS: values.clients }),
  };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@orders/source', fileURLToPath(new URL('./fanout/run.ts', import.meta.url))],
      { env, stdio: 'inherit' },
    );
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`fan-out run ${name} exited ${String(code)}`)),
    );
  });
  const json = JSON.parse(await readFile(`${tmpDir}${name}.json`, 'utf8')) as FanoutJson;
  const ws = json.results.filter((result) => result.transport === 'ws');
  const figures: Figures = {
    postAlonePerSecond: null,
    postDuringFanoutPerSecond: null,
    postServerCpuUs: null,
    postEngineCpuUs: null,
    postForeignCpu: null,
    deliveriesPerSecond: {},
    cpuMicrosPerDelivery: {},
  };
  for (const result of ws) {
    if (result.post !== null) {
      figures.postAlonePerSecond = result.post.alone.perSecond;
      figures.postDuringFanoutPerSecond = result.post.duringFanout.perSecond;
      figures.postServerCpuUs = result.post.alone.serverCpuUsPerRequest ?? null;
      figures.postEngineCpuUs = result.post.alone.engineCpuUsPerRequest ?? null;
      const foreign = result.post.alone.foreignCpuShare;
      figures.postForeignCpu = foreign === undefined || Number.isNaN(foreign) ? null : foreign;
    }
    for (const step of result.throughput) {
      figures.deliveriesPerSecond[String(step.clients)] = step.best?.deliveriesPerSecond ?? null;
      figures.cpuMicrosPerDelivery[String(step.clients)] = step.steps[0]?.serverCpuUsPerDelivery ?? null;
    }
  }
  return figures;
}

function median(values: (number | null)[]): number | null {
  const known = values.filter((value): value is number => value !== null).sort((a, b) => a - b);
  if (known.length === 0) return null;
  const middle = Math.floor(known.length / 2);
  return known.length % 2 === 1 ? known[middle]! : (known[middle - 1]! + known[middle]!) / 2;
}

function cell(value: number | null): string {
  if (value === null) return '—';
  return value < 100 ? value.toFixed(2) : Math.round(value).toLocaleString('en-US');
}

/** The median, with the range over the rounds when there are several. */
function spread(values: (number | null)[]): string {
  const known = values.filter((value): value is number => value !== null);
  if (known.length < 2) return cell(median(values));
  return `${cell(median(values))} (${cell(Math.min(...known))}–${cell(Math.max(...known))})`;
}

function change(before: number | null, after: number | null): string {
  if (before === null || after === null || before === 0) return '—';
  const percent = ((after - before) / before) * 100;
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(1)}%`;
}

const runs: Record<Side, Figures[]> = { before: [], after: [] };
for (let round = 1; round <= rounds; round++) {
  // Odd rounds before first, even rounds after first: a trend in the machine's load falls on both sides.
  const order: Side[] = round % 2 === 1 ? ['before', 'after'] : ['after', 'before'];
  for (const side of order) {
    process.stdout.write(`\n[costs] round ${String(round)}/${String(rounds)}: ${side}\n`);
    runs[side].push(await runSide(side, round));
  }
}

process.stdout.write('\n[costs] the history floor: its entries written alone\n');
const floor = await measureHistoryFloor();
const sum = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a + b);
const rows: [string, (figures: Figures) => number | null][] = [
  ['`POST /orders`/s, alone', (f) => f.postAlonePerSecond],
  ['`POST /orders`/s, during a fan-out to 1,000 clients', (f) => f.postDuringFanoutPerSecond],
  ['CPU µs per `POST /orders` (alone), API + engine', (f) => sum(f.postServerCpuUs, f.postEngineCpuUs)],
  ['… of which the API process', (f) => f.postServerCpuUs],
  ['… of which the engine', (f) => f.postEngineCpuUs],
  ['cores used by other jobs on the machine meanwhile', (f) => f.postForeignCpu],
];
const clientCounts = [...new Set(runs.before.flatMap((f) => Object.keys(f.deliveriesPerSecond)))].sort(
  (a, b) => Number(a) - Number(b),
);
for (const clients of clientCounts) {
  rows.push([
    `fan-out deliveries/s (highest with p99 ≤ 250 ms), ${Number(clients).toLocaleString('en-US')} clients`,
    (f) => f.deliveriesPerSecond[clients] ?? null,
  ]);
  rows.push([
    `server CPU µs per delivery (first throughput step), ${Number(clients).toLocaleString('en-US')} clients`,
    (f) => f.cpuMicrosPerDelivery[clients] ?? null,
  ]);
}
const table = [
  '| measure | before (no history, no metrics) | after (history + metrics) | change of the medians |',
  '| --- | ---: | ---: | ---: |',
  ...rows.map(([label, pick]) => {
    const before = runs.before.map(pick);
    const after = runs.after.map(pick);
    return `| ${label} | ${spread(before)} | ${spread(after)} | ${change(median(before), median(after))} |`;
  }),
].join('\n');
const perRound = [
  '| round | side | `POST /orders`/s alone | during fan-out | CPU µs per POST, API + engine | cores used by other jobs |',
  '| ---: | --- | ---: | ---: | ---: | ---: |',
  ...Array.from({ length: rounds }, (_, index) =>
    (['before', 'after'] as const).map((side) => {
      const f = runs[side][index]!;
      return `| ${String(index + 1)} | ${side} | ${cell(f.postAlonePerSecond)} | ${cell(f.postDuringFanoutPerSecond)} | ${cell(sum(f.postServerCpuUs, f.postEngineCpuUs))} | ${cell(f.postForeignCpu)} |`;
    }),
  ).flat(),
].join('\n');
const beforePost = median(runs.before.map((f) => sum(f.postServerCpuUs, f.postEngineCpuUs)));
const floorUs = floor.driverCpuUs + floor.engineCpuUs;
const floorText =
  `The history's floor, measured in the same run (bench/costs-floor.ts): one create's entry written alone, in ` +
  `batches of ${String(floor.batch)} through the product's \`insertMissing\` to a fresh engine, costs ` +
  `${cell(floor.driverCpuUs)} µs of CPU in the writing process and ${cell(floor.engineCpuUs)} µs in the engine` +
  (beforePost === null
    ? '.'
    : `: ${((floorUs / beforePost) * 100).toFixed(1)}% of the ${cell(beforePost)} µs a \`POST /orders\` costs the API and the engine before. ` +
      'On a machine whose cores the requests saturate, that share is about what the history takes off `POST /orders`/s at the least.');
const md = [
  '# Costs of the order history and the metrics',
  '',
  `Medians (and ranges) of ${String(rounds)} interleaved round(s) of the fan-out harness (ws transport)${narrowed ? ', narrowed run' : ''}; ` +
    'odd rounds run before first, even rounds after first. Each side is a fresh run with the same processes: the ' +
    'engine alone in its own process (as mongod would be), one API process, the load generators, the writer.',
  'Before: `HISTORY_RECORD=0`, no `METRICS_TOKEN`/`METRICS_PORT`. After: history recorded, `METRICS_TOKEN` set.',
  `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${process.env.BENCH_PRIORITY ? `, benchmark processes at nice ${process.env.BENCH_PRIORITY}` : ''}.`,
  '',
  table,
  '',
  floorText,
  '',
  'Per round:',
  '',
  perRound,
  '',
].join('\n');
await mkdir(resultsDir, { recursive: true });
await writeFile(`${resultsDir}${outName}.json`, JSON.stringify({ rounds, narrowed, runs, floor }, null, 1));
await writeFile(`${resultsDir}${outName}.md`, md);
process.stdout.write(`\n${md}`);
