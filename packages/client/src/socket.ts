import {
  backoffDelay,
  CloseCode,
  PROTOCOL_VERSION,
  parseServerMessage,
  type BackoffOptions,
  type ErrorMessage,
  type OrderEvent,
  type OrderFilter,
  type Position,
  type ReadyMessage,
  type ResyncMessage,
  type SubscribeMessage,
} from '@orders/contracts';

/** What a connection indicator shows. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

/**
 * An event-handler property. Declared through a method so that both the browser's `WebSocket` and the `ws`
 * package's (whose handlers take richer event objects than the few fields read here) fit this interface.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'] | null;

/** The part of a `WebSocket` the client uses: the browser's, `ws`'s, or a test's fake. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown>;
  onmessage: Handler<{ readonly data: unknown }>;
  onclose: Handler<{ readonly code: number }>;
  onerror: Handler<unknown>;
}

/** Opens a socket to `url`: `(url) => new WebSocket(url)` in a browser, `ws` (with its options) in Node. */
export type WebSocketFactory = (url: string) => WebSocketLike;

/** What the client reports. Only `events` and `resync` are required: they are what keeps a view correct. */
export interface OrderSocketListener {
  /** The events of one frame, in order; the resume position has already moved past them. */
  events(events: readonly OrderEvent[]): void;
  /**
   * The server cannot resume this subscription: read the snapshot again and call `subscribe` with its position.
   * The socket stays open meanwhile (call `pause` to stop receiving).
   */
  resync(message: ResyncMessage): void;
  /** The subscription is live; `since` is the position it was sent with (null: none). */
  ready?(message: ReadyMessage, since: Position | null): void;
  stateChange?(state: ConnectionState): void;
  /** A socket opened (the subscribe message has just been sent on it). */
  opened?(): void;
  /** The current socket closed with this code; a reconnect is scheduled. */
  closed?(code: number): void;
  /** Opening a socket threw (a bad URL, no server to pick); a reconnect is scheduled. */
  connectFailed?(error: unknown): void;
  /** The server reported a problem with the subscription (it closes the socket if it cannot go on). */
  serverError?(message: ErrorMessage): void;
  /** A frame that failed validation and was dropped. */
  invalidFrame?(reason: string): void;
}

export interface OrderSocketOptions {
  /** Where to connect; a function is called before every attempt, so a caller can move between servers. */
  url: string | (() => string);
  connect: WebSocketFactory;
  /** The subscription's filter; none or an empty one follows every order. */
  filter?: OrderFilter;
  backoff: BackoffOptions;
  listener: OrderSocketListener;
  /** Whether the network is up (`navigator.onLine` in a browser); when it is not, a lost socket shows offline. */
  isOnline?: () => boolean;
}

/** The dashboard's reconnect timing: the first retry within half a second, never more than 30 s apart. */
export const DEFAULT_RECONNECT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000 };
/** After this many failed attempts in a row the state is "offline" (the client keeps retrying). */
export const OFFLINE_AFTER_ATTEMPTS = 3;
const NORMAL_CLOSURE = 1000;
/** What a socket that could not even be opened counts as: closed without a close frame. */
const ABNORMAL_CLOSURE = 1006;

function ignore(): void {
  // A discarded socket's late errors have nowhere to go.
}

/**
 * One live subscription to the order feed, with no UI framework attached. It subscribes since a position (see
 * docs/ARCHITECTURE.md, "Snapshot with position"), validates every frame with the contracts' compiled checker,
 * advances its resume position with every event, and after a lost connection reconnects with capped exponential
 * backoff and jitter, resuming since the last position it saw ("Recovery and replay"). What a `resync` means for
 * the caller's data is the caller's business: it reads its snapshot again and calls `subscribe`.
 */
export class OrderSocket {
  readonly #options: OrderSocketOptions;
  #socket: WebSocketLike | null = null;
  #state: ConnectionState = 'connecting';
  #position: Position | null = null;
  /** The position the current socket's subscription was sent with. */
  #sentSince: Position | null = null;
  /** Subscribed (until `pause`): a lost socket is replaced. */
  #following = false;
  #stopped = false;
  #attempts = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: OrderSocketOptions) {
    this.#options = options;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The newest position seen (or the one subscribed with): where the next connection resumes. */
  get position(): Position | null {
    return this.#position;
  }

