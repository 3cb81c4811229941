import {
  CloseCode,
  ErrorCode,
  MATCH_ALL_ORDERS,
  MAX_CLIENT_FRAME_BYTES,
  PROTOCOL_VERSION,
  ResyncReason,
  matchesPreparedFilter,
  parseClientMessage,
  prepareOrderFilter,
  type PreparedOrderFilter,
  type SubscribeMessage,
} from '@orders/contracts';
import type { ChangeItem, FeedLogger, FeedSink, OpenReplay, ReplayCursor } from './feed.js';
import { positionFailure } from './feed.js';
import { encodeTextFrame, type TextFrame } from './text-frame.js';

/*
 * The hub: subscriptions, filters, fan-out, batching, backpressure and replay (DESIGN decisions 5-7).
 *
 * Hot path: each event is serialized once per shape (full event, `order.left`), lazily, and cached on its ring
 * entry. Clients with the same filter form a group; a flush builds each group's message once (string
 * concatenation of cached event JSON, never JSON.stringify per socket), encodes it once as a complete WebSocket
 * frame, and writes that same buffer to every socket of the group (`sendFrame`: one write per socket, no
 * per-socket header).
 *
 * Batching rule: events are flushed on the next macrotask when nothing was flushed in the last `batchWindowMs`
 * (a quiet feed pays no window), otherwise at the end of the window; a flush sends a socket its events as one
 * frame (a single event as itself, several as `{type:'batch'}` in commit order). So under load each socket gets
 * at most one frame per window, and at 1 change/s every event goes out at once. A flush writes at most
 * `writesPerTurn` sockets per event-loop turn; the next flush waits until it is done, and anything that needs a
 * consistent "delivered" position (subscribe, replay hand-over, reset, shutdown) completes it synchronously.
 */

/** What the hub needs from a socket (the `ws` WebSocket satisfies it). */
export interface HubSocket {
  /** Sends one text message (a Buffer holds its UTF-8 bytes). */
  send(data: Buffer | string): void;
  /**
   * Sends a text message framed once for many sockets. A socket without it, or one that cannot take the frame
   * as is, sends `frame.payload` like `send`. `bufferedAmount` must count what it writes.
   */
  sendFrame?(frame: TextFrame): void;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
  readonly bufferedAmount: number;
}

const OPEN = 1;

export interface HubOptions {
  /** A socket whose send buffer passes this is closed with CloseCode.SlowConsumer. */
  maxBufferedBytes: number;
  /** Events due to a socket within this window go out as one frame. */
  batchWindowMs: number;
  /** How many recent events the hub keeps for replays. */
  ringSize: number;
  /** Opens a temporary change stream after a client's position (replays older than the ring). */
  openReplay?: OpenReplay;
  /** A replay that has not caught up with the live feed by then ends with a resync (default 30 s). */
  replayTimeoutMs?: number;
  /** Replays reading the database at once; more wait their turn (default 16). */
  maxConcurrentReplays?: number;
  /** Invalid frames a connection may send; the next one closes it with 1002 (default 4). */
  maxInvalidFrames?: number;
  /**
   * Socket writes per event-loop turn while fanning out (default 1000): a flush to many thousands of sockets
   * yields between slices so HTTP requests are not held up for the whole fan-out.
   */
  writesPerTurn?: number;
  log?: FeedLogger;
}

/** Counters for /metrics. */
export interface HubStats {
  clients: number;
  eventsPublished: number;
  /** Events written to sockets (an event in a batch of a frame to N sockets counts N). */
  deliveries: number;
  framesSent: number;
  slowConsumerCloses: number;
  resyncsSent: number;
  invalidFrames: number;
  replaysFromRing: number;
  replaysFromHistory: number;
}

/**
 * Watches the hub's hot path (the fan-out benchmark timestamps events with it). Called synchronously: keep it
 * cheap. `flushed` runs after the last socket write of a flush, with the events that flush carried.
 */
export interface HubObserver {
  published(item: ChangeItem): void;
  flushed(items: readonly ChangeItem[]): void;
}

/** One event in the ring, with its serialized shapes cached. */
class Entry {
  private full: string | null = null;
  private left: string | null = null;

  constructor(readonly item: ChangeItem) {}

