import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedServer } from '../server.js';

/*
 * The engine under benchmark, alone in its process so the driver's CPU (in the parent) does not share its event
 * loop. Talks to the parent over IPC: `{op:'usage', gc}` → CPU and memory; `{op:'stop'}` → close and exit.
 */

interface Message {
  id: number;
  op: 'usage' | 'stop';
  gc?: boolean;
}

// argv[2]: an optional bound on the change history in bytes (the memory curve runs once with a small one).
const historyBytes = Number(process.argv[2]);
const dbPath = await mkdtemp(join(tmpdir(), 'mongo-embedded-bench-'));
const server = await startEmbeddedServer({
  port: 0,
  dbPath,
  ...(Number.isFinite(historyBytes) && historyBytes > 0 ? { changeHistoryMaxBytes: historyBytes } : {}),
});

process.on('message', (message: Message) => {
  void (async () => {
    if (message.op === 'stop') {
      await server.close();
      await rm(dbPath, { recursive: true, force: true });
      process.send?.({ id: message.id, result: null }, () => process.exit(0));
      return;
    }
    const gc = (globalThis as { gc?: () => void }).gc;
    if (message.gc && gc) {
      gc();
      gc();
    }
    process.send?.({ id: message.id, result: { cpu: process.cpuUsage(), memory: process.memoryUsage() } });
  })();
});
process.on('disconnect', () => {
  void server.close().finally(() => process.exit(0));
});
process.send?.({ id: 0, result: { uri: server.uri, dbPath } });
