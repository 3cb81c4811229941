import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { WebSocket } from '@fastify/websocket';
import type { RawData } from 'ws';
import type { Scope } from '@orders/contracts';
import type { LiveConnections } from '../auth/live.js';
import type { AppConfig } from '../config.js';
import type { HubConnection, HubSocket } from '../realtime/hub/client.js';
import type { ClientIdentity } from '../realtime/hub/types.js';
import type { TextFrame } from '../realtime/text-frame.js';
import { CloseCode } from '@orders/contracts';
import { wsConnectRateLimit } from '../plugins/rate-limit.js';
import { addressKey, principalKey } from '../rate-limit-key.js';
import { watchFrameDeadline } from './ws-frame-deadline.js';

/** The WebSocket endpoint: the only path that accepts an upgrade. */
export const WS_PATH = '/ws';

/** The socket adapter's view of the hub. */
export interface SocketHub {
  /** `scope`: the principal's, confining what the socket receives; `identity`: whose replay budgets it draws on. */
  connect(socket: HubSocket, scope: Scope | null, identity?: ClientIdentity): HubConnection;
}

export interface WsRouteOptions {
  hub: SocketHub;
  /** Where each socket is tracked by the credential that opened it, to be closed when that ends (access control). */
  live?: LiveConnections;
  /** Ping every socket this often; one that has not answered the previous ping is terminated (default 30 s). */
  pingIntervalMs?: number;
  /** After the server closes a socket, the peer gets this long to answer the close before it is cut (default 2 s). */
  closeGraceMs?: number;
  /**
   * Fan-out frames are written pre-framed straight to the connection where that is safe (default true); false
   * sends every frame through ws.send (the fan-out benchmark compares the two).
   */
  directWrites?: boolean;
  /** A frame begun must be complete within this, else close 1008 (default 10 s). */
  frameTimeoutMs?: number;
  /** Connection attempts per client per window (route-level `@fastify/rate-limit` setting); default none. */
  connectRateLimit?: { max: number; timeWindow: number } | false;
}

/** Text frames: a Buffer is written as is, so the hub's one encoding serves every socket. */
const TEXT = { binary: false } as const;

/**
 * `GET /ws` on the app's hub (`fastify.realtime`): the last step of the event path, registered in app.ts.
 * See docs/ARCHITECTURE.md, "The event path".
 */
const wsRoutes: FastifyPluginCallback<{ config: AppConfig }> = (fastify, { config }, done) => {
  registerWsRoute(fastify, {
    hub: fastify.realtime,
    live: fastify.auth.live,
    directWrites: config.ws.directWrites,
    frameTimeoutMs: config.ws.frameTimeoutMs,
    connectRateLimit: wsConnectRateLimit(config),
  });
  done();
};
export default wsRoutes;

/**
 * `GET /ws`: the raw WebSocket endpoint. The hub owns the protocol; this file only adapts `ws` sockets to the
 * hub's minimal interface and keeps them alive (ping/pong).
 */
