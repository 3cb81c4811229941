import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../apps/api/src/app.js';
import { loadConfig, type AppConfig } from '../../apps/api/src/config.js';
import { installBenchToken } from './auth.js';

/** A real API (buildApp) started for a benchmark: listening on 127.0.0.1, its change feed open. */
export interface BenchApi {
  app: App;
  config: AppConfig;
  port: number;
  /** Closes the app and removes its data directory. */
  close(): Promise<void>;
}

/**
 * Starts the product's API against `mongoUri` with a throwaway data directory; `env` overrides the defaults
 * (e.g. WS_BATCH_WINDOW_MS). Resolves once listening: `ready()` waits for the feed's first answer.
 */
export async function startBenchApi(mongoUri: string, env: Record<string, string> = {}): Promise<BenchApi> {
  const dataDir = await mkdtemp(join(tmpdir(), 'orders-bench-api-'));
  const config = loadConfig({
    envFile: null,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      MONGODB_URI: mongoUri,
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      CORS_ORIGIN: 'none',
      // The benchmark is the flood: 10,000 sockets and thousands of writes per second from a few loopback addresses.
      RATE_LIMIT_MAX: '0',
      WS_CONNECT_RATE_MAX: '0',
      ...env,
    },
  });
  const app = buildApp(config, { logger: false });
  const close = async (): Promise<void> => {
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    await installBenchToken(app);
    if (!app.realtime.isFeedOpen()) throw new Error('the change feed is not open after ready()');
    const address = app.server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no server address');
    return { app, config, port: address.port, close };
  } catch (err) {
    await close();
    throw err;
  }
}
