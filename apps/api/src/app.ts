import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyLoggerOptions,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AppConfig } from './config.js';
import { installErrorHandlers } from './error-handler.js';
import { parseJsonBody } from './json-body.js';
import authPlugin, { type AuthPluginOptions } from './plugins/auth.js';
import cookiePlugin from './plugins/cookie.js';
import corsPlugin from './plugins/cors.js';
import metricsPlugin from './plugins/metrics.js';
import helmetPlugin from './plugins/helmet.js';
import mongoPlugin from './plugins/mongo.js';
import rateLimitPlugin, { RefusalLog, refusedByRateLimit } from './plugins/rate-limit.js';
import { addressKey } from './rate-limit-key.js';
import realtimePlugin from './plugins/realtime.js';
import staticPlugin from './plugins/static.js';
import swaggerPlugin from './plugins/swagger.js';
import websocketPlugin from './plugins/websocket.js';
import authRoutes from './routes/auth.js';
import healthRoutes from './routes/health.js';
import historyRoutes from './routes/history.js';
import orderRoutes from './routes/orders.js';
import { requestTextError } from './strict-text.js';
import wsRoutes from './routes/ws.js';
import { typeBoxValidatorCompiler } from './validation.js';

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface BuildAppOptions {
  /** Logger options (server.ts), a logger instance, or `false` for none (tests); default: Fastify's logger at LOG_LEVEL. */
  logger?: FastifyLoggerOptions | FastifyBaseLogger | boolean;
  /** Sign-in throttling rules (tests use small ones); default: the production rules. */
  throttleRules?: AuthPluginOptions['throttleRules'];
}

/**
 * Fastify's request log lines, except for the rate limiter's refusals, which it sums per client per window: a flood
 * must not cost a log line per request (see docs/ARCHITECTURE.md, "Abuse limits").
 */
class RequestLog extends LogController {
  constructor(private readonly refusals: RefusalLog) {
    super();
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    // Decided before any hook runs: while an address is being refused, its requests are logged once, on completion.
    if (this.refusals.quiet(addressKey(request))) return;
    super.incomingRequest(request, reply);
  }

  override isLogDisabled(request: FastifyRequest): boolean {
    return refusedByRateLimit(request);
  }
}

/**
 * Builds the API: plugins, error handling and routes, registered explicitly. Nothing is started until
 * `ready()`/`listen()`; boot failures (bad database, unreachable server) surface there.
 */
export function buildApp(config: AppConfig, options: BuildAppOptions = {}): App {
  const { logger, throttleRules } = options;
  const refusals = new RefusalLog();
  const app = Fastify({
    logController: new RequestLog(refusals),
    ...(isLoggerInstance(logger) ? { loggerInstance: logger } : { logger: logger ?? { level: config.logLevel } }),
    bodyLimit: config.bodyLimitBytes,
    // A client gets this long to send a request, and an idle keep-alive connection is closed after this.
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    http: {
      headersTimeout: config.http.headersTimeoutMs,
      // Node checks both timeouts only this often (30 s by default), which would stretch every limit.
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(config.http.headersTimeoutMs / 4))),
    },
    // Behind N proxies, the client's address is N hops back in X-Forwarded-For (rate limits key on it).
    ...(config.trustProxyHops > 0
      ? { trustProxy: (_address: string, hop: number) => hop < config.trustProxyHops }
      : {}),
    // Refuse, rather than silently drop, keys that could pollute prototypes (our JSON parser enforces the same).
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Only used if a schema ever bypasses the TypeBox compiler: never strip unknown fields.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(typeBoxValidatorCompiler);
  // JSON only: a text/plain body must be a 415, not a string that later fails validation.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJsonBody);
  installErrorHandlers(app);
  // First of all hooks: nothing (rate limits, CORS, routes, logs) sees a request line or header it cannot trust.
  app.addHook('onRequest', (request, _reply, done) => {
    done(requestTextError(request.raw) ?? undefined);
  });

  app.register(cookiePlugin);
  app.register(helmetPlugin, { config });
  app.register(rateLimitPlugin, { config, refusals });
  // Before auth: its onRequest hook marks upgrade requests, so a refused upgrade's socket is destroyed after the answer.
  app.register(websocketPlugin);
  app.register(mongoPlugin, { config });
  // Before every plugin that adds routes: it records each route's declared access as it is registered.
  app.register(authPlugin, { config, ...(throttleRules !== undefined && { throttleRules }) });
  app.register(metricsPlugin, { config });
  app.register(corsPlugin, { config });
  app.register(swaggerPlugin);
  app.register(realtimePlugin, { config });
  app.register(staticPlugin, { config });
  app.register(healthRoutes);
  app.register(orderRoutes, { config });
  app.register(historyRoutes, { config });
  // The real-time stream: change feed → hub (plugins/realtime.ts) → this socket endpoint.
  app.register(wsRoutes, { config });
  app.register(authRoutes, { config });
  return app;
}

function isLoggerInstance(logger: BuildAppOptions['logger']): logger is FastifyBaseLogger {
  return typeof logger === 'object' && typeof (logger as Partial<FastifyBaseLogger>).child === 'function';
}
