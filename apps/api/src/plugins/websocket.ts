import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import { MAX_CLIENT_FRAME_BYTES } from '@orders/contracts';

/**
 * Raw WebSocket support for `GET /ws`. Frames over 64 KiB are refused by `ws` itself (close 1009),
 * so an oversized client frame never reaches the protocol handler. No permessage-deflate (ws's default, stated
 * here because the fan-out writes pre-framed messages straight to the connection, which compression forbids).
 * @see https://github.com/fastify/fastify-websocket
 */
const websocketPlugin: FastifyPluginAsync = async (fastify) => {
  await fastify.register(websocket, { options: { maxPayload: MAX_CLIENT_FRAME_BYTES, perMessageDeflate: false } });
};

export default fp(websocketPlugin, { name: 'websocket' });
