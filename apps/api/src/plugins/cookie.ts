import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import type { FastifyPluginAsync } from 'fastify';

/**
 * Cookie parsing and setting, for the dashboard's session cookie. Unsigned: the cookie holds a 256-bit random
 * secret whose hash is looked up server-side, so a signature would add nothing.
 * @see https://github.com/fastify/fastify-cookie
 */
const cookiePlugin: FastifyPluginAsync = async (fastify) => {
  await fastify.register(cookie, { hook: 'onRequest' });
};

export default fp(cookiePlugin, { name: 'cookie' });
