import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT } from '../src/config.js';

/*
 * The short version of `npm run chaos`: the engine and three API processes, eight
 * WebSocket clients, HTTP and driver writes, and faults (client drops and moves, SIGTERM and kill -9 of API
 * processes, fail points on getMore and on writes, a 2 s engine stop) for 25 s with a fixed seed. Afterwards every
 * client's received positions are compared with the database's change history and its view with the documents.
 */

interface ChaosReport {
  eventsWritten: { total: number };
  restarts: { api_sigterm: number; api_kill9: number; engine: number };
  faults: Record<string, number>;
  caughtUp: boolean;
  orderHistory: { expected: number; recorded: number; missing: number; extra: number };
  lost: number;
  duplicates: number;
  outOfOrder: number;
  divergent: number;
  protocolErrors: number;
  clientTotals: { eventsReceived: number };
  ok: boolean;
}

/** Runs the chaos CLI in its own process group; kills the group if it overruns. */
function runChaos(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--conditions=@orders/source', '--import', 'tsx', 'chaos/run.ts', ...args], {
    cwd: REPOSITORY_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('chaos (short run)', () => {
  it('loses nothing, duplicates nothing, and every client ends equal to the database', async () => {
    const { code, output } = await runChaos(
      [
        '--duration',
        '25',
        '--seed',
        '20260501',
        '--apis',
        '3',
        '--clients',
        '8',
        '--engine-down',
        '2',
        '--fault-interval',
        '700',
        '--json',
      ],
      240_000,
    );
    const line = output.split('\n').find((l) => l.startsWith('CHAOS_REPORT '));
    expect(line, output.slice(-4000)).toBeDefined();
    const report = JSON.parse((line ?? '').slice('CHAOS_REPORT '.length)) as ChaosReport;

    // The run did what it claims: writes, events delivered, processes restarted, faults of several kinds.
    expect(report.eventsWritten.total).toBeGreaterThan(50);
    expect(report.clientTotals.eventsReceived).toBeGreaterThan(report.eventsWritten.total);
    expect(report.restarts.engine).toBe(1);
    expect(Object.keys(report.faults).length, JSON.stringify(report.faults)).toBeGreaterThanOrEqual(4);

    expect(
      {
        caughtUp: report.caughtUp,
        lost: report.lost,
        duplicates: report.duplicates,
        outOfOrder: report.outOfOrder,
        divergent: report.divergent,
        protocolErrors: report.protocolErrors,
        historyMissing: report.orderHistory.missing,
        historyExtra: report.orderHistory.extra,
      },
      output.slice(-4000),
    ).toEqual({
      caughtUp: true,
      lost: 0,
      duplicates: 0,
      outOfOrder: 0,
      divergent: 0,
      protocolErrors: 0,
      historyMissing: 0,
      historyExtra: 0,
    });
    expect(report.orderHistory.recorded).toBe(report.orderHistory.expected);
    expect(code).toBe(0);
  }, 300_000);
});
