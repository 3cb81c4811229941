import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT } from '../src/config.js';
import { adminToken } from './support/api-process.js';
import { TEST_ADMIN_PASSWORD, unusedPort } from './support/app.js';
import { authFetch, registerCredentials } from './support/auth.js';
import { TestClient } from './support/ws-client.js';

/** `npm run dev` (scripts/dev.mjs) in its own process group, so the whole tree can be signalled and checked. */
interface DevRun {
  child: ChildProcess;
  apiPort: number;
  webPort: number;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once every process holding the output pipes is gone and all it wrote has been read. */
  drained: Promise<void>;
}

const START_DEADLINE_MS = 90_000;
const STOP_DEADLINE_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** True while any process of the group still exists. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The processes of the group, for failure messages and for finding one of them. */
function groupProcesses(pgid: number): { pid: number; args: string }[] {
  const table = execFileSync('ps', ['-A', '-o', 'pid=,pgid=,args='], { encoding: 'utf8' });
  return table.split('\n').flatMap((line) => {
    const match = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    return match && Number(match[2]) === pgid ? [{ pid: Number(match[1]), args: match[3]! }] : [];
  });
}

/** Polls (bounded) until `check` holds; the error carries everything the dev servers printed. */
async function waitUntil(
  run: DevRun,
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 10_000 && Date.now() < deadline; attempt += 1) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}:\n${run.output.join('')}`);
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

let dataDir: string;
const runs: DevRun[] = [];

async function startDev(): Promise<DevRun> {
  // Chosen here, not port 0: the web dev server's proxy must know the API's port.
  const apiPort = await unusedPort();
  const webPort = await unusedPort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    // Empty = unset even if a developer's .env sets it: this test is about the embedded database.
    MONGODB_URI: '',
    WEB_DEV_PORT: String(webPort),
    ORDERS_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    AUTH_SCRYPT_LOG_N: '10',
  };
  // The proxy must follow PORT by itself, as it does for a developer who sets only PORT.
  delete env.VITE_API_TARGET;
  delete env.CI;
  const child = spawn(process.execPath, ['scripts/dev.mjs'], {
    cwd: REPOSITORY_ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const drained = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const run: DevRun = { child, apiPort, webPort, output, exited, drained };
  runs.push(run);
  await waitUntil(
    run,
    'the API and the Vite dev server',
    START_DEADLINE_MS,
    async () =>
      (await answers(`http://127.0.0.1:${apiPort}/healthz`)) && (await answers(`http://127.0.0.1:${webPort}/`)),
  );
  // Requests through the proxy and straight to the API authenticate with an admin token, as a script would.
  const auth = await adminToken(`http://127.0.0.1:${apiPort}`);
  registerCredentials(`http://127.0.0.1:${apiPort}`, auth);
  registerCredentials(`http://127.0.0.1:${webPort}`, auth);
  return run;
}

/** Waits (bounded) until dev.mjs has exited and no process of its group is left. */
async function waitForGroupGone(run: DevRun): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const pgid = run.child.pid!;
  const result = await Promise.race([run.exited, sleep(STOP_DEADLINE_MS).then(() => null)]);
  if (result === null) throw new Error(`dev.mjs did not exit:\n${run.output.join('')}`);
  await waitUntil(
    run,
    `the group to empty (${JSON.stringify(groupProcesses(pgid))})`,
    STOP_DEADLINE_MS,
    () => !groupAlive(pgid),
  );
  // The API logs its last lines after dev.mjs has exited.
  await Promise.race([run.drained, sleep(5000)]);
  return result;
}

async function refused(port: number): Promise<boolean> {
  return !(await answers(`http://127.0.0.1:${port}/`));
}

function postOrder(webPort: number, order: Record<string, unknown>): Promise<Response> {
  return authFetch(`http://127.0.0.1:${webPort}/orders`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(order),
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'orders-dev-'));
});
afterEach(async () => {
  // Safety net: whatever a failed test left running goes, with everything it spawned.
  for (const run of runs.splice(0)) {
    const pgid = run.child.pid;
    if (pgid === undefined || !groupAlive(pgid)) continue;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Gone in the meantime.
    }
    for (let attempt = 0; attempt < 40 && groupAlive(pgid); attempt += 1) await sleep(250);
  }
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm run dev', () => {
  it('serves the dashboard, proxies REST and the WebSocket to the API, and stops as a whole on SIGTERM', async () => {
    const run = await startDev();
    const web = `http://127.0.0.1:${run.webPort}`;

    const page = await fetch(`${web}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div id="root"></div>');
    expect(html).toContain('<title>Orders · live board</title>');
    // Served by Vite from the sources (HMR client, TSX entry), not by the API from a build.
    expect(html).toContain('/@vite/client');
    expect(html).toContain('/src/main.tsx');

    const created = await postOrder(run.webPort, { id: 1, customer_name: 'Ada', product_name: 'Desk' });
    expect(created.status, run.output.join('')).toBe(201);
    expect(await created.json()).toMatchObject({
      id: 1,
      customer_name: 'Ada',
      product_name: 'Desk',
      status: 'pending',
      version: 1,
    });

    const client = await TestClient.subscribe(`ws://127.0.0.1:${run.webPort}/ws`);
    try {
      expect(client.control()).toEqual([expect.objectContaining({ type: 'ready', protocol: 1 })]);
      const second = await postOrder(run.webPort, { id: 2, customer_name: 'Grace', product_name: 'Lamp' });
      expect(second.status).toBe(201);
      await client.waitForEvents(1);
      expect(client.events().map((event) => event.type)).toEqual(['order.created']);
      expect(client.events()[0]).toMatchObject({
        type: 'order.created',
        order: { id: 2, customer_name: 'Grace', product_name: 'Lamp', status: 'pending' },
      });
      expect(client.invalid).toEqual([]);
    } finally {
      await client.close();
    }

    // The order made through the proxy is in the API's database.
    const listed = (await (await authFetch(`http://127.0.0.1:${run.apiPort}/orders`)).json()) as {
      orders: { id: number }[];
    };
    expect(listed.orders.map((order) => order.id).sort()).toEqual([1, 2]);

    process.kill(-run.child.pid!, 'SIGTERM');
    const result = await waitForGroupGone(run);
    expect(result, run.output.join('')).toEqual({ code: 0, signal: null });
    expect(await refused(run.apiPort)).toBe(true);
    expect(await refused(run.webPort)).toBe(true);
  });

  it('stops the API and exits non-zero when the Vite dev server dies, leaving nothing behind', async () => {
    const run = await startDev();
    const vite = groupProcesses(run.child.pid!).find((process) => /node_modules\/\.bin\/vite\b/.test(process.args));
    expect(vite, JSON.stringify(groupProcesses(run.child.pid!))).toBeDefined();

    process.kill(vite!.pid, 'SIGKILL');
    const result = await waitForGroupGone(run);
    expect(result.code, run.output.join('')).not.toBe(0);
    expect(await refused(run.apiPort)).toBe(true);
    // The API was stopped, not killed: it shut down the database on the way out.
    expect(run.output.join('')).toContain('"msg":"stopped"');
  });

  it('stops everything when only dev.mjs itself receives SIGTERM', async () => {
    const run = await startDev();
    run.child.kill('SIGTERM');
    const result = await waitForGroupGone(run);
    expect(result, run.output.join('')).toEqual({ code: 0, signal: null });
    expect(await refused(run.apiPort)).toBe(true);
    expect(await refused(run.webPort)).toBe(true);
    expect(run.output.join('')).toContain('"msg":"stopped"');
  });
});
