import type { InjectOptions } from 'fastify';
import WebSocket from 'ws';
import type { Role, Scope } from '@orders/contracts';
import type { App } from '../../src/app.js';
import { startApp, TEST_ADMIN_PASSWORD } from './app.js';
import type { AppConfig } from '../../src/config.js';
import type { BuildAppOptions } from '../../src/app.js';

/** Creates an API token straight in the app's store; returns its secret. */
export async function createToken(
  app: App,
  role: Role,
  options: { scope?: Scope | null; name?: string; expiresAt?: Date } = {},
): Promise<string> {
  const { secret } = await app.auth.service.tokens.create({
    name: options.name ?? `test-${role}`,
    role,
    scope: options.scope ?? null,
    expiresAt: options.expiresAt ?? new Date(Date.now() + 3_600_000),
    createdBy: 'admin',
  });
  return secret;
}

/** Creates a user straight in the app's store; returns its id. */
export async function createUser(
  app: App,
  username: string,
  role: Role,
  options: { scope?: Scope | null; password?: string } = {},
): Promise<string> {
  const result = await app.auth.service.users.create({
    username,
    passwordHash: await app.auth.service.hasher.hash(options.password ?? TEST_ADMIN_PASSWORD),
    role,
    scope: options.scope ?? null,
  });
  if (result.status !== 'created') throw new Error(`user ${username} exists`);
  return result.user._id.toHexString();
}

/** Signs in through `POST /auth/login`; returns the `Cookie` header value of the session. */
export async function signIn(app: App, username: string, password = TEST_ADMIN_PASSWORD): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username, password },
  });
  if (response.statusCode !== 200) throw new Error(`sign-in failed: ${response.statusCode} ${response.body}`);
  const cookie = response.cookies.find((c) => c.name === 'orders_session');
  if (cookie === undefined) throw new Error('no session cookie');
  return `${cookie.name}=${cookie.value}`;
}

/** `Authorization` header for a token. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Upgrade headers by listening port, so a test's sockets authenticate as the app they connect to. */
const credentialsByPort = new Map<string, Record<string, string>>();

/** Remembers the headers sockets to `url`'s port connect with (see `credentialsFor`). */
export function registerCredentials(url: string, headers: Record<string, string>): void {
  credentialsByPort.set(new URL(url).port, headers);
}

/** The headers registered for `url`'s port (none when nothing was registered: an anonymous socket). */
export function credentialsFor(url: string): Record<string, string> {
  return credentialsByPort.get(new URL(url).port) ?? {};
}

/**
 * Starts the app and returns it acting as an unscoped admin (see `actingAs`): what tests written before access
 * control need to keep testing what they test.
 */
export async function startAppAsAdmin(config: AppConfig, options: Omit<BuildAppOptions, 'logger'> = {}): Promise<App> {
  const app = await startApp(config, options);
  return actingAs(app, await createToken(app, 'admin', { name: 'test-admin' }));
}

/**
 * The app as one principal: `inject` adds its `Authorization` header unless the request sets its own, and once it
 * listens, sockets to its port (through `TestClient`) send it too, so tests written before access control keep
 * their requests as they were. Everything else is the app itself.
 */
export function actingAs(app: App, token: string): App {
  const inject = (options: InjectOptions | string) => {
    const request: InjectOptions = typeof options === 'string' ? { url: options } : options;
    const headers = { ...bearer(token), ...(request.headers ?? {}) };
    return app.inject({ ...request, headers });
  };
  const listen = async (options: { port: number; host: string }): Promise<string> => {
    const address = await app.listen(options);
    registerCredentials(address, bearer(token));
    return address;
  };
  return new Proxy(app, {
    get(target, property) {
      if (property === 'inject') return inject;
      if (property === 'listen') return listen;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The HTTP status the upgrade got: 101 when it opened (then closed again), else the refusal's status. */
export function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

/** `fetch` with the credentials registered for the URL's port (see `registerCredentials`) added to its headers. */
export function authFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(credentialsFor(url))) if (!headers.has(name)) headers.set(name, value);
  return fetch(url, { ...init, headers });
}

/** The `Authorization` header line (with its CRLF) registered for a local port, for hand-written HTTP requests. */
export function rawAuthorization(port: number): string {
  const { authorization } = credentialsFor(`http://127.0.0.1:${port}`);
  return authorization === undefined ? '' : `Authorization: ${authorization}\r\n`;
}
