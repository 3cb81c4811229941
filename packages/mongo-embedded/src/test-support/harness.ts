import {
  MongoClient,
  MongoServerError,
  type Collection,
  type Db,
  type Document,
  type MongoClientOptions,
} from 'mongodb';
import { afterAll, beforeAll } from 'vitest';
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

/**
 * A stored document whose `_id` has a known type and whose other fields are free: for collections whose tests store
 * documents of several shapes on purpose. Without it the driver types `_id` as an ObjectId.
 */
export type TestDoc<Id = number> = Document & { _id?: Id };

/** What `useEngine` hands a test file: the engine and client of the running file, and a fresh database per call. */
export interface Engine {
  readonly server: EmbeddedServer;
  readonly client: MongoClient;
  /** Opens another client to the same server; it is closed with the engine. */
  readonly newClient: (options?: MongoClientOptions) => Promise<MongoClient>;
  /** A database no other test uses, so tests sharing the engine do not see each other's data. */
  readonly freshDb: () => Db;
}

/**
 * Starts one in-memory engine and a connected client for the calling test file (or `describe` block) in its
 * `beforeAll`, and closes both in its `afterAll`. The accessors throw if read outside the tests they serve.
 */
export function useEngine(
  dbPrefix: string,
  options: EmbeddedServerOptions = {},
  clientOptions: MongoClientOptions = {},
): Engine {
  let running: Harness | undefined;
  beforeAll(async () => {
    running = await startHarness(options, clientOptions);
  });
  afterAll(async () => {
    await running?.close();
    running = undefined;
  });
  const current = (): Harness => {
    if (!running) throw new Error('the engine runs only between beforeAll and afterAll');
    return running;
  };
  return {
    get server() {
      return current().server;
    },
    get client() {
      return current().client;
    },
    newClient: (opts) => current().newClient(opts),
    freshDb: () => current().client.db(uniqueDbName(dbPrefix)),
  };
}

/**
 * Starts one in-memory engine without a client for the calling test file (or `describe` block), for tests that make
 * their own connections; returns the accessor of the running server.
 */
export function useServer(options: EmbeddedServerOptions = {}): () => EmbeddedServer {
  let running: EmbeddedServer | undefined;
  beforeAll(async () => {
    running = await startEmbeddedServer({ port: 0, ...options });
  });
  afterAll(async () => {
    await running?.close();
    running = undefined;
  });
  return () => {
    if (!running) throw new Error('the engine runs only between beforeAll and afterAll');
    return running;
  };
}

/** The server error a rejected driver call carries; fails the test if the call succeeded or failed otherwise. */
export async function errorOf(promise: Promise<unknown>): Promise<MongoServerError> {
  const outcome = await promise.then(
    () => null,
    (err: unknown) => err,
  );
  if (outcome instanceof MongoServerError) return outcome;
  const got =
    outcome === null ? 'success' : outcome instanceof Error ? `${outcome.name}: ${outcome.message}` : typeof outcome;
  throw new Error(`expected a MongoServerError, got ${got}`);
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
export async function indexNames<T extends Document>(coll: Collection<T>): Promise<string[]> {
  const specs = (await coll.listIndexes().toArray()) as { name: string }[];
  return specs.map((s) => s.name);
}
