import { parseClientMessage, type OrderEvent, type ServerMessage, type SubscribeMessage } from '@orders/contracts';
import type { WebSocketFactory, WebSocketLike } from '../socket.js';

/** A server-side handle on one fake socket: the test plays the server. */
export interface FakeSocket extends WebSocketLike {
  readonly url: string;
  readonly sent: string[];
  /** The code the client closed it with, if it did. */
  readonly closedWith: number | undefined;
  /** The messages the client sent on it, each checked against the protocol (throws on an invalid one). */
  subscriptions(): SubscribeMessage[];
  /** Completes the handshake (the client then sends its subscribe). */
  accept(): void;
  /** Sends a server frame (validated by the client like any other). */
  push(message: ServerMessage): void;
  /** Sends a frame as it is: text that may not be a valid message, or binary data. */
  pushRaw(data: unknown): void;
  /** The server (or the network) closes the connection. */
  drop(code?: number): void;
}

/** A `WebSocket` stand-in class plus the list of every socket opened with it. */
export interface FakeSocketServer {
  /** A constructor, for code that takes the browser's `WebSocket` class. */
  WebSocketImpl: new (url: string) => FakeSocket;
  /** The same, as a factory. */
  connect: WebSocketFactory;
  sockets: FakeSocket[];
  /** The last socket opened; throws when there is none yet. */
  latest(): FakeSocket;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** Creates a fresh fake socket class (one per test, so instances never leak between tests). */
export function createFakeSocketServer(): FakeSocketServer {
  const sockets: FakeSocket[] = [];

  class FakeWebSocket implements FakeSocket {
    readonly url: string;
    readonly sent: string[] = [];
    readyState = CONNECTING;
    closedWith: number | undefined;
    onopen: WebSocketLike['onopen'] = null;
    onmessage: WebSocketLike['onmessage'] = null;
    onclose: WebSocketLike['onclose'] = null;
    onerror: WebSocketLike['onerror'] = null;

    constructor(url: string) {
      this.url = url;
      sockets.push(this);
    }

    send(data: string): void {
      if (this.readyState !== OPEN) throw new Error('send on a socket that is not open');
      this.sent.push(data);
    }

    close(code = 1000): void {
      this.closedWith = code;
      this.readyState = CLOSED;
    }

    subscriptions(): SubscribeMessage[] {
      return this.sent.map((text) => {
        const parsed = parseClientMessage(text);
        if (!parsed.ok) throw new Error(`the client sent an invalid message (${parsed.error}): ${text}`);
        return parsed.value;
      });
    }

    accept(): void {
      this.readyState = OPEN;
      this.onopen?.({ type: 'open' });
    }

    push(message: ServerMessage): void {
      this.pushRaw(JSON.stringify(message));
    }

    pushRaw(data: unknown): void {
      if (this.readyState !== OPEN) throw new Error('push on a socket that is not open');
      this.onmessage?.({ data });
    }

    drop(code = 1006): void {
      this.readyState = CLOSED;
      this.onclose?.({ code });
    }
  }

  return {
    WebSocketImpl: FakeWebSocket,
    connect: (url) => new FakeWebSocket(url),
    sockets,
    latest: () => {
      const socket = sockets.at(-1);
      if (!socket) throw new Error('no socket has been opened');
      return socket;
    },
  };
}

/** Wraps events as the server may: several in one batch frame. */
export function batch(...events: OrderEvent[]): ServerMessage {
  return { type: 'batch', events };
}
