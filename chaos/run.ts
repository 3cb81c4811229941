import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, formatReport, runChaos, type ChaosOptions } from './harness.js';
import { installCleanup, killAllChildren } from './processes.js';

const USAGE = `Usage: npm run chaos -- [options]

Fault run: the engine and several API processes, WebSocket clients, a writer, and faults (client drops and moves,
SIGTERM and kill -9 of API processes, engine fail points, an engine stop/start). Exits 1 if any client lost,
duplicated or reordered an event, or ended with a view that differs from the database.

Options:
  --duration <s>     how long faults are injected (default ${DEFAULT_OPTIONS.durationMs / 1000}, at most 600)
  --seed <n>         random seed (default: random; printed, so a run can be replayed)
  --apis <n>         API processes (2-5, default ${DEFAULT_OPTIONS.apis})
  --clients <n>      WebSocket clients (1-100, default ${DEFAULT_OPTIONS.clients})
  --engine-down <s>  how long the engine is stopped once mid-run (0-60, default ${DEFAULT_OPTIONS.engineDownMs / 1000}; 0: never)
  --fault-interval <ms>  mean pause between two faults (100-60000, default ${DEFAULT_OPTIONS.faultIntervalMs})
  --json             also print the report as one JSON line prefixed with CHAOS_REPORT
  --help
`;

function integer(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${value}`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      seed: { type: 'string' },
      apis: { type: 'string' },
      clients: { type: 'string' },
      'engine-down': { type: 'string' },
      'fault-interval': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const options: ChaosOptions = {
    ...DEFAULT_OPTIONS,
    seed: integer(values.seed, 'seed', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 31),
    durationMs: integer(values.duration, 'duration', DEFAULT_OPTIONS.durationMs / 1000, 5, 600) * 1000,
    apis: integer(values.apis, 'apis', DEFAULT_OPTIONS.apis, 2, 5),
    clients: integer(values.clients, 'clients', DEFAULT_OPTIONS.clients, 1, 100),
    engineDownMs: integer(values['engine-down'], 'engine-down', DEFAULT_OPTIONS.engineDownMs / 1000, 0, 60) * 1000,
    faultIntervalMs: integer(values['fault-interval'], 'fault-interval', DEFAULT_OPTIONS.faultIntervalMs, 100, 60_000),
    log: (line) => process.stdout.write(`[chaos] ${line}\n`),
  };
  options.log(`seed ${options.seed} (replay with --seed ${options.seed})`);
  // Whatever hangs, the run ends: faults, the outage, the quiet period and the shutdown fit well within this.
  const watchdog = setTimeout(
    () => {
      process.stderr.write('chaos: the run overran its hard limit; killing every child process\n');
      killAllChildren();
      process.exit(3);
    },
    options.durationMs + options.engineDownMs + 5 * 60_000,
  );
  watchdog.unref();
  const report = await runChaos(options);
  process.stdout.write(`\n${formatReport(report)}\n`);
  if (values.json) process.stdout.write(`CHAOS_REPORT ${JSON.stringify(report)}\n`);
  return report.ok ? 0 : 1;
}

installCleanup();
main().then(
  (code) => {
    killAllChildren();
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
    killAllChildren();
    process.exit(2);
  },
);
