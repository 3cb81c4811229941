import fp from 'fastify-plugin';
import helmet from '@fastify/helmet';
import type { FastifyPluginAsync } from 'fastify';
import type { AppConfig } from '../config.js';

/**
 * Security headers on every response. The CSP allows only the API's own origin: the built dashboard is one
 * module script and one stylesheet from /assets (no inline script or style), talks to the same origin over HTTP
 * and WebSocket, and its only non-file image is the data: favicon. Nothing may frame the pages; referrers are
 * never sent; windows and resources are isolated to the origin. HSTS is sent only behind TRUST_PROXY, where a
 * TLS-terminating proxy serves the API: over plain HTTP it would pin browsers to an HTTPS that does not exist.
 * See docs/ARCHITECTURE.md, "Abuse limits".
 * @see https://github.com/fastify/fastify-helmet
 */
const helmetPlugin: FastifyPluginAsync<{ config: AppConfig }> = async (fastify, { config }) => {
  const behindTls = config.trustProxyHops > 0;
  await fastify.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'base-uri': ["'none'"],
        'connect-src': ["'self'"],
        'font-src': ["'self'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        'img-src': ["'self'", 'data:'],
        'object-src': ["'none'"],
        'script-src': ["'self'"],
        'script-src-attr': ["'none'"],
        'style-src': ["'self'"],
        ...(behindTls ? { 'upgrade-insecure-requests': [] } : {}),
      },
    },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
    strictTransportSecurity: behindTls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  });
};

export default fp(helmetPlugin, { name: 'helmet' });
