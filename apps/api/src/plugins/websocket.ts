import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import { MAX_CLIENT_FRAME_BYTES } from '@orders/contracts';
import { errorBody } from '../error-handler.js';
import { ErrorCode } from '@orders/contracts';
import { WS_PATH } from '../routes/ws.js';

export interface WebsocketPluginOptions {
  /** The only paths a WebSocket upgrade may reach (default: /ws); elsewhere an upgrade gets 404, never a 101. */
  upgradePaths?: readonly string[];
}

/**
 * Raw WebSocket support for `GET /ws`. Frames over 64 KiB are refused by `ws` itself (close 1009),
 * so an oversized client frame never reaches the protocol handler; so is a text frame that is not UTF-8
 * (close 1007, RFC 6455 §8.1). No permessage-deflate (ws's default, stated here because the fan-out writes
 * pre-framed messages straight to the connection, which compression forbids).
 * @see https://github.com/fastify/fastify-websocket
 */
const websocketPlugin: FastifyPluginAsync<WebsocketPluginOptions> = async (fastify, options) => {
  await fastify.register(websocket, { options: { maxPayload: MAX_CLIENT_FRAME_BYTES, perMessageDeflate: false } });
  // @fastify/websocket upgrades on any route (and closes at once where no handler takes the socket): that
  // accepts a connection it has no use for and answers the not-found fallback with a 101. Refuse instead.
  // Added after the plugin's own onRequest hook, which is what sets `request.ws`.
  const allowed = new Set(options.upgradePaths ?? [WS_PATH]);
  fastify.addHook('onRequest', async (request, reply) => {
    if (!request.ws) return;
    const path = request.routeOptions.url;
    if (path !== undefined && allowed.has(path)) return;
    const pathname = request.url.split('?', 1)[0] ?? request.url;
    return reply
      .code(404)
      .send(errorBody(404, ErrorCode.RouteNotFound, `No WebSocket endpoint at ${pathname}; connect to /ws`));
  });
};

export default fp(websocketPlugin, { name: 'websocket' });
