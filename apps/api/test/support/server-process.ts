import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/*
 * Node built-ins only: the API's tests, the end-to-end stack and the abuse benchmark all start the real server
 * through this module, and the web and bench projects compile it without the API's own types.
 */

/** Where `npm start` runs `server.ts` from. */
const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** How a server process ended. */
export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The API server (`apps/api/src/server.ts`) in its own process, as `npm start` runs it. */
export interface ServerProcess {
  child: ChildProcess;
  /** http://127.0.0.1:port */
  baseUrl: string;
  port: number;
  /** Everything the process printed, for failure messages. */
  output: string[];
  exited: Promise<ServerExit>;
}

/** What else to run than `server.ts` as `npm start` does. */
export interface SpawnOptions {
  /** Another server script, relative to the repository root (the abuse benchmark's floor); default `server.ts`. */
  script?: string;
  /** Node options before the script (such as `--cpu-prof`). */
  nodeArgs?: readonly string[];
}

/**
 * Starts `server.ts` with `env` as its whole environment (on a free port unless `env` names one), on 127.0.0.1 and
 * logging at `info`, and resolves once it logs that it listens. If it exits first, or does not listen within a
 * minute, it is killed and the promise rejects with what it printed.
 */
export async function spawnServer(env: NodeJS.ProcessEnv, options: SpawnOptions = {}): Promise<ServerProcess> {
  const child = serverChild({ PORT: '0', ...env, HOST: '127.0.0.1', LOG_LEVEL: 'info' }, options);
  const output: string[] = [];
  const exited = new Promise<ServerExit>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit({ code, signal })),
  );
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const baseUrl = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the API did not start:\n${output.join('\n')}`));
    }, 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match?.[1]) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the API exited with ${String(code)}:\n${output.join('\n')}`));
    });
  });
  return { child, baseUrl, port: Number(new URL(baseUrl).port), output, exited };
}

/** Runs `server.ts` with exactly `env` until it exits by itself (a start that fails); its exit code and stderr. */
export async function runServerToExit(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = serverChild(env);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolveCode) => child.once('exit', resolveCode));
  return { code, stderr };
}

function serverChild(env: NodeJS.ProcessEnv, options: SpawnOptions = {}) {
  const { script = 'apps/api/src/server.ts', nodeArgs = [] } = options;
  return spawn(process.execPath, [...nodeArgs, '--conditions=@orders/source', '--import', 'tsx', script], {
    cwd: REPOSITORY_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Sends `signal` and waits (bounded) for the process to exit; SIGKILL if it does not within 15 s. */
export async function stopServer(
  server: Pick<ServerProcess, 'child' | 'exited'>,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<ServerExit> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
  try {
    return await server.exited;
  } finally {
    clearTimeout(timer);
  }
}
