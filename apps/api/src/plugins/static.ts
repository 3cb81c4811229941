import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import type { AppConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** True when WEB_DIST_DIR holds a built dashboard (index.html); the not-found handler falls back to it. */
    dashboardAvailable: boolean;
  }
}

/**
 * Serves the built dashboard from WEB_DIST_DIR at `/`. Unknown non-API GET paths fall back to index.html
 * (see the not-found handler) so client-side routes survive a reload.
 * @see https://github.com/fastify/fastify-static
 */
const staticPlugin: FastifyPluginAsync<{ config: AppConfig }> = async (fastify, { config }) => {
  const available = existsSync(join(config.webDistDir, 'index.html'));
  fastify.decorate('dashboardAvailable', available);
  if (!available) {
    fastify.log.warn(`dashboard not served: no index.html in ${config.webDistDir} (run npm run build)`);
    return;
  }
  await fastify.register(fastifyStatic, {
    root: config.webDistDir,
    prefix: '/',
    index: ['index.html'],
    setHeaders(reply, path) {
      // Vite fingerprints everything under assets/, so those never change; index.html must be revalidated.
      const fingerprinted = path.includes(join('/', 'assets', '/'));
      reply.header('cache-control', fingerprinted ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
};

export default fp(staticPlugin, { name: 'static' });
