import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { OrderEvent, ServerMessage, SubscribeMessage } from '@orders/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { OrderSocket } from './socket.js';

/*
 * The same client in Node, over real sockets with the `ws` package (as the fault-injection run uses it): a tiny
 * server on 127.0.0.1 plays the API.
 */

interface Connection {
  socket: WebSocket;
  subscribe: SubscribeMessage;
}

let server: WebSocketServer | undefined;
let client: OrderSocket | undefined;

afterEach(async () => {
  client?.stop();
  client = undefined;
  if (server) {
    for (const socket of server.clients) socket.terminate();
    server.close();
    await once(server, 'close');
    server = undefined;
  }
});

async function startServer(): Promise<{ url: string; connections: Connection[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server = wss;
  await once(wss, 'listening');
  const connections: Connection[] = [];
  wss.on('connection', (socket) => {
    socket.once('message', (data: Buffer) => {
      connections.push({ socket, subscribe: JSON.parse(data.toString('utf8')) as SubscribeMessage });
    });
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`, connections };
}

const send = (socket: WebSocket, message: ServerMessage): void => {
  socket.send(JSON.stringify(message));
};

describe('OrderSocket over ws in Node', () => {
  it('receives text frames as events, and after the server cuts the connection resumes since the last one', async () => {
    const { url, connections } = await startServer();
    const events: OrderEvent[] = [];
    const invalid: string[] = [];
    client = new OrderSocket({
      url,
      connect: (target) => new WebSocket(target, { handshakeTimeout: 5_000 }),
      backoff: { baseMs: 20, capMs: 20, random: () => 0 },
      listener: {
        events: (received) => events.push(...received),
        resync: () => undefined,
        invalidFrame: (reason) => invalid.push(reason),
      },
    });
    client.subscribe('pos-0');

    await vi.waitFor(() => expect(connections).toHaveLength(1));
    const first = connections[0]!;
    expect(first.subscribe).toEqual({ type: 'subscribe', protocol: 1, since: 'pos-0' });
    send(first.socket, { type: 'ready', protocol: 1, position: 'pos-0', resumed: true });
    send(first.socket, { type: 'order.deleted', id: 4, position: 'pos-1' });
    first.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await vi.waitFor(() => expect(invalid).toEqual(['binary frame']));
    expect(client.state).toBe('live');
    expect(events).toEqual([{ type: 'order.deleted', id: 4, position: 'pos-1' }]);

    first.socket.terminate();
    await vi.waitFor(() => expect(connections).toHaveLength(2));
    expect(connections[1]!.subscribe).toEqual({ type: 'subscribe', protocol: 1, since: 'pos-1' });
  });

  it('keeps retrying while nothing listens, and moves to the server its url function names next', async () => {
    const dead = await startServer();
    const closing = server!;
    closing.close();
    await once(closing, 'close');
    server = undefined;
    const live = await startServer();

    const closes: number[] = [];
    let target = dead.url;
    client = new OrderSocket({
      url: () => target,
      connect: (address) => new WebSocket(address),
      backoff: { baseMs: 20, capMs: 20, random: () => 0 },
      listener: { events: () => undefined, resync: () => undefined, closed: (code) => closes.push(code) },
    });
    client.subscribe('pos-0');
    await vi.waitFor(() => expect(closes.length).toBeGreaterThanOrEqual(2));
    expect(new Set(closes)).toEqual(new Set([1006]));
    expect(live.connections).toHaveLength(0);

    target = live.url;
    await vi.waitFor(() => expect(live.connections).toHaveLength(1));
    expect(live.connections[0]!.subscribe).toEqual({ type: 'subscribe', protocol: 1, since: 'pos-0' });
    send(live.connections[0]!.socket, { type: 'ready', protocol: 1, position: 'pos-0', resumed: true });
    await vi.waitFor(() => expect(client?.state).toBe('live'));
  });
});
