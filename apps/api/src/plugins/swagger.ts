import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';

/**
 * The OpenAPI document, generated from the route schemas (the same ones that validate and serialize),
 * served at `/openapi.json`, with a browsable page at `/docs`.
 * @see https://github.com/fastify/fastify-swagger
 * @see https://github.com/fastify/fastify-swagger-ui
 */
/** SHA-256 of the <style> element swagger-ui 6.1.3's bundle adds to the page. */
const SWAGGER_UI_STYLE_HASH = 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=';

const swaggerPlugin: FastifyPluginAsync = async (fastify) => {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Real-time orders API',
        version: '1.0.0',
        description:
          'CRUD over orders; every change is pushed to WebSocket clients at /ws. Errors share one body: ' +
          '`{ statusCode, error, code, message, field? }`, where `field` names the failing input as ' +
          '`<part>/<path>` (`body/status`, `querystring/cursor`, `params/id`, `headers/if-match`).',
      },
      tags: [
        { name: 'orders', description: 'Orders' },
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'auth', description: 'Sign-in, users and API tokens' },
      ],
    },
    // Name shared components after the contracts' $id (Order, OrderStatus) rather than def-0, def-1.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) =>
        typeof json.$id === 'string' ? json.$id : `def-${index}`,
    },
  });
  await fastify.register(swaggerUi, {
    routePrefix: '/docs',
    // The pinned swagger-ui bundle injects one fixed <style> element: the strict CSP (plugins/helmet.ts) allows
    // exactly that element on /docs, by hash. The Chromium test fails if an upgrade changes it.
    transformStaticCSP: (header) => header.replace("style-src 'self'", `style-src 'self' '${SWAGGER_UI_STYLE_HASH}'`),
  });
  fastify.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, () => fastify.swagger());
};

export default fp(swaggerPlugin, { name: 'swagger' });
