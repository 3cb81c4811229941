import {
  backoffDelay,
  type BackoffOptions,
  type OrderEvent,
  type Position,
  type ReadyMessage,
} from '@orders/contracts';
import type { QueryClient, QueryCacheNotifyEvent } from '@tanstack/react-query';
import { hashKey } from '@tanstack/react-query';
import { fetchOrderList, fetchOrderPage } from '../orders/api.js';
import {
  appendOlderPage,
  applyEventsToCounts,
  applyOrderEvents,
  isAfter,
  type ListFilter,
  type OrderCounts,
  type OrderList,
} from '../orders/cache.js';
import { orderKeys } from '../orders/queries.js';

/** Events held while their list has no data yet; beyond this the list is simply read again. */
const MAX_HELD_EVENTS = 50_000;
/**
 * Events applied recently, kept so that a page or counts read after a position can be brought up to date with what
 * the window has applied since (at 200 changes/s, fifty seconds: far longer than a read takes).
 */
const RECENT_EVENTS = 10_000;
/** A frame that never comes (background tab) must not hold events back for long. */
const FLUSH_FALLBACK_MS = 100;

export interface ListPatcherOptions {
  queryClient: QueryClient;
  filter: ListFilter;
  /** Retry timing of list reads that failed. */
  backoff: BackoffOptions;
  /** The list's snapshot is in the cache (at first, and after every resync read): follow the feed since `position`. */
  follow: (position: Position | null) => void;
  /** The list cannot be read: the server is unreachable. */
  onUnreachable: () => void;
  /** Every event applied, once per frame, for the activity list and chart. */
  onEvents: (events: readonly OrderEvent[]) => void;
}

/**
 * Keeps one filtered list in the query cache in step with the feed, and owns every cache call the feed makes. It
 * waits for the list's snapshot before asking to follow the feed since its position, applies received events once
 * per animation frame in one `setQueryData` (cancelling a list read in flight, whose older answer would overwrite
 * them), holds events while the list is loading, and answers `resync` by reading the snapshot again quietly.
 * See docs/ARCHITECTURE.md, "The event path".
 */
export class ListPatcher {
  readonly #options: ListPatcherOptions;
  readonly #key: readonly unknown[];
  readonly #hash: string;
  #started = false;
  #disposed = false;
  #resyncedForMissingPosition = false;
  #snapshotRetryTimer: ReturnType<typeof setTimeout> | undefined;
  #resyncRetryTimer: ReturnType<typeof setTimeout> | undefined;
  #resyncFailures = 0;
  #snapshotFailures = 0;
  /** Received, waiting for the next frame. */
  #queue: OrderEvent[] = [];
  /** Received while the list had no data; applied on top of the list once it arrives. */
  #held: OrderEvent[] = [];
  #frame: number | undefined;
  #frameFallback: ReturnType<typeof setTimeout> | undefined;
  /** Events applied while a resync snapshot is being read; replayed onto that snapshot when it lands. */
  #journal: OrderEvent[] | null = null;
  #resyncAbort: AbortController | null = null;
  #unsubscribeCache: (() => void) | undefined;
  readonly #countsKey: readonly unknown[];
  readonly #countsHash: string;
  /** Applied events, oldest first, for bringing later reads up to date. */
  #recent: OrderEvent[] = [];
  /** The newest event dropped from `#recent`: a read from before it cannot be brought up to date. */
  #droppedUpTo: Position | null = null;
  #olderRead: Promise<void> | null = null;

  constructor(options: ListPatcherOptions) {
    this.#options = options;
    this.#key = orderKeys.list(options.filter);
    this.#hash = hashKey(this.#key);
    this.#countsKey = orderKeys.counts(options.filter);
    this.#countsHash = hashKey(this.#countsKey);
  }

