import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, vi } from 'vitest';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));

/** The engine's command line (`cli.ts`) running in its own process. */
export interface RunningCli {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout: () => string;
  stderr: () => string;
}

/** What `useCli` hands a test file. */
export interface Cli {
  /** Starts `cli.ts` with `args`; a process still running after the test is killed. */
  run: (args: string[]) => RunningCli;
  /** Waits (up to `timeoutMs`) for the connection string the CLI prints once it listens. */
  uriOf: (running: RunningCli, timeoutMs?: number) => Promise<string>;
}

/** For tests of the command line: every process they start is killed after the test if it still runs. */
export function useCli(): Cli {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  return {
    run: (args) => {
      const child = spawn(process.execPath, ['--conditions=@orders/source', '--import', 'tsx', CLI, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })),
      );
      return { child, exit, stdout: () => out, stderr: () => err };
    },
    uriOf: (running, timeoutMs = 20_000) =>
      vi.waitFor(
        () => {
          const line = running
            .stdout()
            .split('\n')
            .find((l) => l.startsWith('mongodb://'));
          if (line) return line.trim();
          if (running.child.exitCode !== null) throw new Error(`cli exited early: ${running.stderr()}`);
          throw new Error(`cli did not print a connection string: ${running.stderr()}`);
        },
        { timeout: timeoutMs, interval: 50 },
      ),
  };
}
