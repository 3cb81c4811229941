import { afterAll, afterEach, beforeAll } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import type { Collection, Db, ObjectId } from 'mongodb';
import type { OrderEvent } from '@orders/contracts';
import { buildApp, type App } from '../../src/app.js';
import type { AppConfig } from '../../src/config.js';
import type { OrderDocument } from '../../src/orders/order-document.js';
import { startDatabase, testConfig, type EmbeddedDatabase } from './app.js';
import { actingAs, createToken } from './auth.js';
import { TestClient } from './ws-client.js';

/**
 * What another client (mongosh, a script) may store in the orders collection: any `_id`, any fields. Tests write
 * such documents through this type instead of casting them to `OrderDocument`.
 */
export type ForeignDocument = { _id: number | string | ObjectId } & Record<string, unknown>;

/** The orders collection of `db`, for documents other clients could have written. */
export function foreignOrdersIn(db: Db): Collection<ForeignDocument> {
  return db.collection<ForeignDocument>('orders');
}

export interface ApiOptions {
  /** Extra environment for the app's config (a function when it depends on the database or on setup). */
  env?: Record<string, string> | ((database: EmbeddedDatabase) => Promise<Record<string, string>>);
  /** Starts the database (default: an in-memory engine on an ephemeral port). */
  database?: () => Promise<EmbeddedDatabase>;
  /** Listen on 127.0.0.1:0 so real sockets can connect (default false: `app.inject` only). */
  listen?: boolean;
  /** Builds the app (default: `buildApp` without logging); `useApi` waits for `ready()`. */
  build?: (config: AppConfig) => App;
}

/** A database and an app started for one test file, with the request and socket helpers the tests share. */
export interface ApiUnderTest {
  readonly app: App;
  readonly database: EmbeddedDatabase;
  /** ws://127.0.0.1:port/ws (needs `listen`). */
  readonly wsUrl: string;
  /** The orders collection, typed as the API writes it. */
  orders: () => Collection<OrderDocument>;
  /** The orders collection, for documents other clients could have written. */
  foreignOrders: () => Collection<ForeignDocument>;
  /** Connects and subscribes; the socket is closed after the test. */
  subscribe: (message?: Record<string, unknown>) => Promise<TestClient>;
  /** Connects without subscribing; the socket is closed after the test. */
  connect: () => Promise<TestClient>;
  /** Closes `client` after the test (for clients of other servers). */
  closeAfterTest: (client: TestClient) => TestClient;
  /** POST /orders with a JSON body. */
  post: (body: unknown, headers?: Record<string, string>) => Promise<LightMyRequestResponse>;
  /** PUT /orders/:id with a JSON body. */
  put: (id: number | string, body: unknown, headers?: Record<string, string>) => Promise<LightMyRequestResponse>;
}

/**
 * Registers the hooks that start a database and the app before the file's tests, close every socket a test
 * opened after it, and close the app and the database at the end.
 */
export function useApi(options: ApiOptions = {}): ApiUnderTest {
  let database: EmbeddedDatabase | undefined;
  let app: App | undefined;
  let wsUrl: string | undefined;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    database = await (options.database ?? startDatabase)();
    const env = typeof options.env === 'function' ? await options.env(database) : options.env;
    const build = options.build ?? ((config: AppConfig) => buildApp(config, { logger: false }));
    const built = build(testConfig(database.uri, env));
    await built.ready();
    // As an unscoped admin: these tests are about orders and the stream, not about who may use them.
    app = actingAs(built, await createToken(built, 'admin', { name: 'test-admin' }));
    if (options.listen === true) {
      await app.listen({ port: 0, host: '127.0.0.1' });
      wsUrl = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/ws`;
    }
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
  });
  afterAll(async () => {
    await app?.close();
    await database?.close();
  });

  const started = (): App => {
    if (app === undefined) throw new Error('the app is not started (useApi runs in beforeAll)');
    return app;
  };
  const send = (method: 'POST' | 'PUT', url: string, body: unknown, headers: Record<string, string> = {}) =>
    started().inject({
      method,
      url,
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    });
  const track = (client: TestClient): TestClient => {
    clients.push(client);
    return client;
  };

  return {
    get app() {
      return started();
    },
    get database() {
      if (database === undefined) throw new Error('the database is not started (useApi runs in beforeAll)');
      return database;
    },
    get wsUrl() {
      if (wsUrl === undefined) throw new Error('the app does not listen: pass { listen: true } to useApi');
      return wsUrl;
    },
    orders: () => started().mongo.orders,
    foreignOrders: () => foreignOrdersIn(started().mongo.db),
    subscribe: async (message = {}) => track(await TestClient.subscribe(useUrl(), message)),
    connect: async () => track(await TestClient.connect(useUrl())),
    closeAfterTest: track,
    post: (body, headers) => send('POST', '/orders', body, headers),
    put: (id, body, headers) => send('PUT', `/orders/${id}`, body, headers),
  };

  function useUrl(): string {
    if (wsUrl === undefined) throw new Error('the app does not listen: pass { listen: true } to useApi');
    return wsUrl;
  }
}

/** An event as [type, id, version] (version null for deletes and departures), for order-and-content assertions. */
export function summary(event: OrderEvent): [string, number, number | null] {
  return 'order' in event ? [event.type, event.order.id, event.order.version] : [event.type, event.id, null];
}

/** The order ids of a client's events, in arrival order. */
export function eventIds(client: TestClient): number[] {
  return client.events().map((event) => ('order' in event ? event.order.id : event.id));
}
