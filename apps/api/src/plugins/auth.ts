import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyRequest, RouteOptions } from 'fastify';
import { roleAllows, SESSION_COOKIE, type Role } from '@orders/contracts';
import type { AppConfig } from '../config.js';
import { ensureInitialAdmin } from '../auth/bootstrap.js';
import { LiveConnections } from '../auth/live.js';
import type { Credential, Principal } from '../auth/principal.js';
import { createAuthService, type AuthService, type AuthServiceOptions } from '../auth/service.js';
import { AuthWatcher } from '../auth/watcher.js';
import { ErrorCode } from '@orders/contracts';
import { forbidden, HttpError, unauthenticated } from '../errors.js';

/** Who may use a route: anyone (`public`), or a principal with at least this role. */
export type Access = 'public' | Role;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Every route declares this next to its schema; a route without one is refused to everyone. */
    access?: Access;
  }
  interface FastifyRequest {
    /** The authenticated caller, set before the handler of any non-public route runs. */
    principal: Principal | null;
    credential: Credential | null;
  }
  interface FastifyInstance {
    auth: AuthDecorator;
  }
}

/** One route and who may use it (`undefined`: undeclared, refused to everyone). */
export interface RouteAccess {
  method: string;
  url: string;
  access: Access | undefined;
}

export interface AuthDecorator {
  service: AuthService;
  /** Live WebSockets by credential, closed when the credential ends. */
  live: LiveConnections;
  /** Every route registered so far with its access (the declaration test enumerates this). */
  routes(): readonly RouteAccess[];
  /** Reads the request's credentials; null when there are none or they are not valid. */
  principalOf(request: FastifyRequest): Promise<{ principal: Principal; credential: Credential } | null>;
  /**
   * True when the request may carry ambient credentials from where it came: its `Origin` is this server's or
   * one in CORS_ORIGIN, and Fetch Metadata does not say cross-site. `requireOrigin`: a missing Origin fails.
   */
  sameSite(request: FastifyRequest, requireOrigin: boolean): boolean;
}

export interface AuthPluginOptions extends AuthServiceOptions {
  config: AppConfig;
}

/**
 * Routes registered by third-party plugins, which cannot carry our `config.access`: the dashboard's static
 * files (and its sign-in page), the API description (`/docs`, which documents routes, never data) and CORS
 * preflights (which carry no credentials and answer nothing but headers).
 */
function pluginRouteAccess(route: RouteOptions): Access | undefined {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (methods.every((method) => method === 'OPTIONS') && route.url === '*') return 'public';
  if (route.url === '/docs' || route.url.startsWith('/docs/')) return 'public';
  if (route.url === '/' || route.url === '/*') return 'public';
  return undefined;
}

/** Query parameters that would put a credential in a URL, where logs, history and Referer keep it. */
const CREDENTIAL_PARAMETERS = new Set(['token', 'access_token', 'api_key', 'apikey', 'key', 'session', 'password']);

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Identity and access control on every route and the stream's upgrade: resolves `request.principal` from the
 * session cookie or `Authorization: Bearer`, enforces each route's declared access (401/403), refuses
 * cross-site cookie writes and credentials in URLs. See docs/ARCHITECTURE.md, "Access control".
 */
const authPlugin: FastifyPluginAsync<AuthPluginOptions> = async (fastify, options) => {
  const { config } = options;
  const service = createAuthService(fastify.mongo.db, config, options);
  const log = fastify.log.child({ component: 'auth' });
  const live = new LiveConnections({
    recheck: (credential) => service.recheck(credential),
    onError: (err) => log.warn({ err }, 'auth: could not check a live credential; retrying'),
  });
  const watcher = new AuthWatcher(fastify.mongo.db, live, log);
  const routes: RouteAccess[] = [];

  fastify.decorateRequest('principal', null);
  fastify.decorateRequest('credential', null);

  fastify.addHook('onRoute', (route) => {
    const access = route.config?.access ?? pluginRouteAccess(route);
    if (access !== undefined) route.config = { ...route.config, access };
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      routes.push({ method, url: route.url, access });
    }
  });

  function sameSite(request: FastifyRequest, requireOrigin: boolean): boolean {
    const origin = request.headers.origin;
    const listed = origin !== undefined && config.corsOrigins.includes(origin);
    const site = request.headers['sec-fetch-site'];
    if (site === 'cross-site' && !listed) return false;
    if (origin === undefined) return !requireOrigin;
    return listed || origin === `${request.protocol}://${request.host}`;
  }

  async function principalOf(request: FastifyRequest) {
    const authorization = request.headers.authorization;
    const result = await service.authenticate(authorization, request.cookies[SESSION_COOKIE]);
    return result.status === 'authenticated' ? { principal: result.principal, credential: result.credential } : null;
  }

  fastify.addHook('onRequest', async (request) => {
    for (const name of Object.keys(request.query as Record<string, unknown>)) {
      if (CREDENTIAL_PARAMETERS.has(name.toLowerCase())) {
        throw new HttpError(400, ErrorCode.CredentialsInUrl, 'Credentials are never accepted in the URL', {
          field: `querystring/${name}`,
        });
      }
    }
    const upgrade = request.headers.upgrade?.toLowerCase() === 'websocket';
    if (upgrade) {
      if (request.routeOptions.url !== '/ws') {
        throw new HttpError(404, ErrorCode.RouteNotFound, 'WebSocket upgrades are served at /ws only');
      }
      // Cross-site WebSocket hijacking: a browser sends the cookie with any page's upgrade, but always its Origin.
      if (!sameSite(request, false)) throw forbidden('WebSocket connections from this origin are refused');
    }
    if (request.is404) return;
    const access = request.routeOptions.config.access;
    if (access === undefined) {
      request.log.error({ url: request.routeOptions.url }, 'auth: route declares no access; refused');
      throw forbidden('This route is not available');
    }
    if (access === 'public') return;

    const result = await service.authenticate(request.headers.authorization, request.cookies[SESSION_COOKIE]);
    if (result.status === 'anonymous') throw unauthenticated();
    if (result.status === 'invalid') throw unauthenticated(result.reason);
    request.principal = result.principal;
    request.credential = result.credential;
    request.log = request.log.child({ actor: result.principal.name });
    if (!roleAllows(result.principal.role, access)) {
      throw forbidden(`This needs the ${access} role; ${result.principal.name} is ${result.principal.role}`);
    }
    // A cookie rides along on any site's request; a bearer header never does, so it needs no origin check.
    if (result.credential.kind === 'session' && !SAFE_METHODS.has(request.method) && !sameSite(request, true)) {
      throw forbidden('A signed-in change must come from this site (its Origin is missing or foreign)');
    }
  });

  await service.ensureIndexes();
  await ensureInitialAdmin(service.users, service.hasher, {
    password: config.auth.adminPassword,
    dataDir: config.dataDir,
    log,
  });

  fastify.decorate('auth', {
    service,
    live,
    routes: () => routes,
    principalOf,
    sameSite,
  } satisfies AuthDecorator);

  fastify.addHook('onReady', async () => {
    await watcher.start();
  });
  fastify.addHook('onClose', async () => {
    live.close();
    await watcher.close();
  });
};

export default fp(authPlugin, { name: 'auth', dependencies: ['mongo', 'cookie'] });
