import { afterAll, afterEach, beforeAll } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import type { Collection, Db, ObjectId } from 'mongodb';
import type { OrderEvent } from '@orders/contracts';
import { buildApp, type App } from '../../src/app.js';
import type { AppConfig } from '../../src/config.js';
import type { OrderDocument } from '../../src/orders/order-document.js';
import { startDatabase, testConfig, type EmbeddedDatabase } from './app.js';
import { actingAs, createToken, startAppAsAdmin } from './auth.js';
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

/** A database and an app for one test file about who may do what: the app itself and the app as an admin. */
export interface AccessApiUnderTest {
  /** The app with no principal: every request and socket brings its own credentials. */
  readonly app: App;
  /** The same app acting as an unscoped admin named `root` (see `actingAs`). */
  readonly admin: App;
  readonly database: EmbeddedDatabase;
  /** http://127.0.0.1:port (needs `listen`). */
  readonly baseUrl: string;
  /** ws://127.0.0.1:port/ws (needs `listen`). */
  readonly wsUrl: string;
  /** Connects with `headers` and subscribes; the socket is closed at the end of the file. */
  subscribe: (headers: Record<string, string>, message?: Record<string, unknown>) => Promise<TestClient>;
  /** The same on another server's `url`. */
  subscribeTo: (url: string, headers: Record<string, string>, message?: Record<string, unknown>) => Promise<TestClient>;
}

/** How `ApiHooks` gives the app an admin, listens and closes sockets. */
interface Principal {
  /** The name of the admin token. */
  adminName: string;
  /** Which app listens: sockets bring the credentials registered by its `listen` (the admin's) or none. */
  listener: (bare: App, admin: App) => App;
  /** Close sockets after each test, or at the end (for files that open them in `beforeAll`). */
  closeSockets: 'afterEach' | 'afterAll';
}

/** The socket URL of an app listening at `baseUrl` (http://127.0.0.1:port). */
export function socketUrl(baseUrl: string): string {
  return `${baseUrl.replace('http', 'ws')}/ws`;
}