  /** Opens a fresh connection (closing any current one) and subscribes since `position` (null: from now). */
  subscribe(position: Position | null): void {
    if (this.#stopped) return;
    this.#following = true;
    this.#position = position;
    this.#connect();
  }

  /** Closes the connection and stops reconnecting until the next `subscribe` (e.g. while a snapshot is read). */
  pause(): void {
    this.#following = false;
    clearTimeout(this.#reconnectTimer);
    this.#closeSocket();
    this.#setState('connecting');
  }

  /** The network is back: connect at once instead of waiting for the backoff, if a connection is missing. */
  reconnectNow(): void {
    if (this.#stopped || !this.#following || this.#socket) return;
    this.#connect();
  }

  /** The network went away: say offline now unless the socket is still live. */
  networkOffline(): void {
    if (!this.#stopped && this.#state !== 'live') this.#setState('offline');
  }

  /** Another path to the same server failed (its snapshot read): say offline until the next `ready`. */
  reportUnreachable(): void {
    if (!this.#stopped) this.#setState('offline');
  }

  /** Closes the socket and every timer for good. */
  stop(): void {
    this.#stopped = true;
    this.#following = false;
    clearTimeout(this.#reconnectTimer);
    this.#closeSocket();
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#options.listener.stateChange?.(state);
  }

  #connect(): void {
    if (this.#stopped || !this.#following) return;
    clearTimeout(this.#reconnectTimer);
    this.#closeSocket();
    let socket: WebSocketLike;
    try {
      const { url } = this.#options;
      socket = this.#options.connect(typeof url === 'string' ? url : url());
    } catch (error) {
      this.#options.listener.connectFailed?.(error);
      this.#scheduleReconnect(ABNORMAL_CLOSURE);
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      if (socket !== this.#socket) return;
      const { filter } = this.#options;
      const message: SubscribeMessage = { type: 'subscribe', protocol: PROTOCOL_VERSION };
      if (filter?.status || filter?.customer || filter?.q) message.filter = filter;
      if (this.#position !== null) message.since = this.#position;
      this.#sentSince = this.#position;
      socket.send(JSON.stringify(message));
      this.#options.listener.opened?.();
    };
    socket.onmessage = (event) => {
      if (socket === this.#socket) this.#onFrame(event.data);
    };
    socket.onclose = (event) => {
      if (socket !== this.#socket) return;
      this.#socket = null;
      this.#options.listener.closed?.(event.code);
      this.#scheduleReconnect(event.code);
    };
    socket.onerror = ignore; // A close event always follows; reconnecting is handled there.
  }

  #closeSocket(): void {
    const socket = this.#socket;
    this.#socket = null;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    // Not null: `ws` raises an error event when a socket still connecting is closed, and an error event nobody
    // listens to would end the Node process.
    socket.onerror = ignore;
    try {
      socket.close(NORMAL_CLOSURE);
    } catch {
      // Closing a socket that never opened can throw in some browsers; it is being discarded either way.
    }
  }

  #scheduleReconnect(closeCode: number): void {
    if (this.#stopped || !this.#following) return;
    this.#attempts++;
    const offline = this.#attempts > OFFLINE_AFTER_ATTEMPTS || this.#options.isOnline?.() === false;
    this.#setState(offline ? 'offline' : 'reconnecting');
    // A server going away (restart, deploy) is usually back at once: the first retry after it is not delayed.
    const delay =
      closeCode === CloseCode.GoingAway && this.#attempts === 1
        ? 0
        : backoffDelay(this.#attempts, this.#options.backoff);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      this.#connect();
    }, delay);
  }

  #onFrame(data: unknown): void {
    const { listener } = this.#options;
    // The protocol is JSON text; acting on a frame we do not understand could corrupt the caller's view.
    if (typeof data !== 'string') {
      listener.invalidFrame?.('binary frame');
      return;
    }
    const parsed = parseServerMessage(data);
    if (!parsed.ok) {
      listener.invalidFrame?.(parsed.error);
      return;
    }
    const message = parsed.value;
    switch (message.type) {
      case 'ready':
        this.#attempts = 0;
        this.#setState('live');
        listener.ready?.(message, this.#sentSince);
        break;
      case 'order.created':
      case 'order.updated':
      case 'order.deleted':
      case 'order.left':
        this.#deliver([message]);
        break;
      case 'batch':
        this.#deliver(message.events);
        break;
      case 'resync':
        listener.resync(message);
        break;
      case 'error':
        listener.serverError?.(message);
        break;
    }
  }

  #deliver(events: readonly OrderEvent[]): void {
    const last = events.at(-1);
    if (!last) return;
    this.#position = last.position;
    this.#options.listener.events(events);
  }
}
