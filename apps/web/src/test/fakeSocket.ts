import type { OrderEvent, ServerMessage, SubscribeMessage } from '@orders/contracts';
import type { WebSocketConstructorLike, WebSocketLike } from '../features/realtime/orderFeed.js';

/** A server-side handle on one fake socket: the test plays the server. */
export interface FakeSocket extends WebSocketLike {
  readonly url: string;
  readonly sent: string[];
  /** The code the page closed it with, if it did. */
  readonly closedWith: number | undefined;
  /** The subscribe messages the page sent on it. */
  subscriptions(): SubscribeMessage[];
  /** Completes the handshake (the page then sends its subscribe). */
  accept(): void;
  /** Sends a server frame (validated by the page like any other). */
  push(message: ServerMessage): void;
  pushRaw(text: string): void;
  /** The server (or the network) closes the connection. */
  drop(code?: number): void;
}

/** A `WebSocket` stand-in class plus the list of every socket the page opened with it. */
export interface FakeSocketServer {
  WebSocketImpl: WebSocketConstructorLike;
  sockets: FakeSocket[];
  latest(): FakeSocket;
}

/** Creates a fresh fake socket class (one per test, so instances never leak between tests). */
export function createFakeSocketServer(): FakeSocketServer {
  const sockets: FakeSocket[] = [];

  class FakeWebSocket implements FakeSocket {
    readonly url: string;
    readonly sent: string[] = [];
    readyState = 0;
    closedWith: number | undefined;
    onopen: ((event: Event) => void) | null = null;
    onmessage: ((event: MessageEvent) => void) | null = null;
    onclose: ((event: CloseEvent) => void) | null = null;
    onerror: ((event: Event) => void) | null = null;

    constructor(url: string) {
      this.url = url;
      sockets.push(this);
    }

    send(data: string): void {
      if (this.readyState !== 1) throw new Error('send on a socket that is not open');
      this.sent.push(data);
    }

    close(code = 1000): void {
      this.closedWith = code;
      this.readyState = 3;
    }

    subscriptions(): SubscribeMessage[] {
      return this.sent.map((text) => JSON.parse(text) as SubscribeMessage).filter((m) => m.type === 'subscribe');
    }

    accept(): void {
      this.readyState = 1;
      this.onopen?.(new Event('open'));
    }

    push(message: ServerMessage): void {
      this.pushRaw(JSON.stringify(message));
    }

    pushRaw(text: string): void {
      if (this.readyState !== 1) throw new Error('push on a socket that is not open');
      this.onmessage?.(new MessageEvent('message', { data: text }));
    }

    drop(code = 1006): void {
      this.readyState = 3;
      this.onclose?.(new CloseEvent('close', { code }));
    }
  }

  return {
    WebSocketImpl: FakeWebSocket,
    sockets,
    latest: () => {
      const socket = sockets.at(-1);
      if (!socket) throw new Error('the page has not opened a socket');
      return socket;
    },
  };
}

/** Wraps events as the server may: one per frame, or several in a batch. */
export function batch(...events: OrderEvent[]): ServerMessage {
  return { type: 'batch', events };
}
