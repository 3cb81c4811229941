import { startBenchApi, type BenchApi } from '../fanout/api.js';
import { processUsage, serve } from '../fanout/ipc.js';

/*
 * The API process of the slow-consumer benchmark: the real API (buildApp) with the product's defaults (send-buffer
 * cap included) unless the orchestrator overrides the cap. In its own process so its heap and RSS are the API's
 * alone, not the engine's or the 200 clients'.
 */

interface StartArgs {
  mongoUri: string;
  maxBufferedBytes?: number;
}

let api: BenchApi | null = null;

async function start(raw: unknown): Promise<{ port: number; maxBufferedBytes: number; batchWindowMs: number }> {
  const args = raw as StartArgs;
  api = await startBenchApi(
    args.mongoUri,
    args.maxBufferedBytes !== undefined ? { WS_MAX_BUFFERED_BYTES: String(args.maxBufferedBytes) } : {},
  );
  const { config } = api;
  return { port: api.port, maxBufferedBytes: config.ws.maxBufferedBytes, batchWindowMs: config.ws.batchWindowMs };
}

/** Memory (after two full GCs when asked), CPU and the hub's counters in one reply, so samples line up. */
function sample(raw: unknown): object {
  return { ...processUsage(raw), hub: api?.app.realtime.stats() ?? null };
}

serve({ start, sample }, async () => {
  await api?.close();
});
