import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { startEmbeddedServer } from '@orders/mongo-embedded';
import { buildApp, type App, type BuildAppOptions } from '../../src/app.js';
import { loadConfig, type AppConfig } from '../../src/config.js';

export type EmbeddedDatabase = Awaited<ReturnType<typeof startEmbeddedServer>>;

/** An in-memory engine on an ephemeral 127.0.0.1 port. */
export function startDatabase(): Promise<EmbeddedDatabase> {
  return startEmbeddedServer({ host: '127.0.0.1', port: 0 });
}

let databaseCounter = 0;

/** The password of the `admin` user every test app starts with. */
export const TEST_ADMIN_PASSWORD = 'correct horse battery staple';

/** What every test server runs with, in a process or in this one: the test admin, cheap sign-ins, no rate limits. */
export const TEST_SERVER_ENV: Readonly<Record<string, string>> = {
  ORDERS_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
  // A cheap KDF keeps sign-ins fast in tests; production uses OWASP's 2^17.
  AUTH_SCRYPT_LOG_N: '10',
  // Tests send bursts from one address as one admin; the rate-limit tests set their own limits.
  RATE_LIMIT_MAX: '0',
  RATE_LIMIT_ADDRESS_MAX: '0',
  RATE_LIMIT_IN_FLIGHT: '0',
  // Refusals answered at once; the test of the delay sets its own.
  RATE_LIMIT_DELAY_MS: '0',
};

/** A config pointing at `uri`, with a database name of its own so tests never see each other's orders. */
export function testConfig(uri: string, env: Record<string, string> = {}): AppConfig {
  databaseCounter += 1;
  return loadConfig({
    envFile: null,
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      MONGODB_URI: uri,
      MONGODB_DB: `api_test_${process.pid}_${databaseCounter}`,
      MONGODB_TIMEOUT_MS: '1500',
      LOG_LEVEL: 'silent',
      WEB_DIST_DIR: join(tmpdir(), 'orders-no-dashboard-here'),
      ...TEST_SERVER_ENV,
      ...env,
    },
  });
}

/** Builds the app with no logging and waits until it is ready (database connected, feed started). */
export async function startApp(config: AppConfig, options: Omit<BuildAppOptions, 'logger'> = {}): Promise<App> {
  const app = buildApp(config, { ...options, logger: false });
  await app.ready();
  return app;
}

/** A port on 127.0.0.1 that nothing listens on right now (bound, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A temporary directory holding a minimal built dashboard. */
export async function makeDashboard(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'orders-web-'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>Orders dashboard</title><div id="root"></div>');
  const assets = join(dir, 'assets');
  await mkdir(assets);
  await writeFile(join(assets, 'app-1234.js'), 'console.log("dashboard");');
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The JSON body of an inject response, typed loosely for assertions. */
export function json(response: { body: string }): Record<string, unknown> {
  return JSON.parse(response.body) as Record<string, unknown>;
}

export const seedOrder = { id: 200, customer_name: 'Bob', product_name: 'T-shirt', status: 'pending' } as const;

/** A pino destination that keeps every JSON log line, for tests that assert what was logged. */
export function captureLog(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { stream, lines };
}

/**
 * Registers an afterAll that closes, in reverse order, what the file registered: only what was actually opened,
 * so a failed beforeAll leaves nothing behind and hides nothing.
 */
export function closeAfterAll(): (close: () => unknown) => void {
  const closers: (() => unknown)[] = [];
  afterAll(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  return (close) => {
    closers.push(close);
  };
}
