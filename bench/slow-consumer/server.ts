import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../apps/api/src/app.js';
import { loadConfig } from '../../apps/api/src/config.js';
import { serve } from '../fanout/ipc.js';
import { nowMs } from '../fanout/raw-client.js';

/*
 * The API process of the slow-consumer benchmark: the real API (buildApp) with the product's defaults (send-buffer
 * cap included) unless the orchestrator overrides the cap. In its own process so its heap and RSS are the API's
 * alone, not the engine's or the 200 clients'.
 */

interface StartArgs {
  mongoUri: string;
  maxBufferedBytes?: number;
}

let app: App | null = null;
let dataDir: string | null = null;

async function start(raw: unknown): Promise<{ port: number; maxBufferedBytes: number; batchWindowMs: number }> {
  const args = raw as StartArgs;
  dataDir = await mkdtemp(join(tmpdir(), 'orders-bench-slow-'));
  const config = loadConfig({
    envFile: null,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      MONGODB_URI: args.mongoUri,
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      CORS_ORIGIN: 'none',
      ...(args.maxBufferedBytes !== undefined ? { WS_MAX_BUFFERED_BYTES: String(args.maxBufferedBytes) } : {}),
    },
  });
  const instance = buildApp(config, { logger: false });
  app = instance;
  await instance.listen({ port: 0, host: '127.0.0.1' });
  const deadline = Date.now() + 15_000;
  while (!instance.realtime.isFeedOpen()) {
    if (Date.now() > deadline) throw new Error('the change feed did not open within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const address = instance.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no server address');
  return { port: address.port, maxBufferedBytes: config.ws.maxBufferedBytes, batchWindowMs: config.ws.batchWindowMs };
}

/** Memory (after two full GCs when asked), CPU and the hub's counters in one reply, so samples line up. */
function sample(raw: unknown): object {
  const { gc: wantGc } = (raw ?? {}) as { gc?: boolean };
  const gc = (globalThis as { gc?: () => void }).gc;
  if (wantGc && gc) {
    gc();
    gc();
  }
  return { at: nowMs(), memory: process.memoryUsage(), cpu: process.cpuUsage(), hub: app?.realtime.stats() ?? null };
}

serve({ start, sample }, async () => {
  await app?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});