  get position(): string {
    return this.item.position;
  }

  fullJson(): string {
    if (this.full === null) {
      const { item } = this;
      this.full =
        item.kind === 'deleted'
          ? JSON.stringify({ type: 'order.deleted', id: item.id, position: item.position })
          : JSON.stringify({ type: `order.${item.kind}`, order: item.order, position: item.position });
    }
    return this.full;
  }

  leftJson(): string {
    this.left ??= JSON.stringify({ type: 'order.left', id: this.item.id, position: this.item.position });
    return this.left;
  }

  /** The shape of this event a client with `filter` receives, or null when it receives nothing. */
  shapeFor(filter: PreparedOrderFilter): string | null {
    if (filter === MATCH_ALL_ORDERS) return this.fullJson();
    const { item } = this;
    const before = item.before;
    const beforeMatches = before === null ? null : matchesPreparedFilter(filter, before);
    if (item.kind === 'deleted') return beforeMatches === false ? null : this.fullJson();
    const order = item.order;
    if (order !== null && matchesPreparedFilter(filter, order)) return this.fullJson();
    if (item.kind === 'created') return null;
    // An update that does not match: the client may hold the order from before, so it learns that it left.
    // With a pre-image that did not match either, the client cannot hold it and needs nothing.
    return beforeMatches === false ? null : this.leftJson();
  }
}

/** Fixed-capacity ring of the latest events, oldest first. */
class Ring {
  private readonly items: (Entry | undefined)[];
  private head = 0;
  private count = 0;
  /** Every event after this position is in the ring (null: unknown, only positions inside the ring count). */
  base: string | null = null;

  constructor(private readonly capacity: number) {
    this.items = new Array<Entry | undefined>(Math.max(1, capacity));
  }

  get size(): number {
    return this.count;
  }

  push(entry: Entry): void {
    if (this.capacity <= 0) {
      this.base = entry.position;
      return;
    }
    if (this.count === this.capacity) {
      const evicted = this.items[this.head];
      if (evicted) this.base = evicted.position;
      this.items[this.head] = entry;
      this.head = (this.head + 1) % this.capacity;
      return;
    }
    this.items[(this.head + this.count) % this.capacity] = entry;
    this.count += 1;
  }

  at(index: number): Entry {
    const entry = this.items[(this.head + index) % this.capacity];
    if (!entry) throw new Error(`ring index ${index} out of range`);
    return entry;
  }

  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.base = null;
  }

  /** True when every event after `since` is in the ring. */
  covers(since: string): boolean {
    if (this.base !== null && since >= this.base) return true;
    return this.count > 0 && since >= this.at(0).position;
  }

  /** Index of the first entry with a position after `since`. */
  firstAfter(since: string): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).position <= since) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

type ClientState = 'connected' | 'replaying' | 'live' | 'closed';

class Client {
  state: ClientState = 'connected';
  filter: PreparedOrderFilter = MATCH_ALL_ORDERS;
  /** Bumped on every subscribe, so an older subscription's replay notices it is stale. */
  generation = 0;
  invalidFrames = 0;
  replay: ReplayCursor | null = null;

  constructor(readonly socket: HubSocket) {}
}

/** A connection as seen by the transport: feed it frames, tell it when the socket closed. */
export interface HubConnection {
  /** A frame from the client. */
  message(data: string | Buffer, isBinary?: boolean): void;
  /** The socket closed (by either side). */
  closed(): void;
}

/** Max events per frame when replaying, so a long replay does not build one huge string. */
const REPLAY_FRAME_EVENTS = 500;