/** Reads what a `beforeAll` hook set, with a clear error when a test reads it too early. */
function started<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} (the hooks run in beforeAll)`);
  return value;
}

/**
 * Registers the hooks that start a database and the app before the file's tests, close the sockets tests opened,
 * and close the app and the database at the end; the handles `useApi` and `useAccessApi` return build on it.
 */
class ApiHooks {
  #database: EmbeddedDatabase | undefined;
  #bare: App | undefined;
  #admin: App | undefined;
  #baseUrl: string | undefined;
  readonly #clients: TestClient[] = [];

  constructor(options: ApiOptions, principal: Principal) {
    beforeAll(async () => {
      const database = await (options.database ?? startDatabase)();
      this.#database = database;
      const env = typeof options.env === 'function' ? await options.env(database) : options.env;
      const build = options.build ?? ((config: AppConfig) => buildApp(config, { logger: false }));
      const bare = build(testConfig(database.uri, env));
      this.#bare = bare;
      await bare.ready();
      const admin = actingAs(bare, await createToken(bare, 'admin', { name: principal.adminName }));
      this.#admin = admin;
      if (options.listen === true) {
        this.#baseUrl = await principal.listener(bare, admin).listen({ port: 0, host: '127.0.0.1' });
      }
    });
    const closeSockets = async () => {
      for (const client of this.#clients.splice(0)) await client.close();
    };
    if (principal.closeSockets === 'afterEach') afterEach(closeSockets);
    afterAll(async () => {
      await closeSockets();
      await this.#bare?.close();
      await this.#database?.close();
    });
  }

  get database(): EmbeddedDatabase {
    return started(this.#database, 'the database is not started');
  }
  /** The app with no principal. */
  protected get bare(): App {
    return started(this.#bare, 'the app is not started');
  }
  /** The app acting as an unscoped admin. */
  get admin(): App {
    return started(this.#admin, 'the app is not started');
  }
  get baseUrl(): string {
    return started(this.#baseUrl, 'the app does not listen: pass { listen: true }');
  }
  get wsUrl(): string {
    return socketUrl(this.baseUrl);
  }
  /** Closes `client` after the test, or at the end of the file (see `Principal`). */
  readonly closeAfterTest = (client: TestClient): TestClient => {
    this.#clients.push(client);
    return client;
  };
}

/** `useApi`'s handle: the app as an unscoped admin. */
class OrdersApi extends ApiHooks implements ApiUnderTest {
  get app(): App {
    return this.admin;
  }
  readonly orders = () => this.app.mongo.orders;
  readonly foreignOrders = () => foreignOrdersIn(this.app.mongo.db);
  readonly subscribe = async (message: Record<string, unknown> = {}) =>
    this.closeAfterTest(await TestClient.subscribe(this.wsUrl, message));
  readonly connect = async () => this.closeAfterTest(await TestClient.connect(this.wsUrl));
  readonly post = (body: unknown, headers?: Record<string, string>) => this.send('POST', '/orders', body, headers);
  readonly put = (id: number | string, body: unknown, headers?: Record<string, string>) =>
    this.send('PUT', `/orders/${id}`, body, headers);

  private send(method: 'POST' | 'PUT', url: string, body: unknown, headers: Record<string, string> = {}) {
    return this.app.inject({
      method,
      url,
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    });
  }
}

/** `useAccessApi`'s handle: the app with no principal, and the same app as an admin. */
class AccessApi extends ApiHooks implements AccessApiUnderTest {
  get app(): App {
    return this.bare;
  }
  readonly subscribe = (headers: Record<string, string>, message: Record<string, unknown> = {}) =>
    this.subscribeTo(this.wsUrl, headers, message);
  readonly subscribeTo = async (url: string, headers: Record<string, string>, message: Record<string, unknown> = {}) =>
    this.closeAfterTest(await TestClient.subscribe(url, message, headers));
}

/**
 * Registers the hooks that start a database and the app before the file's tests, close every socket a test
 * opened after it, and close the app and the database at the end. The app acts as an unscoped admin: these tests
 * are about orders and the stream, not about who may use them.
 */
export function useApi(options: ApiOptions = {}): ApiUnderTest {
  return new OrdersApi(options, {
    adminName: 'test-admin',
    listener: (_bare, admin) => admin,
    closeSockets: 'afterEach',
  });
}

/**
 * Like `useApi`, for tests of access control: the app answers as nobody unless a request says who it is, and
 * `admin` is the same app as an unscoped admin named `root`. When it listens, sockets carry only the headers a
 * test gives them, and stay open until the end of the file (tests may share sockets opened in `beforeAll`).
 */
export function useAccessApi(options: ApiOptions = {}): AccessApiUnderTest {
  return new AccessApi(options, { adminName: 'root', listener: (bare) => bare, closeSockets: 'afterAll' });
}

/** An app started by `useDatabaseForApps`, listening on 127.0.0.1. */
export interface ListeningApp {
  app: App;
  port: number;
  /** ws://127.0.0.1:port/ws */
  wsUrl: string;
}

/** One database for a test file whose tests start several apps on it. */
export interface DatabaseForApps {
  readonly database: EmbeddedDatabase;
  /** Starts an app as an unscoped admin on `config` and listens; it is closed at the end of the file. */
  listening: (config: AppConfig) => Promise<ListeningApp>;
  /** Connects to `url` and subscribes with the credentials registered for its port; closed after the test. */
  subscribe: (url: string, message?: Record<string, unknown>) => Promise<TestClient>;
  /** Closes `client` after the test. */
  closeAfterTest: (client: TestClient) => TestClient;
}

/**
 * Registers the hooks that start one database before the file's tests, close every socket a test subscribed after
 * it, and close every app `listening` started and the database at the end.
 */
export function useDatabaseForApps(): DatabaseForApps {
  let database: EmbeddedDatabase | undefined;
  const apps: App[] = [];
  const clients: TestClient[] = [];
  beforeAll(async () => {
    database = await startDatabase();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
  });
  afterAll(async () => {
    for (const app of apps.splice(0)) await app.close();
    await database?.close();
  });
  return {
    get database() {
      if (database === undefined) throw new Error('the database is not started (the hooks run in beforeAll)');
      return database;
    },
    listening: async (config) => {
      const app = await startAppAsAdmin(config);
      apps.push(app);
      const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
      return { app, port: Number(new URL(baseUrl).port), wsUrl: socketUrl(baseUrl) };
    },
    subscribe: async (url, message = {}) => track(await TestClient.subscribe(url, message)),
    closeAfterTest: track,
  };

  function track(client: TestClient): TestClient {
    clients.push(client);
    return client;
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