export function registerWsRoute(fastify: FastifyInstance, options: WsRouteOptions): void {
  const { hub, live } = options;
  const pingIntervalMs = options.pingIntervalMs ?? 30_000;
  const closeGraceMs = options.closeGraceMs ?? 2_000;
  const directWrites = options.directWrites ?? true;
  const frameTimeoutMs = options.frameTimeoutMs ?? 10_000;
  const alive = new Map<WebSocket, boolean>();

  const heartbeat = setInterval(() => {
    for (const [socket, answered] of alive) {
      if (!answered) {
        socket.terminate();
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, pingIntervalMs);
  heartbeat.unref();
  fastify.addHook('onClose', () => clearInterval(heartbeat));

  const config = { access: 'viewer' as const, rateLimit: options.connectRateLimit ?? false };
  fastify.get(WS_PATH, { websocket: true, config }, (socket, request) => {
    // @fastify/websocket's default preClose closes every tracked socket without a code (the client sees 1005);
    // the hub closes its sockets itself with 1001 so clients know to reconnect and resume.
    fastify.websocketServer.clients.delete(socket);
    alive.set(socket, true);
    const adapted = adapt(socket, directWrites ? directWriter(socket, request.raw.socket) : null, closeGraceMs);
    const connection = hub.connect(adapted, request.principal?.scope ?? null, {
      principal: request.principal ? principalKey(request.principal) : null,
      address: addressKey(request),
    });
    // The access hook authenticated the upgrade; the socket lives only as long as its credential.
    const { principal, credential } = request;
    const untrack =
      live !== undefined && principal !== null && credential !== null
        ? live.add(credential, principal, (code, reason) => {
            adapted.close(code, reason);
          })
        : () => undefined;
    socket.on('pong', () => alive.set(socket, true));
    socket.on('message', (data, isBinary) => connection.message(toBuffer(data), isBinary));
    socket.on('error', (err) => request.log.warn({ err }, 'ws: socket error'));
    const stopWatching = watchFrameDeadline(socket, request.raw.socket, frameTimeoutMs, () => {
      request.log.info('ws: frame not completed in time; closing');
      closeWithGrace(socket, CloseCode.PolicyViolation, 'frame not completed in time', closeGraceMs);
    });
    socket.on('close', () => {
      untrack();
      stopWatching();
      alive.delete(socket);
      connection.closed();
    });
  });
}

function adapt(socket: WebSocket, direct: DirectWriter | null, closeGraceMs: number): HubSocket {
  return {
    send: (data) => socket.send(data, TEXT),
    // Without a direct writer the hub sends `frame.payload` through `send` itself.
    ...(direct !== null && {
      sendFrame: (frame: TextFrame) => {
        if (direct.idle()) direct.connection.write(frame.frame);
        else socket.send(frame.payload, TEXT);
      },
    }),
    close: (code, reason) => closeWithGrace(socket, code, reason, closeGraceMs),
    get readyState() {
      return socket.readyState;
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
  };
}

/** Closes with `code`, and cuts the connection if the peer has not answered the close within the grace. */
function closeWithGrace(
  socket: Pick<WebSocket, 'close' | 'terminate' | 'once'>,
  code: number | undefined,
  reason: string | undefined,
  closeGraceMs: number,
): void {
  socket.close(code, reason);
  // A peer that stopped reading never answers the close; do not hold its buffers for ws's 30 s default.
  const cut = setTimeout(() => socket.terminate(), closeGraceMs);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** The upgraded connection under a `ws` socket, and whether ws's frame writer is idle (writes go straight out). */
interface DirectWriter {
  connection: Duplex;
  idle(): boolean;
}

const SENDER_DEFAULT_STATE = 0;

/**
 * Writing a pre-framed message to the connection ourselves keeps the byte stream valid only while ws writes each
 * of its own frames (pings, pongs, close, other sends) to the same connection synchronously, in call order. In
 * ws 8.23 (pinned) the Sender does so in its default state and queues frames only while it compresses
 * (permessage-deflate, which the websocket plugin turns off) or reads a Blob (never sent here); with an
 * extension negotiated, another connection object, or a Sender not in that state, frames go through ws.send.
 * The writes land in the connection's writable buffer, which `bufferedAmount` counts (writableLength + the
 * Sender's queue), so backpressure sees them.
 */
function directWriter(socket: WebSocket, upgraded: Duplex): DirectWriter | null {
  if (socket.extensions !== '') return null;
  const connection: unknown = Reflect.get(socket, '_socket');
  const sender: unknown = Reflect.get(socket, '_sender');
  if (connection !== upgraded || typeof sender !== 'object' || sender === null) return null;
  if (Reflect.get(sender, '_state') !== SENDER_DEFAULT_STATE) return null;
  return {
    connection: upgraded,
    idle: () => Reflect.get(sender, '_state') === SENDER_DEFAULT_STATE && upgraded.writable,
  };
}