/** Fan-out hub. Implements the feed's sink. */
export class Hub implements FeedSink {
  private readonly opts: Required<Omit<HubOptions, 'openReplay' | 'log'>> & Pick<HubOptions, 'openReplay' | 'log'>;
  private readonly ring: Ring;
  private readonly groups = new Map<string, Set<Client>>();
  private readonly groupFilters = new Map<string, PreparedOrderFilter>();
  private readonly clients = new Set<Client>();
  private pending: Entry[] = [];
  /** A flush whose socket writes are still in progress (spread over event-loop turns). */
  private fanout: Fanout | null = null;
  private fanoutImmediate: NodeJS.Immediate | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private flushImmediate: NodeJS.Immediate | null = null;
  private lastFlushAt = -Infinity;
  /** Latest position received from the feed (event or idle token). */
  private latest: string | null = null;
  /** Position up to which every event has been written to live clients. */
  private delivered: string | null = null;
  private activeReplays = 0;
  /** Replays waiting for a slot, at most one per client (a re-subscribe cancels the waiting one). */
  private readonly replayQueue: { client: Client; wake: (granted: boolean) => void }[] = [];
  private closed = false;
  private observer: HubObserver | null = null;
  private readonly counters: Omit<HubStats, 'clients'> = {
    eventsPublished: 0,
    deliveries: 0,
    framesSent: 0,
    slowConsumerCloses: 0,
    resyncsSent: 0,
    invalidFrames: 0,
    replaysFromRing: 0,
    replaysFromHistory: 0,
  };

  constructor(options: HubOptions) {
    this.opts = {
      replayTimeoutMs: 30_000,
      maxConcurrentReplays: 16,
      maxInvalidFrames: 4,
      writesPerTurn: 1000,
      ...options,
    };
    this.ring = new Ring(options.ringSize);
  }

  /** Latest position the feed handed over: `GET /orders` takes it before reading. */
  position(): string | null {
    return this.latest;
  }

  stats(): HubStats {
    return { clients: this.clients.size, ...this.counters };
  }

  /** Installs the observer (null removes it); one at a time. */
  observe(observer: HubObserver | null): void {
    this.observer = observer;
  }

  // ---- FeedSink ----------------------------------------------------------------------------------------------

  publish(item: ChangeItem): void {
    if (this.closed) return;
    const entry = new Entry(item);
    this.ring.push(entry);
    this.pending.push(entry);
    this.latest = item.position;
    this.counters.eventsPublished += 1;
    this.observer?.published(item);
    this.scheduleFlush();
  }

  advance(position: string): void {
    if (this.closed) return;
    if (this.latest !== null && position <= this.latest) return;
    this.latest = position;
    // Nothing happened between the last event and `position`, so the ring holds everything after it.
    if (this.ring.size === 0 && this.ring.base === null) this.ring.base = position;
    if (this.pending.length === 0 && this.fanout === null) this.delivered = position;
  }

  reset(reason: ResyncReason): void {
    if (this.closed) return;
    this.flushNow();
    for (const client of this.clients) {
      if (client.state === 'connected' || client.state === 'closed') continue;
      if (client.state === 'replaying') {
        this.stopReplay(client);
        client.generation += 1;
        this.join(client);
      }
      this.sendResync(client, reason);
    }
    this.ring.clear();
    this.latest = null;
    this.delivered = null;
  }

  // ---- connections -------------------------------------------------------------------------------------------

  /** Registers a socket; the transport forwards its frames and its close to the returned connection. */
  connect(socket: HubSocket): HubConnection {
    const client = new Client(socket);
    if (this.closed) {
      socket.close(CloseCode.GoingAway, 'server shutting down');
      client.state = 'closed';
    } else {
      this.clients.add(client);
    }
    return {
      message: (data, isBinary = false) => this.onMessage(client, data, isBinary),
      closed: () => this.drop(client),
    };
  }

  /** Flushes what is pending and closes every socket with `code` (1001 on shutdown). */
  close(code: number = CloseCode.GoingAway, reason = 'server shutting down'): void {
    if (this.closed) return;
    this.flushNow();
    this.closed = true;
    this.clearFlushTimers();
    for (const client of [...this.clients]) {
      this.drop(client);
      try {
        client.socket.close(code, reason);
      } catch (err) {
        this.opts.log?.warn({ err }, 'hub: closing a socket failed');
      }
    }
    for (const waiting of this.replayQueue.splice(0)) waiting.wake(false);
  }

  private onMessage(client: Client, data: string | Buffer, isBinary: boolean): void {
    if (client.state === 'closed') return;
    if (isBinary) {
      this.invalid(client, 'binary frames are not supported; send JSON text');
      return;
    }
    const size = typeof data === 'string' ? data.length : data.byteLength;
    if (size > MAX_CLIENT_FRAME_BYTES) {
      this.closeClient(client, CloseCode.MessageTooBig, 'frame too big');
      return;
    }
    const parsed = parseClientMessage(typeof data === 'string' ? data : data.toString('utf8'));
    if (!parsed.ok) {
      this.invalid(client, parsed.error);
      return;
    }
    this.subscribe(client, parsed.value);
  }