  /** Starts watching the list; call once. */
  start(): void {
    this.#unsubscribeCache = this.#options.queryClient.getQueryCache().subscribe((event) => {
      this.#onCacheEvent(event);
    });
    this.#maybeStart();
  }

  /** Stops every timer and read; events already received still reach the cache. */
  dispose(): void {
    if (this.#disposed) return;
    this.#flush();
    this.#disposed = true;
    this.#unsubscribeCache?.();
    clearTimeout(this.#snapshotRetryTimer);
    clearTimeout(this.#resyncRetryTimer);
    this.#cancelFrame();
    this.#resyncAbort?.abort();
  }

  /** Queues events from the feed; they reach the cache at the next frame. */
  receive(events: readonly OrderEvent[]): void {
    if (events.length === 0) return;
    this.#queue.push(...events);
    this.#scheduleFlush();
  }

  /** The subscription is live. */
  ready(message: ReadyMessage, since: Position | null): void {
    // Subscribed without a position (the snapshot came before the first write ever) but writes exist now: some may
    // have landed between the snapshot and this subscription, so read the snapshot again. Once only: should the
    // API keep answering the list without a position, this must not loop.
    if (since === null && message.position !== null && !this.#resyncedForMissingPosition) {
      this.#resyncedForMissingPosition = true;
      this.resync();
    }
  }

  /**
   * Reads the next older page into the window (the board calls this as the reader scrolls near its end). The page is
   * brought up to date with the events applied since its position, so it never brings back an order that was deleted
   * or moved meanwhile. Resolves when the page is in the cache; at most one read at a time.
   */
  loadOlder(): Promise<void> {
    if (this.#olderRead) return this.#olderRead;
    const cursor = this.#list()?.nextCursor;
    if (this.#disposed || cursor === undefined) return Promise.resolve();
    const { queryClient, filter } = this.#options;
    const read = fetchOrderPage(filter, cursor).then((page) => {
      if (this.#disposed) return;
      this.#flush();
      const list = this.#list();
      // A resync replaced the window meanwhile: this page continues a window that is gone.
      if (list?.nextCursor !== cursor) return;
      const since = this.#eventsAfter(page.position);
      if (since === undefined) {
        this.resync();
        return;
      }
      queryClient.setQueryData<OrderList>(this.#key, appendOlderPage(list, page, since, filter));
    });
    this.#olderRead = read.finally(() => {
      this.#olderRead = null;
    });
    return this.#olderRead;
  }

  /**
   * Reads the snapshot again, quietly: the board keeps showing (and patching) what it has meanwhile, the events that
   * arrive during the read are replayed onto the new snapshot, and the feed is followed again since its position.
   */
  resync(): void {
    if (this.#resyncAbort || this.#disposed) return;
    const abort = new AbortController();
    this.#resyncAbort = abort;
    this.#journal = [];
    const { queryClient, filter } = this.#options;
    // The window, not the book: as many orders as the board had loaded.
    const minOrders = this.#list()?.orders.length ?? 1;
    fetchOrderList(filter, abort.signal, { minOrders }).then(
      (snapshot) => {
        if (abort.signal.aborted) return;
        this.#flush();
        const journal = this.#journal ?? [];
        this.#journal = null;
        this.#resyncAbort = null;
        void queryClient.cancelQueries({ queryKey: this.#key, exact: true });
        const rebased = applyOrderEvents(snapshot, journal, filter);
        queryClient.setQueryData<OrderList>(this.#key, { ...rebased, position: snapshot.position });
        // The counts may have missed what the feed lost too: read them again (brought up to date on arrival).
        this.#recent = [];
        this.#droppedUpTo = null;
        void queryClient.refetchQueries({ queryKey: this.#countsKey, exact: true });
        this.#resyncFailures = 0;
        this.#options.follow(snapshot.position);
      },
      () => {
        if (abort.signal.aborted) return;
        this.#journal = null;
        this.#resyncAbort = null;
        this.#resyncFailures++;
        this.#resyncRetryTimer = setTimeout(() => {
          this.resync();
        }, this.#retryDelay(this.#resyncFailures));
      },
    );
  }

  #list(): OrderList | undefined {
    return this.#options.queryClient.getQueryData<OrderList>(this.#key);
  }

  /**
   * The events applied after `position`, or undefined when some of them are no longer kept. A position newer than
   * every event received yet gives none: the ones after it are still to come and will be applied live.
   */
  #eventsAfter(position: Position | null): OrderEvent[] | undefined {
    if (this.#droppedUpTo !== null && isAfter(this.#droppedUpTo, position)) return undefined;
    return this.#recent.filter((event) => isAfter(event.position, position));
  }

  #remember(events: readonly OrderEvent[]): void {
    this.#recent.push(...events);
    const excess = this.#recent.length - RECENT_EVENTS;
    if (excess > 0) {
      this.#droppedUpTo = this.#recent[excess - 1]?.position ?? this.#droppedUpTo;
      this.#recent = this.#recent.slice(excess);
    }
  }

  /** Counts read from the server were counted at their position: add what the window has applied since. */
  #onCountsLoaded(counts: OrderCounts): void {
    const since = this.#eventsAfter(counts.position);
    if (since === undefined || since.length === 0) return;
    // No window copy to compare with (it already holds these events): each event's own `previous` says it all.
    const { counts: next } = applyEventsToCounts(counts, since, undefined, this.#options.filter);
    this.#options.queryClient.setQueryData<OrderCounts>(this.#countsKey, next);
  }

  #onCacheEvent(event: QueryCacheNotifyEvent): void {
    if (this.#disposed || event.type !== 'updated') return;
    if (event.query.queryHash === this.#countsHash) {
      const { action } = event;
      if (action.type === 'success' && action.manual !== true) this.#onCountsLoaded(action.data as OrderCounts);
      return;
    }
    if (event.query.queryHash !== this.#hash) return;
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

  /** Follows the feed once the snapshot is in the cache; before that there is no position to resume from. */
  #maybeStart(): void {
    if (this.#started || this.#disposed) return;
    const list = this.#list();
    if (!list) {
      if (this.#options.queryClient.getQueryState(this.#key)?.status === 'error') this.#onSnapshotFailed();
      return;
    }
    this.#started = true;
    this.#options.follow(list.position);
  }

  /** The API is down: say so, and read the list again with backoff so the page recovers by itself. */
  #onSnapshotFailed(): void {
    this.#options.onUnreachable();
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
        this.resync();
      }
      return;
    }
    if (state.fetchStatus === 'fetching') {
      // An answer in flight was read before these events; cancel it (its data reverts to the cached list) so it
      // cannot overwrite them.
      void queryClient.cancelQueries({ queryKey: this.#key, exact: true });
    }
    this.#journal?.push(...events);
    const counts = queryClient.getQueryData<OrderCounts>(this.#countsKey);
    if (counts) {
      // Against the window as it was before these events: it tells what an order was when an event does not.
      const update = applyEventsToCounts(counts, events, state.data, filter);
      queryClient.setQueryData<OrderCounts>(this.#countsKey, update.counts);
      if (update.unknown) void queryClient.refetchQueries({ queryKey: this.#countsKey, exact: true });
    }
    queryClient.setQueryData<OrderList>(this.#key, (list) => (list ? applyOrderEvents(list, events, filter) : list));
    this.#remember(events);
    this.#options.onEvents(events);
  }
}
