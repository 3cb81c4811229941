import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import type { AppConfig } from '../config.js';
import { ErrorCode } from '@orders/contracts';
import { HttpError } from '../errors.js';
import { rateLimitKey } from '../rate-limit-key.js';

/**
 * Requests per client per window (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS) on every route registered after this
 * plugin; a route opts out or sets its own limit with `config.rateLimit` (the probes opt out, `GET /ws` counts
 * connection attempts with WS_CONNECT_RATE_MAX). Past the limit: 429 RATE_LIMITED with `Retry-After` and the
 * IETF draft `RateLimit-Limit`/`-Remaining`/`-Reset` headers, which every response under a limit carries.
 * See docs/ARCHITECTURE.md, "Abuse limits".
 * @see https://github.com/fastify/fastify-rate-limit
 */
const rateLimitPlugin: FastifyPluginAsync<{ config: AppConfig }> = async (fastify, { config }) => {
  await fastify.register(rateLimit, {
    global: config.rateLimit.max > 0,
    max: config.rateLimit.max,
    timeWindow: config.rateLimit.windowMs,
    keyGenerator: rateLimitKey,
    enableDraftSpec: true,
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, ErrorCode.RateLimited, `Too many requests; retry in ${context.after}`),
  });
};

/** The route-level setting for `GET /ws`: connection attempts per client per window, or none. */
export function wsConnectRateLimit(config: AppConfig): { max: number; timeWindow: number } | false {
  return config.rateLimit.wsConnectMax > 0
    ? { max: config.rateLimit.wsConnectMax, timeWindow: config.rateLimit.windowMs }
    : false;
}

export default fp(rateLimitPlugin, { name: 'rate-limit' });