  private invalid(client: Client, message: string): void {
    this.counters.invalidFrames += 1;
    client.invalidFrames += 1;
    if (client.invalidFrames > this.opts.maxInvalidFrames) {
      this.closeClient(client, CloseCode.ProtocolError, 'too many invalid frames');
      return;
    }
    this.sendText(client, JSON.stringify({ type: 'error', code: ErrorCode.BadMessage, message }));
  }

  private subscribe(client: Client, message: SubscribeMessage): void {
    // Live clients have received everything up to `delivered` from here on: ready and replays start there.
    this.flushNow();
    this.leave(client);
    this.stopReplay(client);
    client.generation += 1;
    client.filter = prepareOrderFilter(message.filter);
    const since = message.since;
    if (since === undefined) {
      this.sendReady(client, this.delivered, false);
      this.join(client);
      return;
    }
    if (this.latest !== null && since <= this.latest && this.ring.covers(since)) {
      this.counters.replaysFromRing += 1;
      this.sendReady(client, since, true);
      this.replayRing(client, since);
      this.join(client);
      return;
    }
    if (!this.opts.openReplay) {
      this.resyncToLive(client, ResyncReason.HistoryLost);
      return;
    }
    this.counters.replaysFromHistory += 1;
    client.state = 'replaying';
    void this.replayHistory(client, since, client.generation);
  }

  /** Sends ring events after `since` that live clients already received (pending ones go out with the flush). */
  private replayRing(client: Client, since: string): void {
    // The replay must end exactly where live delivery to this client starts.
    this.flushNow();
    const end = this.delivered;
    if (end === null) return;
    let batch: string[] = [];
    for (let i = this.ring.firstAfter(since); i < this.ring.size; i++) {
      const entry = this.ring.at(i);
      if (entry.position > end) break;
      const shape = entry.shapeFor(client.filter);
      if (shape === null) continue;
      batch.push(shape);
      if (batch.length >= REPLAY_FRAME_EVENTS) {
        if (!this.sendEvents(client, batch)) return;
        batch = [];
      }
    }
    if (batch.length > 0) this.sendEvents(client, batch);
  }

