import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedServer } from '@orders/mongo-embedded';
import { nowMs } from './raw-client.js';
import { serve } from './ipc.js';

/*
 * The database for the fan-out benchmark: the embedded engine alone in its own process (as mongod would be), so
 * the API server's CPU figures are the API's own.
 */

// In memory unless BENCH_DURABLE=1: the fan-out figures are the hub's, and a journal's fsyncs on a disk shared
// with other jobs would put the disk's noise into every write's latency (bench/results/engine.md measures durability).
const durable = process.env.BENCH_DURABLE === '1';
const dbPath = durable ? await mkdtemp(join(tmpdir(), 'orders-bench-db-')) : null;
const server = await startEmbeddedServer({ host: '127.0.0.1', port: 0, ...(dbPath ? { dbPath } : {}) });

serve(
  {
    uri: () => server.uri,
    usage: () => ({ cpu: process.cpuUsage(), memory: process.memoryUsage(), at: nowMs() }),
  },
  async () => {
    await server.close();
    if (dbPath) await rm(dbPath, { recursive: true, force: true });
  },
);
