import fp from 'fastify-plugin';
import cors from '@fastify/cors';
import type { FastifyPluginAsync } from 'fastify';
import type { AppConfig } from '../config.js';

/**
 * Cross-origin access for the configured origins only (by default the Vite dev server); same-origin needs none.
 * @see https://github.com/fastify/fastify-cors
 */
const corsPlugin: FastifyPluginAsync<{ config: AppConfig }> = async (fastify, { config }) => {
  await fastify.register(cors, {
    origin: config.corsOrigins.length === 0 ? false : config.corsOrigins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Content-Type', 'If-Match', 'Idempotency-Key', 'Authorization'],
    // The dashboard on a listed origin (the Vite dev server) signs in with the session cookie.
    credentials: true,
    exposedHeaders: ['ETag', 'Location', 'Idempotent-Replayed'],
    maxAge: 600,
  });
};

export default fp(corsPlugin, { name: 'cors' });
