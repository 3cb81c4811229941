import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedServer } from '@orders/mongo-embedded';
import { nowMs } from './raw-client.js';
import { serve } from './ipc.js';

/*
 * The database for the fan-out benchmark: the embedded engine alone in its own process (as mongod would be),
 * journalling to a temporary directory, so the API server's CPU figures are the API's own.
 */

const dbPath = await mkdtemp(join(tmpdir(), 'orders-bench-db-'));
const server = await startEmbeddedServer({ host: '127.0.0.1', port: 0, dbPath });

serve(
  {
    uri: () => server.uri,
    usage: () => ({ cpu: process.cpuUsage(), memory: process.memoryUsage(), at: nowMs() }),
  },
  async () => {
    await server.close();
    await rm(dbPath, { recursive: true, force: true });
  },
);
