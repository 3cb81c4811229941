import {
  CloseCode,
  PROTOCOL_VERSION,
  parseServerMessage,
  type OrderEvent,
  type OrderFilter,
  type Position,
  type ServerMessage,
  type SubscribeMessage,
} from '@orders/contracts';
import type { QueryClient, QueryCacheNotifyEvent } from '@tanstack/react-query';
import { hashKey } from '@tanstack/react-query';
import { fetchOrderList } from '../orders/api.js';
import { applyOrderEvents, type OrderList } from '../orders/cache.js';
import { orderKeys } from '../orders/queries.js';
import type { AccessCloseCode } from './useOrderSocket.js';

/** What the connection indicator shows. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

/** The part of the browser's `WebSocket` the feed uses, so tests can hand in a fake. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
}

/** A `WebSocket`-like constructor. */
export type WebSocketConstructorLike = new (url: string) => WebSocketLike;

/** Reconnect timing: full-jitter exponential backoff, capped. */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Uniform in [0, 1); injectable so tests are deterministic. */
  random: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000, random: Math.random };

/**
 * Delay before reconnect attempt `attempt` (1-based): uniform in [0, min(cap, base·2^(attempt-1))) ("full jitter"),
 * so a server restart is not met by every dashboard at the same instant.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.floor(options.random() * ceiling);
}

/** After this many failed attempts in a row the indicator says "offline" (it keeps retrying). */
export const OFFLINE_AFTER_ATTEMPTS = 3;
/** Events held while their list has no data yet; beyond this the list is simply read again. */
const MAX_HELD_EVENTS = 50_000;
/** A frame that never comes (background tab) must not hold events back for long. */
const FLUSH_FALLBACK_MS = 100;
const NORMAL_CLOSURE = 1000;

export interface OrderFeedOptions {
  queryClient: QueryClient;
  filter: OrderFilter;
  url: string;
  WebSocketImpl: WebSocketConstructorLike;
  backoff: BackoffOptions;
  onConnectionChange: (state: ConnectionState) => void;
  /** Every event received, once per frame, for the activity list and chart. */
  onEvents: (events: readonly OrderEvent[]) => void;
  /**
   * The server closed the socket because the credentials ended (4401: sign in again) or the role or scope changed
   * (4403: ask who we are now). The feed reconnects as after any close; the owner decides what else to do.
   * See docs/ARCHITECTURE.md, "Access control".
   */
  onAccessClosed?: (code: AccessCloseCode) => void;
}

/**
 * The live subscription for one filtered list. It waits for the list's snapshot, subscribes since the snapshot's
 * position, patches the cached list once per animation frame, reconnects with backoff resuming from the last
 * position seen, and answers `resync` by reading the snapshot again. One instance per filter; `dispose` closes it.
 */
export class OrderFeed {
  readonly #options: OrderFeedOptions;
  readonly #key: readonly unknown[];
  readonly #hash: string;
  #socket: WebSocketLike | null = null;
  #state: ConnectionState = 'connecting';
  /** The newest position this feed has seen (or the snapshot's); the next subscription resumes from it. */
  #position: Position | null = null;
  #subscribedSince = false;
  #resyncedForMissingPosition = false;
  #started = false;
  #disposed = false;
  #attempts = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #snapshotRetryTimer: ReturnType<typeof setTimeout> | undefined;
  #resyncRetryTimer: ReturnType<typeof setTimeout> | undefined;
  #resyncFailures = 0;
  #snapshotFailures = 0;
  #queue: OrderEvent[] = [];
  #held: OrderEvent[] = [];
  #frame: number | undefined;
  #frameFallback: ReturnType<typeof setTimeout> | undefined;
  /** Events applied while a resync snapshot is being read; replayed onto that snapshot when it lands. */
  #journal: OrderEvent[] | null = null;
  #resyncAbort: AbortController | null = null;
  #unsubscribeCache: (() => void) | undefined;

  constructor(options: OrderFeedOptions) {
    this.#options = options;
    this.#key = orderKeys.list(options.filter);
    this.#hash = hashKey(this.#key);
  }

