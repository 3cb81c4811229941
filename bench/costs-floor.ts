import { MongoClient } from 'mongodb';
import { HISTORY_COLLECTION, historyDocument, type HistoryDocument } from '../apps/api/src/history/entry.js';
import { createHistoryRepository } from '../apps/api/src/history/store.js';
import { cpuMicros, type Usage } from './fanout/harness.js';
import { Child } from './fanout/ipc.js';

/*
 * The history's floor: what recording one `POST /orders` costs at the least, with no request, no feed and no
 * metrics around it. The entries a run of creates would record (the product's own `historyDocument`, the
 * product's indexes) are written through the product's `insertMissing` to a fresh engine in its own process, in
 * batches of the writer's usual size, and the CPU of this process (the driver) and of the engine is divided by the
 * entries. bench/costs.ts sets it beside the CPU a `POST /orders` costs without the history.
 */

/** CPU µs per recorded entry, in the writing process (driver, BSON) and in the engine. */
export interface HistoryFloor {
  entries: number;
  batch: number;
  driverCpuUs: number;
  engineCpuUs: number;
}

/** One created order's entry, as the writer builds it from the change event. */
function createdEntry(id: number): HistoryDocument {
  const at = new Date();
  const stamp = at.toISOString();
  const order = {
    id,
    customer_name: 'post load',
    product_name: 'widget',
    status: 'pending' as const,
    created_at: stamp,
    updated_at: stamp,
    version: 1,
    updated_by: 'bench',
  };
  const position = `8269${id.toString(16).toUpperCase().padStart(24, '0')}2B0229296E04`;
  const facts = { committedAt: at, actor: 'bench', previous: null };
  return historyDocument({ kind: 'created', position, id, order, before: null, facts }, null, at);
}

/**
 * Measures the floor: `rounds` passes of `entries` entries each in batches of `batch`, after one unmeasured pass;
 * answers the median pass.
 */
export async function measureHistoryFloor(entries = 20_000, batch = 100, rounds = 3): Promise<HistoryFloor> {
  const engine = await Child.start('engine', './engine.ts');
  const client = new MongoClient(await engine.call<string>('uri'));
  try {
    const history = createHistoryRepository(client.db('orders').collection<HistoryDocument>(HISTORY_COLLECTION));
    await history.ensureIndexes(90);
    let nextId = 1;
    const passes: { driver: number; engine: number }[] = [];
    for (let round = 0; round <= rounds; round++) {
      const documents = Array.from({ length: entries }, () => createdEntry(nextId++));
      const e0 = await engine.call<Usage>('usage');
      const c0 = process.cpuUsage();
      for (let at = 0; at < documents.length; at += batch) await history.insertMissing(documents.slice(at, at + batch));
      const driver = process.cpuUsage(c0);
      const e1 = await engine.call<Usage>('usage');
      // Round 0 warms up (JIT, connections, the first index pages): not kept.
      if (round > 0)
        passes.push({ driver: (driver.user + driver.system) / entries, engine: cpuMicros(e0, e1) / entries });
    }
    passes.sort((a, b) => a.driver + a.engine - (b.driver + b.engine));
    const middle = passes[Math.floor(passes.length / 2)] as { driver: number; engine: number };
    return { entries, batch, driverCpuUs: middle.driver, engineCpuUs: middle.engine };
  } finally {
    await client.close();
    await engine.stop();
  }
}
