import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Collection } from 'mongodb';
import { beforeAll } from 'vitest';
import { startEmbeddedServer } from '@orders/mongo-embedded';
import type { OrderDocument } from '../../src/orders/order-document.js';
import { foreignOrdersIn, type ForeignDocument } from './api.js';
import { closeAfterAll } from './app.js';

/** A database of its own for one test, as API processes (by name) and the test's driver see it. */
export interface TestDatabase {
  name: string;
  /** The orders collection, typed as the API writes it. */
  orders: Collection<OrderDocument>;
  /** The same collection, for documents written without the fields the API stamps. */
  foreign: Collection<ForeignDocument>;
}

/** An engine on a temporary data directory, for tests that run the API as real processes. */
export interface DiskEngine {
  readonly dataDir: string;
  readonly uri: string;
  /** A fresh database name (and its collections) for the next test. */
  freshDatabase: () => TestDatabase;
}

/**
 * Registers the hooks that start the engine on a temporary directory (in this process) with a driver on it before
 * the file's tests, and close both and remove the directory after them.
 */
export function useDiskEngine(prefix: string): DiskEngine {
  const closeLater = closeAfterAll();
  let dataDir: string | undefined;
  let uri: string | undefined;
  let driver: MongoClient | undefined;
  let runs = 0;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), `orders-${prefix}-`));
    dataDir = dir;
    closeLater(() => rm(dir, { recursive: true, force: true }));
    const engine = await startEmbeddedServer({ host: '127.0.0.1', port: 0, dbPath: dir });
    closeLater(() => engine.close());
    uri = engine.uri;
    const client = new MongoClient(engine.uri);
    driver = client;
    closeLater(() => client.close());
  });

  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the engine is not started (useDiskEngine runs in beforeAll)');
    return value;
  };
  return {
    get dataDir() {
      return started(dataDir);
    },
    get uri() {
      return started(uri);
    },
    freshDatabase: () => {
      runs += 1;
      const name = `${prefix}_${String(process.pid)}_${String(runs)}`;
      const db = started(driver).db(name);
      return { name, orders: db.collection<OrderDocument>('orders'), foreign: foreignOrdersIn(db) };
    },
  };
}