  /** Starts following the list; call once. */
  start(): void {
    this.#unsubscribeCache = this.#options.queryClient.getQueryCache().subscribe((event) => this.#onCacheEvent(event));
    window.addEventListener('online', this.#onOnline);
    window.addEventListener('offline', this.#onOffline);
    this.#setState('connecting');
    this.#maybeStart();
  }

  /** Closes the socket and every timer; events already received still reach the cache. */
  dispose(): void {
    if (this.#disposed) return;
    this.#flush();
    this.#disposed = true;
    this.#unsubscribeCache?.();
    window.removeEventListener('online', this.#onOnline);
    window.removeEventListener('offline', this.#onOffline);
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#snapshotRetryTimer);
    clearTimeout(this.#resyncRetryTimer);
    this.#cancelFrame();
    this.#resyncAbort?.abort();
    this.#closeSocket();
  }

  #list(): OrderList | undefined {
    return this.#options.queryClient.getQueryData<OrderList>(this.#key);
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#options.onConnectionChange(state);
  }

  #onCacheEvent(event: QueryCacheNotifyEvent): void {
    if (this.#disposed || event.query.queryHash !== this.#hash || event.type !== 'updated') return;
    const { action } = event;
    if (action.type === 'success') {
      this.#snapshotFailures = 0;
      clearTimeout(this.#snapshotRetryTimer);
      if (this.#held.length > 0) {
        // The list has just arrived; events received while it loaded are newer than (or equal to) what it holds.
        this.#queue = [...this.#held, ...this.#queue];
        this.#held = [];
        this.#scheduleFlush();
      }
      this.#maybeStart();
    } else if (action.type === 'error' && event.query.state.data === undefined) {
      this.#onSnapshotFailed();
    }
  }

  /** Subscribes once the snapshot is in the cache; before that there is no position to resume from. */
  #maybeStart(): void {
    if (this.#started || this.#disposed) return;
    const list = this.#list();
    if (!list) {
      if (this.#options.queryClient.getQueryState(this.#key)?.status === 'error') this.#onSnapshotFailed();
      return;
    }
    this.#started = true;
    this.#position = list.position;
    this.#connect();
  }

  /** The API is down: say so, and read the list again with backoff so the page recovers by itself. */
  #onSnapshotFailed(): void {
    this.#setState('offline');
    clearTimeout(this.#snapshotRetryTimer);
    this.#snapshotFailures++;
    this.#snapshotRetryTimer = setTimeout(() => {
      void this.#options.queryClient.refetchQueries({ queryKey: this.#key, exact: true });
    }, this.#retryDelay(this.#snapshotFailures));
  }

  /** HTTP retries never go below the base delay, even with a lucky draw: a failing read must not spin. */
  #retryDelay(failures: number): number {
    return Math.max(this.#options.backoff.baseMs, backoffDelay(failures, this.#options.backoff));
  }

  #connect(): void {
    if (this.#disposed) return;
    clearTimeout(this.#reconnectTimer);
    this.#closeSocket();
    const socket = new this.#options.WebSocketImpl(this.#options.url);
    this.#socket = socket;
    socket.onopen = () => {
      if (socket !== this.#socket) return;
      const message: SubscribeMessage = { type: 'subscribe', protocol: PROTOCOL_VERSION };
      if (this.#options.filter.status || this.#options.filter.customer) message.filter = this.#options.filter;
      if (this.#position !== null) message.since = this.#position;
      this.#subscribedSince = this.#position !== null;
      socket.send(JSON.stringify(message));
    };
    socket.onmessage = (event) => {
      if (socket !== this.#socket || typeof event.data !== 'string') return;
      const parsed = parseServerMessage(event.data);
      // A frame that fails validation is dropped: acting on a shape we do not understand could corrupt the board.
      if (parsed.ok) this.#onMessage(parsed.value);
    };
    socket.onclose = (event) => {
      if (socket !== this.#socket) return;
      this.#socket = null;
      this.#scheduleReconnect(event.code);
      if (event.code === CloseCode.Unauthenticated || event.code === CloseCode.Forbidden) {
        this.#options.onAccessClosed?.(event.code);
      }
    };
    socket.onerror = () => {
      // A close event always follows; reconnecting is handled there.
    };
  }

  #closeSocket(): void {
    const socket = this.#socket;
    this.#socket = null;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close(NORMAL_CLOSURE);
    } catch {
      // Closing a socket that never opened can throw in some browsers; it is being discarded either way.
    }
  }

  #scheduleReconnect(closeCode: number): void {
    if (this.#disposed) return;
    this.#attempts++;
    const offline = this.#attempts > OFFLINE_AFTER_ATTEMPTS || !navigator.onLine;
    this.#setState(offline ? 'offline' : 'reconnecting');
    // A server going away (restart, deploy) is usually back at once: the first retry after it is not delayed.
    const delay =
      closeCode === CloseCode.GoingAway && this.#attempts === 1
        ? 0
        : backoffDelay(this.#attempts, this.#options.backoff);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  readonly #onOnline = (): void => {
    if (this.#disposed || !this.#started || this.#socket) return;
    this.#connect();
  };

  readonly #onOffline = (): void => {
    if (!this.#disposed && this.#state !== 'live') this.#setState('offline');
  };

  #onMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'ready':
        this.#attempts = 0;
        this.#setState('live');
        // Subscribed without a position (the snapshot came before the first write ever) but writes exist now:
        // some may have landed between the snapshot and this subscription, so read the snapshot again.
        // Once only: should the API keep answering the list without a position, this must not loop.
        if (!this.#subscribedSince && message.position !== null && !this.#resyncedForMissingPosition) {
          this.#resyncedForMissingPosition = true;
          this.#resync();
        }
        break;
      case 'order.created':
      case 'order.updated':
      case 'order.deleted':
      case 'order.left':
        this.#enqueue([message]);
        break;
      case 'batch':
        this.#enqueue(message.events);
        break;
      case 'resync':
        this.#resync();
        break;
      case 'error':
        // The server reports a problem with our subscription; it closes the socket if it cannot go on, and the
        // reconnect path takes over from there.
        break;
    }
  }

  #enqueue(events: readonly OrderEvent[]): void {
    const last = events.at(-1);
    if (!last) return;
    this.#queue.push(...events);
    this.#position = last.position;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#frame !== undefined || this.#frameFallback !== undefined || this.#disposed) return;
    const run = () => {
      this.#cancelFrame();
      this.#flush();
    };
    this.#frame = requestAnimationFrame(run);
    this.#frameFallback = setTimeout(run, FLUSH_FALLBACK_MS);
  }

  #cancelFrame(): void {
    if (this.#frame !== undefined) cancelAnimationFrame(this.#frame);
    clearTimeout(this.#frameFallback);
    this.#frame = undefined;
    this.#frameFallback = undefined;
  }

  /** Applies every queued event to the cached list in one `setQueryData`. */
  #flush(): void {
    if (this.#disposed || this.#queue.length === 0) return;
    const events = this.#queue;
    this.#queue = [];
    const { queryClient, filter } = this.#options;
    const state = queryClient.getQueryState<OrderList>(this.#key);
    if (state?.data === undefined) {
      // The list is (re)loading with nothing to patch yet: hold the events and apply them on top of what it returns.
      this.#held.push(...events);
      if (this.#held.length > MAX_HELD_EVENTS) {
        this.#held = [];
        this.#resync();
      }
      return;
    }
    if (state.fetchStatus === 'fetching') {
      // An answer in flight was read before these events; cancel it (its data reverts to the cached list) so it
      // cannot overwrite them.
      void queryClient.cancelQueries({ queryKey: this.#key, exact: true });
    }
    this.#journal?.push(...events);
    queryClient.setQueryData<OrderList>(this.#key, (list) => (list ? applyOrderEvents(list, events, filter) : list));
    this.#options.onEvents(events);
  }

  /**
   * Reads the snapshot again, quietly: the board keeps showing (and patching) what it has meanwhile, the events that
   * arrive during the read are replayed onto the new snapshot, and the subscription restarts since its position.
   */
  #resync(): void {
    if (this.#resyncAbort || this.#disposed) return;
    const abort = new AbortController();
    this.#resyncAbort = abort;
    this.#journal = [];
    const { queryClient, filter } = this.#options;
    fetchOrderList(filter, abort.signal).then(
      (snapshot) => {
        if (abort.signal.aborted) return;
        this.#flush();
        const journal = this.#journal ?? [];
        this.#journal = null;
        this.#resyncAbort = null;
        void queryClient.cancelQueries({ queryKey: this.#key, exact: true });
        const rebased = applyOrderEvents(snapshot, journal, filter);
        queryClient.setQueryData<OrderList>(this.#key, { orders: rebased.orders, position: snapshot.position });
        this.#position = snapshot.position;
        this.#resyncFailures = 0;
        this.#connect();
      },
      () => {
        if (abort.signal.aborted) return;
        this.#journal = null;
        this.#resyncAbort = null;
        this.#resyncFailures++;
        this.#resyncRetryTimer = setTimeout(() => this.#resync(), this.#retryDelay(this.#resyncFailures));
      },
    );
  }
}
