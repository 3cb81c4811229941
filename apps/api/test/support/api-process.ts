import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { REPOSITORY_ROOT } from '../../src/config.js';
import { TEST_ADMIN_PASSWORD } from './app.js';
import { registerCredentials } from './auth.js';

/** The real API server (`server.ts`) in its own process, as `npm start` runs it. */
export interface ApiProcess {
  child: ChildProcess;
  baseUrl: string;
  wsUrl: string;
  /** Everything the process printed, for failure messages. */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * `Authorization` header of an admin token made on start (empty when the database did not answer then); sockets
   * to this process send it too (see `registerCredentials`).
   */
  auth: Record<string, string>;
}

/** Starts `server.ts` on a free 127.0.0.1 port; resolves once it logs that it listens. */
export async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  const child = spawn(process.execPath, ['--conditions=@orders/source', '--import', 'tsx', 'apps/api/src/server.ts'], {
    cwd: REPOSITORY_ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ORDERS_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
      AUTH_SCRYPT_LOG_N: '10',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${output.join('\n')}`));
    }, 30_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output.join('\n')}`));
    });
  });
  const auth = await adminToken(baseUrl).catch(() => ({}));
  registerCredentials(baseUrl, auth);
  return { child, baseUrl, wsUrl: `${baseUrl.replace('http', 'ws')}/ws`, output, exited, auth };
}

/** Signs in as the admin and creates a token, over HTTP as a script would; its `Authorization` header. */
export async function adminToken(baseUrl: string): Promise<Record<string, string>> {
  const login = await fetch(`${baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }),
  });
  if (login.status !== 200) throw new Error(`sign-in failed: ${login.status}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
  const created = await fetch(`${baseUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, origin: baseUrl },
    body: JSON.stringify({ name: 'test-admin', role: 'admin' }),
  });
  if (created.status !== 201) throw new Error(`token creation failed: ${created.status}`);
  const { token } = (await created.json()) as { token: string };
  return { authorization: `Bearer ${token}` };
}

/** Sends `signal` and waits (bounded) for the process to exit; SIGKILL if it does not within 15 s. */
export async function stopApiProcess(
  api: ApiProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (api.child.exitCode === null && api.child.signalCode === null) api.child.kill(signal);
  const timer = setTimeout(() => api.child.kill('SIGKILL'), 15_000);
  try {
    return await api.exited;
  } finally {
    clearTimeout(timer);
  }
}
