import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedServer, type EmbeddedServer } from '@orders/mongo-embedded';
import { MongoClient, type Collection } from 'mongodb';
import { spawnServer, stopServer, type ServerProcess } from '../../../api/test/support/server-process.js';

const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const REPOSITORY_ROOT = resolve(WEB_DIR, '..', '..');

/** How an order is stored (the id is `_id`, dates are BSON dates). */
export interface OrderDocument {
  _id: number;
  customer_name: string;
  product_name: string;
  status: 'pending' | 'shipped' | 'delivered';
  created_at: Date;
  updated_at: Date;
  version: number;
  /** Who wrote it last through the API; absent when another client wrote it. */
  updated_by?: string;
  updated_by_version?: number;
  /** The case-folded words of both names, which the API keeps for its search index. */
  search?: string[];
}

/** The first-start admin the stack creates (the API reads its password from ORDERS_ADMIN_PASSWORD). */
export const E2E_ADMIN = { username: 'admin', password: 'e2e admin password' } as const;
/** The name of the API token the stack's own HTTP requests carry (shown on cards as the actor). */
export const E2E_TOKEN_NAME = 'e2e-script';

/** The embedded engine (in this process), a driver on it, the built dashboard, and the API in its own process. */
export interface Stack {
  baseUrl: string;
  /** An admin API token for scripted requests (`Authorization: Bearer …`), named `E2E_TOKEN_NAME`. */
  adminToken: string;
  orders: Collection<OrderDocument>;
  /** Stops the API process (SIGTERM: sockets are closed with 1001), leaving the database up. */
  stopApi(): Promise<void>;
  /** Starts the API again on the same port. */
  startApi(): Promise<void>;
  close(): Promise<void>;
}

function run(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolvePromise()
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output.join('')}`)),
    );
  });
}

/** Builds the dashboard (production mode) into `outDir`. */
export async function buildDashboard(outDir: string): Promise<void> {
  await run(
    process.execPath,
    [
      join(REPOSITORY_ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--outDir',
      outDir,
      '--emptyOutDir',
      '--logLevel',
      'warn',
    ],
    WEB_DIR,
  );
}

/**
 * Signs in as the stack's admin and creates an admin API token. The sign-in carries the server's own Origin, as the
 * dashboard's would; the token then needs none.
 */
async function createAdminToken(baseUrl: string): Promise<string> {
  const headers = { 'content-type': 'application/json', origin: baseUrl };
  const login = await fetch(`${baseUrl}/auth/login`, { method: 'POST', headers, body: JSON.stringify(E2E_ADMIN) });
  if (login.status !== 200)
    throw new Error(`the stack's admin could not sign in: ${login.status} ${await login.text()}`);
  const cookie = login.headers.getSetCookie()[0]?.split(';')[0];
  if (!cookie) throw new Error('signing in set no session cookie');
  const created = await fetch(`${baseUrl}/auth/tokens`, {
    method: 'POST',
    headers: { ...headers, cookie },
    body: JSON.stringify({ name: E2E_TOKEN_NAME, role: 'admin', expires_in_days: 1 }),
  });
  if (created.status !== 201) throw new Error(`no API token for the stack: ${created.status} ${await created.text()}`);
  const { token } = (await created.json()) as { token: string };
  return token;
}

/** A request as a script makes it: with the stack's admin API token, and a JSON body when there is one. */
export function scriptRequest(stack: Stack, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export interface StackOptions {
  /**
   * Writes to the database before the API starts, so that the API's change feed (and its history) starts after
   * them: a large book written this way is there when the board opens, without a change event per order.
   */
  seed?: (orders: Collection<OrderDocument>) => Promise<void>;
}

/**
 * Builds the dashboard into a temporary directory (so the test never serves a stale build), starts the embedded
 * engine on an ephemeral port and the API on a free port against it. `inheritedEnv` (the test's environment: PATH
 * and the like) is passed to the API process with the stack's own settings on top.
 */
export async function startStack(inheritedEnv: NodeJS.ProcessEnv, { seed }: StackOptions = {}): Promise<Stack> {
  const workDir = await mkdtemp(join(tmpdir(), 'orders-e2e-'));
  const webDist = join(workDir, 'web');
  await buildDashboard(webDist);

  let engine: EmbeddedServer | undefined;
  let client: MongoClient | undefined;
  let api: ServerProcess | undefined;
  try {
    engine = await startEmbeddedServer({ port: 0 });
    client = new MongoClient(engine.uri, { serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    const orders = client.db('orders').collection<OrderDocument>('orders');
    if (seed) await seed(orders);
    const env = {
      ...inheritedEnv,
      MONGODB_URI: engine.uri,
      MONGODB_DB: 'orders',
      DATA_DIR: join(workDir, 'data'),
      WEB_DIST_DIR: webDist,
      ORDERS_ADMIN_PASSWORD: E2E_ADMIN.password,
    };
    api = await spawnServer({ ...env, PORT: '0' });
    const port = api.port;
    const baseUrl = `http://127.0.0.1:${port}`;
    const stack: Stack = {
      baseUrl,
      adminToken: await createAdminToken(baseUrl),
      orders,
      async stopApi() {
        if (api) await stopServer(api);
        api = undefined;
      },
      async startApi() {
        api = await spawnServer({ ...env, PORT: String(port) });
      },
      async close() {
        if (api) await stopServer(api);
        await client?.close();
        await engine?.close();
        await rm(workDir, { recursive: true, force: true });
      },
    };
    return stack;
  } catch (error) {
    if (api) await stopServer(api);
    await client?.close();
    await engine?.close();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}
