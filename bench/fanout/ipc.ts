import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchToken } from './auth.js';
import { nowMs } from './raw-client.js';

/*
 * Request/response over the Node IPC channel between the orchestrator and its child processes (engine,
 * server, load generators). Each child runs TypeScript through tsx with the workspace source condition.
 */

export interface Request {
  id: number;
  op: string;
  args?: unknown;
}

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** A child process that answers requests. */
export class Child {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;
  readonly exit: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (message: Response) => {
      const entry = this.waiting.get(message.id);
      if (!entry) return;
      this.waiting.delete(message.id);
      if (message.ok) entry.resolve(message.result);
      else entry.reject(new Error(`${name}: ${message.error}`));
    });
    this.exit = new Promise((resolve) => {
      proc.on('exit', (code) => {
        this.exited = true;
        for (const entry of this.waiting.values()) entry.reject(new Error(`${name} exited (code ${String(code)})`));
        this.waiting.clear();
        resolve(code);
      });
    });
  }

  /** Starts `file` (a .ts module next to this one) with extra node flags; resolves when it says it is up. */
  static async start(name: string, file: string, nodeFlags: string[] = [], timeoutMs = 30_000): Promise<Child> {
    const path = fileURLToPath(new URL(file, import.meta.url));
    // Made before the first child starts, so every child inherits the same token.
    benchToken();
    const proc = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', '--conditions=@orders/source', path], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const child = new Child(name, proc);
    if (proc.pid !== undefined) raisePriority(proc.pid);
    await child.call('ping', undefined, timeoutMs);
    return child;
  }

  /** Sends a request; rejects after `timeoutMs` or when the child exits. */
  call<T = unknown>(op: string, args?: unknown, timeoutMs = 120_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: ${op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ id, op, args } satisfies Request);
    });
  }

  /** Asks the child to stop, then kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    await this.call('stop', undefined, graceMs).catch(() => undefined);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
  }
}

/**
 * BENCH_PRIORITY=<nice> (e.g. -10, needs the privilege): runs the benchmark's processes ahead of other jobs on a
 * shared machine, so the figures measure the code rather than the neighbours. Off by default; reported in results.
 */
export function raisePriority(pid: number): void {
  const nice = process.env.BENCH_PRIORITY;
  if (nice === undefined || nice === '') return;
  try {
    setPriority(pid, Number(nice));
  } catch (err) {
    process.stderr.write(`BENCH_PRIORITY: could not set priority ${nice} on ${pid}: ${String(err)}\n`);
  }
}

/**
 * This process's CPU time and memory, and when they were read (`nowMs`), for a `{ gc?: boolean }` request: with
 * `gc`, after two full collections when the process runs with --expose-gc, so a heap sample holds live data only.
 */
export function processUsage(raw: unknown): { at: number; memory: NodeJS.MemoryUsage; cpu: NodeJS.CpuUsage } {
  const { gc: wantGc } = (raw ?? {}) as { gc?: boolean };
  const gc = (globalThis as { gc?: () => void }).gc;
  if (wantGc && gc) {
    gc();
    gc();
  }
  return { at: nowMs(), memory: process.memoryUsage(), cpu: process.cpuUsage() };
}

/** Child side: answers requests with `handlers`; `stop` runs `onStop` then exits. */
export function serve(handlers: Record<string, (args: unknown) => unknown>, onStop: () => Promise<void>): void {
  process.on('message', (message: Request) => {
    void (async () => {
      try {
        if (message.op === 'ping') {
          process.send?.({ id: message.id, ok: true, result: 'pong' } satisfies Response);
          return;
        }
        if (message.op === 'stop') {
          await onStop();
          process.send?.({ id: message.id, ok: true, result: null } satisfies Response, () => process.exit(0));
          return;
        }
        const handler = handlers[message.op];
        if (!handler) throw new Error(`unknown op ${message.op}`);
        const result = await handler(message.args);
        process.send?.({ id: message.id, ok: true, result: result ?? null } satisfies Response);
      } catch (err) {
        const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
        process.send?.({ id: message.id, ok: false, error } satisfies Response);
      }
    })();
  });
  // The orchestrator died: do not linger holding thousands of sockets.
  process.on('disconnect', () => {
    void onStop().finally(() => process.exit(0));
  });
}
