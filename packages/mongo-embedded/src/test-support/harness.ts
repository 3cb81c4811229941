import { MongoClient, type Collection, type Db, type MongoClientOptions } from 'mongodb';
import { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions } from '../index.js';

/** A running in-memory engine plus a driver client connected to it, for one test file. */
export interface Harness {
  server: EmbeddedServer;
  client: MongoClient;
  /** Opens another client to the same server; it is closed by `close()`. */
  newClient(options?: MongoClientOptions): Promise<MongoClient>;
  close(): Promise<void>;
}

/** Starts an engine on an ephemeral port and connects a 7.x driver client to it. */
export async function startHarness(
  options: EmbeddedServerOptions = {},
  clientOptions: MongoClientOptions = {},
): Promise<Harness> {
  const server = await startEmbeddedServer({ port: 0, ...options });
  const clients: MongoClient[] = [];
  const newClient = async (opts: MongoClientOptions = {}): Promise<MongoClient> => {
    const c = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000, ...clientOptions, ...opts });
    clients.push(c);
    await c.connect();
    return c;
  };
  const client = await newClient();
  return {
    server,
    client,
    newClient,
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    },
  };
}

let counter = 0;
/** A database name unique within the test run, so tests sharing a server do not see each other's data. */
export function uniqueDbName(prefix = 'test'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}`;
}

/** The cursor part of a find/aggregate/getMore/listX reply, as the server sends it. */
export interface CursorReply<T = Record<string, unknown>> {
  cursor: {
    firstBatch?: T[];
    nextBatch?: T[];
    id: unknown;
    ns: string;
    postBatchResumeToken?: Record<string, unknown>;
  };
  ok: number;
}

/** Runs a raw command and types its reply (the driver types every reply field as `any`). */
export async function runCommand<T>(db: Db, command: Record<string, unknown>): Promise<T> {
  return (await db.command(command)) as T;
}

/** Index names of a collection, in listIndexes order. */
export async function indexNames(coll: Collection): Promise<string[]> {
  const specs = (await coll.listIndexes().toArray()) as { name: string }[];
  return specs.map((s) => s.name);
}