  /**
   * Reads history after `since` from a temporary change stream until it reaches what the ring holds and live
   * clients have received, then hands over to the ring and live delivery. Every exit closes the stream.
   */
  private async replayHistory(client: Client, since: string, generation: number): Promise<void> {
    const stale = (): boolean => client.generation !== generation || client.state !== 'replaying' || this.closed;
    if (!(await this.acquireReplaySlot(client))) return;
    if (stale()) {
      this.releaseReplaySlot();
      return;
    }
    const openReplay = this.opts.openReplay;
    if (!openReplay) throw new Error('unreachable: replayHistory without openReplay');
    let cursor: ReplayCursor | null = null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void cursor?.close().catch(() => undefined);
    }, this.opts.replayTimeoutMs);
    try {
      cursor = openReplay(since);
      client.replay = cursor;
      let readySent = false;
      let last: string | null = since;
      let out: string[] = [];
      for (;;) {
        const step = await cursor.next();
        if (stale()) return;
        if (!readySent) {
          // The stream opened at `since`: the client will get everything after it.
          this.sendReady(client, since, true);
          readySent = true;
        }
        if (step.kind === 'invalidated') {
          this.sendEvents(client, out);
          this.resyncToLive(client, ResyncReason.Invalidated);
          return;
        }
        if (step.kind === 'event') {
          last = step.item.position;
          const shape = new Entry(step.item).shapeFor(client.filter);
          if (shape !== null) out.push(shape);
        } else if (step.position !== null && (last === null || step.position > last)) {
          last = step.position;
        }
        const caughtUp = last !== null && this.delivered !== null && last <= this.delivered && this.ring.covers(last);
        if (caughtUp || step.kind === 'idle' || out.length >= REPLAY_FRAME_EVENTS) {
          if (out.length > 0 && !this.sendEvents(client, out)) return;
          out = [];
        }
        if (caughtUp && last !== null) {
          this.replayRing(client, last);
          if (client.state === 'replaying') this.join(client);
          return;
        }
      }
    } catch (err) {
      if (stale()) return;
      const reason = timedOut ? ResyncReason.FeedReset : (positionFailure(err) ?? ResyncReason.FeedReset);
      this.opts.log?.warn({ err, reason }, 'hub: replay from history failed; client resyncs');
      this.resyncToLive(client, reason);
    } finally {
      clearTimeout(timer);
      if (client.replay === cursor) client.replay = null;
      if (cursor) await cursor.close().catch(() => undefined);
      this.releaseReplaySlot();
    }
  }

  /** Resolves true with a slot taken, or false when the wait was cancelled (re-subscribe, close, shutdown). */
  private acquireReplaySlot(client: Client): Promise<boolean> {
    if (this.activeReplays < this.opts.maxConcurrentReplays) {
      this.activeReplays += 1;
      return Promise.resolve(true);
    }
    return new Promise((resolve) =>
      this.replayQueue.push({
        client,
        wake: (granted) => {
          if (granted) this.activeReplays += 1;
          resolve(granted);
        },
      }),
    );
  }

  private releaseReplaySlot(): void {
    this.activeReplays -= 1;
    this.replayQueue.shift()?.wake(true);
  }

  private stopReplay(client: Client): void {
    const waiting = this.replayQueue.findIndex((entry) => entry.client === client);
    if (waiting !== -1) this.replayQueue.splice(waiting, 1)[0]?.wake(false);
    const cursor = client.replay;
    client.replay = null;
    if (cursor) void cursor.close().catch(() => undefined);
  }

  /** Tells the client its position cannot be replayed and delivers live from now. */
  private resyncToLive(client: Client, reason: ResyncReason): void {
    if (client.state === 'closed') return;
    this.flushNow();
    this.sendResync(client, reason);
    this.sendReady(client, this.delivered, false);
    this.join(client);
  }

  private join(client: Client): void {
    if (client.state === 'closed') return;
    // A fan-out in progress took its list of sockets before this client joined: finish it first.
    this.flushNow();
    client.state = 'live';
    const key = client.filter.key;
    let group = this.groups.get(key);
    if (!group) {
      group = new Set();
      this.groups.set(key, group);
      this.groupFilters.set(key, client.filter);
    }
    group.add(client);
  }

  private leave(client: Client): void {
    const key = client.filter.key;
    const group = this.groups.get(key);
    if (!group) return;
    group.delete(client);
    if (group.size === 0) {
      this.groups.delete(key);
      this.groupFilters.delete(key);
    }
  }

  private drop(client: Client): void {
    if (client.state === 'closed') return;
    this.leave(client);
    this.stopReplay(client);
    client.state = 'closed';
    client.generation += 1;
    this.clients.delete(client);
  }

  private closeClient(client: Client, code: number, reason: string): void {
    this.drop(client);
    try {
      client.socket.close(code, reason);
    } catch (err) {
      this.opts.log?.warn({ err }, 'hub: closing a socket failed');
    }
  }

  // ---- fan-out -----------------------------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushTimer !== null || this.flushImmediate !== null) return;
    const wait = this.lastFlushAt + this.opts.batchWindowMs - performance.now();
    if (wait <= 0) {
      this.flushImmediate = setImmediate(() => {
        this.flushImmediate = null;
        this.flush();
      });
    } else {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        this.flush();
      }, wait);
    }
  }

  private clearFlushTimers(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    if (this.flushImmediate !== null) clearImmediate(this.flushImmediate);
    this.flushTimer = null;
    this.flushImmediate = null;
  }

  /** Timer entry point: starts writing everything pending, unless a fan-out is in progress (it reschedules). */
  private flush(): void {
    this.clearFlushTimers();
    if (this.fanout !== null || this.pending.length === 0) return;
    this.startFanout();
    this.pump(this.opts.writesPerTurn);
  }

  /** Completes the fan-out in progress and writes everything pending, synchronously. */
  private flushNow(): void {
    this.clearFlushTimers();
    if (this.fanout !== null) this.pump(Infinity);
    if (this.pending.length === 0) return;
    this.startFanout();
    this.pump(Infinity);
  }

  /** Builds one frame per filter group from the pending events (the same bytes for every socket of a group). */
  private startFanout(): void {
    const events = this.pending;
    this.pending = [];
    this.lastFlushAt = performance.now();
    const jobs: FanoutJob[] = [];
    for (const [key, group] of this.groups) {
      const filter = this.groupFilters.get(key) ?? MATCH_ALL_ORDERS;
      const shapes: string[] = [];
      for (const entry of events) {
        const shape = entry.shapeFor(filter);
        if (shape !== null) shapes.push(shape);
      }
      if (shapes.length === 0) continue;
      jobs.push({ frame: encodeTextFrame(frameOf(shapes)), events: shapes.length, clients: [...group] });
    }
    this.fanout = { jobs, job: 0, index: 0, items: events, end: this.latest };
  }

  /** Writes up to `budget` sockets of the fan-out in progress; continues on the next turn if any are left. */
  private pump(budget: number): void {
    const fanout = this.fanout;
    if (fanout === null) return;
    if (this.fanoutImmediate !== null) clearImmediate(this.fanoutImmediate);
    this.fanoutImmediate = null;
    let left = budget;
    for (; fanout.job < fanout.jobs.length; fanout.job++, fanout.index = 0) {
      const job = fanout.jobs[fanout.job] as FanoutJob;
      while (fanout.index < job.clients.length) {
        if (left <= 0) {
          this.fanoutImmediate = setImmediate(() => {
            this.fanoutImmediate = null;
            this.pump(this.opts.writesPerTurn);
          });
          return;
        }
        const client = job.clients[fanout.index++] as Client;
        left -= 1;
        // Clients that left since the fan-out began (closed, cut off) are skipped.
        if (client.state === 'live') this.write(client, job.frame, job.events);
      }
    }
    this.fanout = null;
    this.delivered = this.pending.length === 0 ? this.latest : fanout.end;
    if (this.observer !== null) this.observer.flushed(fanout.items.map((entry) => entry.item));
    if (this.pending.length > 0) this.scheduleFlush();
  }

  /** Sends one frame of events to one client; false when the client was closed instead. */
  private sendEvents(client: Client, shapes: string[]): boolean {
    if (shapes.length === 0) return client.state !== 'closed';
    return this.write(client, frameOf(shapes), shapes.length);
  }

  private write(client: Client, frame: TextFrame | string, events: number): boolean {
    const socket = client.socket;
    if (socket.readyState !== OPEN) {
      this.drop(client);
      return false;
    }
    if (socket.bufferedAmount > this.opts.maxBufferedBytes) {
      this.counters.slowConsumerCloses += 1;
      this.closeClient(client, CloseCode.SlowConsumer, 'slow consumer: reconnect with since');
      return false;
    }
    try {
      if (typeof frame === 'string') socket.send(frame);
      else if (socket.sendFrame) socket.sendFrame(frame);
      else socket.send(frame.payload);
    } catch (err) {
      this.opts.log?.warn({ err }, 'hub: send failed; dropping the client');
      this.drop(client);
      return false;
    }
    this.counters.framesSent += 1;
    this.counters.deliveries += events;
    return true;
  }

  private sendText(client: Client, text: string): void {
    this.write(client, text, 0);
  }

  private sendReady(client: Client, position: string | null, resumed: boolean): void {
    this.sendText(client, JSON.stringify({ type: 'ready', protocol: PROTOCOL_VERSION, position, resumed }));
  }

  private sendResync(client: Client, reason: ResyncReason): void {
    this.counters.resyncsSent += 1;
    this.sendText(client, JSON.stringify({ type: 'resync', reason }));
  }
}

interface FanoutJob {
  frame: TextFrame;
  events: number;
  clients: Client[];
}

interface Fanout {
  jobs: FanoutJob[];
  job: number;
  index: number;
  items: Entry[];
  /** The latest position when the fan-out began: delivered once every write is done. */
  end: string | null;
}

/** One event as itself, several as a batch; built from already-serialized events. */
function frameOf(shapes: string[]): string {
  if (shapes.length === 1) return shapes[0] as string;
  return `{"type":"batch","events":[${shapes.join(',')}]}`;
}
