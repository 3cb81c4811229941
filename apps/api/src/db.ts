import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import type { AppConfig } from './config.js';

/** What the rest of the API gets: a connected driver. Nothing else knows which server is behind it. */
export interface Database {
  client: MongoClient;
  db: Db;
  /** Closes the driver, then the embedded engine if this process started one. */
  close(): Promise<void>;
}

interface BootLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The server cannot be used; the message says why and how to fix it. server.ts prints it and exits 1. */
export class DatabaseBootError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseBootError';
  }
}

export const STANDALONE_MESSAGE =
  'MONGODB_URI points at a standalone mongod; change streams need a replica set: start mongod with --replSet rs0 and run rs.initiate()';

/**
 * Connects to MONGODB_URI (checking that it supports change streams), or starts the embedded engine in-process
 * on 127.0.0.1 with its data under DATA_DIR/db and connects the same driver to it.
 * See docs/ARCHITECTURE.md, "One data path".
 */
export async function connectDatabase(config: AppConfig, logger: BootLogger): Promise<Database> {
  const options: MongoClientOptions = {
    appName: 'orders-api',
    serverSelectionTimeoutMS: config.mongo.serverSelectionTimeoutMs,
    // Without a bound, a connection attempt to a blackholed host waits for the OS (minutes), not our timeout.
    connectTimeoutMS: config.mongo.serverSelectionTimeoutMs,
    writeConcern: { w: 'majority' },
  };
  if (config.mongo.uri !== undefined) return connectExternal(config.mongo.uri, config.mongo.dbName, options, logger);
  return startEmbedded(config, options, logger);
}

async function connectExternal(
  uri: string,
  dbName: string,
  options: MongoClientOptions,
  logger: BootLogger,
): Promise<Database> {
  const where = describeHosts(uri);
  const client = new MongoClient(uri, options);
  let hello: { setName?: unknown; msg?: unknown };
  try {
    await client.connect();
    hello = await client.db('admin').command({ hello: 1 });
  } catch (error) {
    await client.close().catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new DatabaseBootError(
      `Cannot reach MongoDB at ${where} (from MONGODB_URI): ${reason}. ` +
        'Start that server or correct the host and port in MONGODB_URI, or unset MONGODB_URI to use the embedded database.',
      { cause: error },
    );
  }
  // A replica-set member reports setName; a mongos reports msg: 'isdbgrid'. Both serve change streams.
  const isReplicaSet = typeof hello.setName === 'string' && hello.setName !== '';
  if (!isReplicaSet && hello.msg !== 'isdbgrid') {
    await client.close().catch(() => undefined);
    throw new DatabaseBootError(`${STANDALONE_MESSAGE} (server: ${where})`);
  }
  logger.info(`database: MongoDB at ${where}, database "${dbName}"`);
  return { client, db: client.db(dbName), close: () => client.close() };
}

async function startEmbedded(config: AppConfig, options: MongoClientOptions, logger: BootLogger): Promise<Database> {
  // Imported lazily: a deployment with MONGODB_URI never loads the engine.
  const { startEmbeddedServer } = await import('@orders/mongo-embedded');
  const dbPath = join(config.dataDir, 'db');
  await mkdir(dbPath, { recursive: true });
  const server = await startEmbeddedServer({ host: '127.0.0.1', port: 0, dbPath, logger });
  const client = new MongoClient(server.uri, options);
  try {
    await client.connect();
  } catch (error) {
    await server.close().catch(() => undefined);
    throw new DatabaseBootError(
      `The embedded database started at ${server.uri} but the driver could not connect to it`,
      {
        cause: error,
      },
    );
  }
  logger.info(`database: embedded engine at ${server.uri}, data in ${dbPath}, database "${config.mongo.dbName}"`);
  return {
    client,
    db: client.db(config.mongo.dbName),
    async close() {
      try {
        await client.close();
      } finally {
        await server.close();
      }
    },
  };
}

/** The host list of a connection string, without credentials or options: safe to print. */
export function describeHosts(uri: string): string {
  const match = /^mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?([^/?]+)/.exec(uri);
  return match?.[1] ?? 'the configured server';
}
