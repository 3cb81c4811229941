import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/*
 * The chaos run's child processes: the engine (its CLI) and the API servers (server.ts), each the leader of its
 * own process group, so a cleanup can kill a group whatever it spawned. Every child is registered until it exits;
 * `killAllChildren` (installed on exit and on signals by the runner) SIGKILLs what is left.
 */

export const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const children = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone (ESRCH): nothing to clean.
  }
}

/** SIGKILLs every child's process group that is still running. Synchronous: safe in an `exit` handler. */
export function killAllChildren(): void {
  for (const child of children) killGroup(child, 'SIGKILL');
  children.clear();
}

let cleanupInstalled = false;

/** Kills the children when this process exits, is interrupted or crashes. */
export function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllChildren();
      process.exit(130);
    });
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process running a TypeScript entry point of this repository through tsx. */
export interface Child {
  readonly process: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Sends `signal` to the group and waits (bounded) for the exit; SIGKILL once `graceMs` passed. */
  stop(signal: NodeJS.Signals, graceMs?: number): Promise<Exit>;
  isRunning(): boolean;
}

function spawnTs(entry: string, args: string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--conditions=@orders/source', '--import', 'tsx', entry, ...args], {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  const exited = new Promise<Exit>((resolveExit) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolveExit({ code, signal });
    }),
  );
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    process: child,
    exited,
    isRunning,
    async stop(signal, graceMs = 15_000) {
      if (isRunning()) killGroup(child, signal);
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Waits (bounded) for a stdout line matching `pattern`; rejects if the child exits first. */
function waitForLine(
  child: Child,
  pattern: RegExp,
  what: string,
  output: string[],
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolveLine, reject) => {
    const stdout = child.process.stdout;
    if (!stdout) {
      reject(new Error(`${what}: no stdout`));
      return;
    }
    const lines = createInterface({ input: stdout });
    const timer = setTimeout(() => {
      void child.stop('SIGKILL');
      reject(new Error(`${what} did not start within ${timeoutMs} ms:\n${output.slice(-20).join('\n')}`));
    }, timeoutMs);
    lines.on('line', (line) => {
      const match = pattern.exec(line);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolveLine(match[1]);
      }
    });
    void child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${output.slice(-20).join('\n')}`));
    });
  });
}

function collect(child: Child, output: string[], onLine?: (line: string) => void): void {
  const keep = (line: string): void => {
    output.push(line);
    if (output.length > 400) output.splice(0, output.length - 400);
    onLine?.(line);
  };
  if (child.process.stdout) createInterface({ input: child.process.stdout }).on('line', keep);
  if (child.process.stderr) createInterface({ input: child.process.stderr }).on('line', keep);
}

export interface EngineProcess {
  child: Child;
  uri: string;
  port: number;
  output: string[];
}

/** Starts the engine's CLI on `port` (0: a free one) with its data in `dbPath`; resolves once it serves. */
export async function startEngine(dbPath: string, port: number): Promise<EngineProcess> {
  const child = spawnTs('packages/mongo-embedded/src/cli.ts', ['--port', String(port), '--dbpath', dbPath], {});
  const output: string[] = [];
  collect(child, output);
  const uri = await waitForLine(child, /^(mongodb:\/\/\S+)$/, 'the engine', output, 30_000);
  const portMatch = /:(\d+)\//.exec(uri);
  if (!portMatch?.[1]) throw new Error(`cannot read the engine's port from ${uri}`);
  return { child, uri, port: Number(portMatch[1]), output };
}

/** Counts of an API process's log lines at warn level and above, by message. */
export type LogCounts = Map<string, number>;

export interface ApiProcess {
  name: string;
  child: Child;
  baseUrl: string;
  wsUrl: string;
  output: string[];
}

/**
 * Starts `apps/api/src/server.ts` on a free 127.0.0.1 port against `mongoUri`; resolves once it logs its address.
 * Warn/error log lines are counted into `logCounts` (pino JSON: level 40 warn, 50 error, 60 fatal).
 */
export async function startApi(name: string, env: Record<string, string>, logCounts: LogCounts): Promise<ApiProcess> {
  const child = spawnTs('apps/api/src/server.ts', [], {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    // The writer's lanes are a load generator with one token, not a client the limits are meant for.
    RATE_LIMIT_MAX: '0',
    RATE_LIMIT_IN_FLIGHT: '0',
    ...env,
  });
  const output: string[] = [];
  collect(child, output, (line) => {
    if (!line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if (typeof entry.level === 'number' && entry.level >= 40) {
        const key = `${entry.level >= 50 ? 'error' : 'warn'}: ${String(entry.msg)}`;
        logCounts.set(key, (logCounts.get(key) ?? 0) + 1);
      }
    } catch {
      // Not a log entry.
    }
  });
  const baseUrl = await waitForLine(child, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/, name, output, 30_000);
  return { name, child, baseUrl, wsUrl: `${baseUrl.replace('http', 'ws')}/ws`, output };
}
