import fp from 'fastify-plugin';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginCallback } from 'fastify';
import { ErrorCode } from '@orders/contracts';
import type { AppConfig } from '../config.js';
import { errorBody } from '../error-handler.js';
import { ApiMetrics } from '../metrics/metrics.js';

/**
 * Prometheus metrics: every answered request is counted by route pattern; `/metrics` is never public. With
 * `METRICS_TOKEN` it is served on the API port to `Authorization: Bearer <token>`; with `METRICS_PORT` on a
 * separate listener bound to 127.0.0.1 (for a local agent or a sidecar), without a token. See
 * docs/ARCHITECTURE.md, "Configuration".
 * @see https://github.com/siimon/prom-client
 * @see https://github.com/fastify/fastify-plugin
 */
export interface MetricsDecorator {
  /** Null when /metrics is not served (neither METRICS_TOKEN nor METRICS_PORT): then nothing is recorded. */
  recorder: ApiMetrics | null;
  /** The separate metrics listener's port once listening (null without `METRICS_PORT`). */
  port(): number | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: MetricsDecorator;
  }
}

/** How long the scrape's database ping may take before the database counts as down. */
const PING_TIMEOUT_MS = 1000;

const metricsPlugin: FastifyPluginCallback<{ config: AppConfig }> = (fastify, { config }, done) => {
  const { token, port } = config.metrics;
  if (token === undefined && port === undefined) {
    fastify.decorate('metrics', { recorder: null, port: () => null } satisfies MetricsDecorator);
    done();
    return;
  }
  const recorder = new ApiMetrics({
    // Read at scrape time: the realtime plugin registers after this one.
    hub: () => fastify.realtime.stats(),
    historyPending: () => fastify.realtime.historyPending(),
    databaseUp: () => ping(() => fastify.mongo.db.command({ ping: 1 })),
  });
  let server: Server | null = null;

  fastify.decorate('metrics', {
    recorder,
    port: () => (server === null ? null : (server.address() as AddressInfo).port),
  } satisfies MetricsDecorator);

  fastify.addHook('onResponse', (request, reply, next) => {
    recorder.request(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime);
    next();
  });

  if (token !== undefined) {
    const expected = Buffer.from(`Bearer ${token}`);
    // Public to the access layer: this route checks its own token, which is no principal's.
    fastify.get('/metrics', { schema: { hide: true }, config: { access: 'public' } }, async (request, reply) => {
      const given = Buffer.from(request.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send(errorBody(401, ErrorCode.Unauthenticated, 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>'));
      }
      const { contentType, body } = await recorder.exposition();
      return reply.type(contentType).send(body);
    });
  }

  if (port !== undefined) {
    fastify.addHook('onReady', async () => {
      server = createServer((request, response) => {
        if (request.method !== 'GET' || request.url !== '/metrics') {
          response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
          return;
        }
        recorder.exposition().then(
          ({ contentType, body }) => response.writeHead(200, { 'content-type': contentType }).end(body),
          (err: unknown) => {
            fastify.log.error({ err }, 'metrics: exposition failed');
            response.writeHead(500).end();
          },
        );
      });
      const listening = server;
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(port, '127.0.0.1', () => {
          listening.off('error', reject);
          resolve();
        });
      });
    });
    fastify.addHook('onClose', async () => {
      const listening = server;
      if (listening === null) return;
      listening.closeAllConnections();
      await new Promise<void>((resolve) => listening.close(() => resolve()));
    });
  }
  done();
};

async function ping(command: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)));
  try {
    return await Promise.race([command().then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export default fp(metricsPlugin, { name: 'metrics', dependencies: ['mongo'] });
