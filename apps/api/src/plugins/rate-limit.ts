import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config.js';
import { ErrorCode } from '@orders/contracts';
import { HttpError } from '../errors.js';
import { addressKey, rateLimitKey } from '../rate-limit-key.js';

const counted = Symbol('rate-limit.inFlight');

declare module 'fastify' {
  interface FastifyRequest {
    [counted]?: string;
  }
}

function limited(seconds: number, headers: Record<string, string> = {}): HttpError {
  return new HttpError(429, ErrorCode.RateLimited, `Too many requests; retry in ${String(seconds)} seconds`, {
    headers: { 'retry-after': String(seconds), ...headers },
  });
}

/** Routes under the global limits: not the probes (`rateLimit: false`), not `GET /ws` (its own connect limit). */
function globallyLimited(request: FastifyRequest): boolean {
  return request.routeOptions.config.rateLimit === undefined && !request.is404;
}

/**
 * Three layers, cheapest first, on every route registered after this plugin (the probes opt out with
 * `config.rateLimit: false`; `GET /ws` counts connection attempts with WS_CONNECT_RATE_MAX instead):
 * - per address, before credentials are read (RATE_LIMIT_ADDRESS_MAX): bogus credentials cost no lookup past it;
 * - per principal once authenticated, per address before (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS), so two users
 *   behind one address have their own budgets and one token used from two machines shares one;
 * - requests in flight per principal or address (RATE_LIMIT_IN_FLIGHT), answered at once with 429 past it, so
 *   one client's burst cannot queue up the whole process before its window's budget runs out.
 * Past a limit: 429 RATE_LIMITED with `Retry-After`; the window limits also send the IETF draft
 * `RateLimit-Limit`/`-Remaining`/`-Reset` headers on every response. See docs/ARCHITECTURE.md, "Abuse limits".
 * @see https://github.com/fastify/fastify-rate-limit
 */
const rateLimitPlugin: FastifyPluginAsync<{ config: AppConfig }> = async (fastify, { config }) => {
  const { max, addressMax, inFlight, windowMs } = config.rateLimit;
  await fastify.register(rateLimit, {
    global: max > 0,
    max,
    timeWindow: windowMs,
    // After the auth plugin's onRequest hook has resolved the principal, before the body is read.
    hook: 'preParsing',
    keyGenerator: rateLimitKey,
    enableDraftSpec: true,
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, ErrorCode.RateLimited, `Too many requests; retry in ${context.after}`),
  });

  if (addressMax > 0) {
    const addressLimit = fastify.createRateLimit({ max: addressMax, timeWindow: windowMs, keyGenerator: addressKey });
    // Registered before the auth plugin, so it runs before any credential is looked up.
    fastify.addHook('onRequest', async (request) => {
      if (!globallyLimited(request) && request.routeOptions.url !== '/ws') return;
      const result = await addressLimit(request);
      if (!result.isAllowed && result.isExceeded) throw limited(Math.max(1, result.ttlInSeconds));
    });
  }

  if (inFlight > 0) {
    const running = new Map<string, number>();
    const release = (request: FastifyRequest) => {
      const key = request[counted];
      if (key === undefined) return;
      request[counted] = undefined;
      const left = (running.get(key) ?? 1) - 1;
      if (left <= 0) running.delete(key);
      else running.set(key, left);
    };
    fastify.addHook('preParsing', (request, _reply, payload, done) => {
      if (!globallyLimited(request)) {
        done(null, payload);
        return;
      }
      const key = rateLimitKey(request);
      const now = running.get(key) ?? 0;
      if (now >= inFlight) {
        done(limited(1));
        return;
      }
      running.set(key, now + 1);
      request[counted] = key;
      done(null, payload);
    });
    fastify.addHook('onResponse', (request, _reply, done) => {
      release(request);
      done();
    });
    fastify.addHook('onRequestAbort', (request, done) => {
      release(request);
      done();
    });
  }
};

/** The route-level setting for `GET /ws`: connection attempts per client per window, or none. */
export function wsConnectRateLimit(config: AppConfig): { max: number; timeWindow: number } | false {
  return config.rateLimit.wsConnectMax > 0
    ? { max: config.rateLimit.wsConnectMax, timeWindow: config.rateLimit.windowMs }
    : false;
}

export default fp(rateLimitPlugin, { name: 'rate-limit' });
