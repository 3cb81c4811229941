import {
  CloseCode,
  ErrorCode,
  MAX_CLIENT_FRAME_BYTES,
  ResyncReason,
  parseClientMessage,
  type OrderEvent,
  type Scope,
  type ServerMessage,
  type SubscribeMessage,
} from '@orders/contracts';
import type { ChangeItem } from '../change-mapping.js';
import type { FeedLogger, FeedSink } from '../feed.js';
import {
  MAX_EVENTS_PER_FRAME,
  errorMessage,
  frameOf,
  readyMessage,
  resyncMessage,
  type Serialized,
} from '../messages.js';
import type { FeedPosition } from '../position.js';
import type { HistoryReplays, ReplayTarget } from '../replay.js';
import type { TextFrame } from '../text-frame.js';
import { Client, OPEN, type HubConnection, type HubSocket } from './client.js';
import { Fanout } from './fanout.js';
import { FilterGroups } from './groups.js';
import { Entry, Ring } from './ring.js';
import { IdlePositions, isCanonicalPosition } from './issued-positions.js';
import { ReplayBudgets, type ReplayAccount } from './replay-budget.js';
import { effectiveFilter, prepareScope } from './scope.js';
import {
  emptyHubCounters,
  type ClientIdentity,
  type HubMetrics,
  type HubObserver,
  type HubOptions,
  type HubStats,
} from './types.js';

export type { ClientIdentity, HubMetrics, HubObserver, HubOptions, HubStats } from './types.js';

/*
 * The hub: subscriptions, filter groups, fan-out, backpressure and replays, between the feed (which publishes
 * into it) and the socket adapter (routes/ws.ts). See docs/ARCHITECTURE.md, "Fan-out" and "Recovery and replay".
 */

/** The size of a frame's text on the wire. */
function bytesOf(shapes: readonly string[]): number {
  let bytes = 0;
  for (const shape of shapes) bytes += Buffer.byteLength(shape);
  return bytes;
}

/** A subscription's filter in one spelling, so a repeated subscribe with the same filter is recognized. */
function filterKeyOf(message: SubscribeMessage): string {
  const status = [...(message.filter?.status ?? [])].sort();
  return JSON.stringify([status, message.filter?.customer ?? null]);
}

/** Fan-out hub. Implements the feed's sink. */
export class Hub implements FeedSink {
  private readonly feedPosition: FeedPosition;
  private readonly maxBufferedBytes: number;
  private readonly maxInvalidFrames: number;
  private readonly subscribeLimit: { max: number; windowMs: number };
  private readonly replayBudgets: ReplayBudgets | null;
  private readonly replayBudgetBytes: { principal: number; address: number };
  /** Idle positions the feed advanced to (and GET /orders may have handed out), bounded. */
  private readonly idlePositions = new IdlePositions();
  private readonly replays: HistoryReplays | undefined;
  private readonly log: FeedLogger | undefined;
  private readonly ring: Ring;
  private readonly groups = new FilterGroups();
  private readonly fanout: Fanout;
  private readonly clients = new Set<Client>();
  /** Position up to which every event has been written to live clients. */
  private delivered: string | null = null;
  private closed = false;
  private observer: HubObserver | null = null;
  private readonly metrics: HubMetrics | undefined;
  private readonly counters = emptyHubCounters();

  constructor(options: HubOptions) {
    this.feedPosition = options.position;
    this.maxBufferedBytes = options.maxBufferedBytes;
    this.maxInvalidFrames = options.maxInvalidFrames ?? 4;
    this.subscribeLimit = options.subscribeLimit ?? { max: 20, windowMs: 10_000 };
    const budget = options.replayBudget;
    this.replayBudgetBytes = { principal: budget?.principalBytes ?? 0, address: budget?.addressBytes ?? 0 };
    this.replayBudgets =
      budget === undefined || (budget.principalBytes <= 0 && budget.addressBytes <= 0)
        ? null
        : new ReplayBudgets({ windowMs: budget.windowMs, ...(budget.now !== undefined && { now: budget.now }) });
    this.replays = options.replays;
    this.log = options.log;
    this.metrics = options.metrics;
    this.ring = new Ring(options.ringSize);
    this.fanout = new Fanout(
      {
        groups: this.groups,
        latest: () => this.feedPosition.current(),
        write: (client, frame, events) => this.write(client, frame, events),
        delivered: (position, entries, startedAt, durationMs) => {
          this.delivered = position;
          if (this.observer !== null) this.observer.flushed(entries.map((entry) => entry.item));
          if (this.metrics !== undefined && entries.length > 0) {
            this.metrics.flushed(
              entries.map((entry) => entry.item),
              startedAt,
              durationMs,
            );
          }
        },
      },
      { batchWindowMs: options.batchWindowMs, writesPerTurn: options.writesPerTurn ?? 1000 },
    );
  }

  stats(): HubStats {
    let subscriptions = 0;
    for (const client of this.clients) if (client.state === 'live' || client.state === 'replaying') subscriptions++;
    return {
      clients: this.clients.size,
      subscriptions,
      ...this.counters,
      resyncsByReason: { ...this.counters.resyncsByReason },
    };
  }

  /** Installs the observer (null removes it); one at a time. */
  observe(observer: HubObserver | null): void {
    this.observer = observer;
  }

  // ---- FeedSink: the feed has written the position before each call --------------------------------------------

  publish(item: ChangeItem): void {
    if (this.closed) return;
    const entry = new Entry(item);
    this.ring.push(entry);
    this.counters.eventsPublished += 1;
    this.observer?.published(item);
    this.fanout.enqueue(entry);
  }

  advance(position: string): void {
    if (this.closed) return;
    this.idlePositions.add(position);
    // Nothing happened between the last event and `position`, so the ring holds everything after it.
    if (this.ring.size === 0 && this.ring.base === null) this.ring.base = position;
    if (this.fanout.idle) this.delivered = position;
  }

  reset(reason: ResyncReason): void {
    if (this.closed) return;
    this.fanout.flushNow();
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
    this.idlePositions.clear();
    this.delivered = null;
  }

  // ---- connections -------------------------------------------------------------------------------------------

  /**
   * Registers a socket; the transport forwards its frames and its close to the returned connection. `scope` (the
   * principal's) confines every subscription the socket makes; `identity` names the replay budgets it draws on.
   */
  connect(socket: HubSocket, scope: Scope | null = null, identity?: ClientIdentity): HubConnection {
    const client = new Client(socket, prepareScope(scope));
    if (identity !== undefined) client.replayAccounts = this.accountsOf(identity);
    if (this.closed) {
      socket.close(CloseCode.GoingAway, 'server shutting down');
      client.state = 'closed';
    } else {
      this.clients.add(client);
    }
    return {
      message: (data, isBinary = false) => {
        this.onMessage(client, data, isBinary);
      },
      closed: () => {
        this.drop(client);
      },
    };
  }

  private accountsOf(identity: ClientIdentity): ReplayAccount[] {
    const accounts: ReplayAccount[] = [];
    const { principal, address } = this.replayBudgetBytes;
    if (identity.principal !== null && principal > 0) accounts.push({ key: identity.principal, bytes: principal });
    if (identity.address !== null && address > 0) accounts.push({ key: identity.address, bytes: address });
    return accounts;
  }

  /** Pays a replay of `bytes` from the client's budgets; false when one of them cannot (nothing is taken then). */
  private payReplay(client: Client, bytes: number): boolean {
    return this.replayBudgets === null || this.replayBudgets.take(client.replayAccounts, bytes);
  }

  /** Flushes what is pending and closes every socket with `code` (1001 on shutdown). */
  close(code: number = CloseCode.GoingAway, reason = 'server shutting down'): void {
    if (this.closed) return;
    this.fanout.flushNow();
    this.closed = true;
    this.fanout.stop();
    for (const client of [...this.clients]) this.closeClient(client, code, reason);
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
    if (!this.allowSubscribe(client)) return;
    this.subscribe(client, parsed.value);
  }

  /** Counts a subscribe against the connection's budget; past it the client is told and closed (1008). */
  private allowSubscribe(client: Client): boolean {
    const now = Date.now();
    if (now - client.subscribeWindowStart >= this.subscribeLimit.windowMs) {
      client.subscribeWindowStart = now;
      client.subscribes = 0;
    }
    client.subscribes += 1;
    if (client.subscribes <= this.subscribeLimit.max) return true;
    this.sendControl(
      client,
      errorMessage(ErrorCode.RateLimited, `more than ${String(this.subscribeLimit.max)} subscribes in a window`),
    );
    this.closeClient(client, CloseCode.PolicyViolation, 'too many subscribes');
    return false;
  }

  private invalid(client: Client, message: string): void {
    this.counters.invalidFrames += 1;
    client.invalidFrames += 1;
    if (client.invalidFrames > this.maxInvalidFrames) {
      this.closeClient(client, CloseCode.ProtocolError, 'too many invalid frames');
      return;
    }
    this.sendControl(client, errorMessage(ErrorCode.BadMessage, message));
  }

  private subscribe(client: Client, message: SubscribeMessage): void {
    // Live clients have received everything up to `delivered` from here on: ready and replays start there.
    this.fanout.flushNow();
    const since = message.since;
    const filterKey = filterKeyOf(message);
    const sameFilter = filterKey === client.filterKey && client.state !== 'connected';
    // A repeated subscribe never replays what this socket already has (see docs/ARCHITECTURE.md, "Abuse
    // limits"): a replay for the same filter already in flight carries on, and a live client with the same filter
    // holds everything up to `delivered`. (Another position cancels the replay in flight: one per socket.)
    if (sameFilter && client.state === 'replaying' && since === client.replaySince) return;
    if (sameFilter && client.state === 'live' && (since === undefined || this.holdsThrough(since))) {
      this.sendReady(client, this.delivered, since !== undefined);
      return;
    }
    this.groups.remove(client);
    this.stopReplay(client);
    client.generation += 1;
    client.filter = effectiveFilter(message.filter, client.scope);
    client.filterKey = filterKey;
    if (since === undefined) {
      this.sendReady(client, this.delivered, false);
      this.join(client);
      return;
    }
    const latest = this.feedPosition.current();
    // Positions are checked (see docs/ARCHITECTURE.md, "Recovery and replay"): the server issues positions in
    // one spelling (upper-case hex) and never beyond its latest; inside the ring's range only an exact event or
    // idle position counts; anything else is verified by the database when the replay opens there.
    if (!isCanonicalPosition(since) || (latest !== null && since > latest)) {
      this.resyncToLive(client, ResyncReason.UnknownPosition);
      return;
    }
    if (latest !== null && this.ring.covers(since) && this.issuedInRing(since, latest)) {
      // The whole replay or none: a client past its budget reads its list again (see docs/ARCHITECTURE.md,
      // "Abuse limits"), rather than receiving part of a replay it would have to throw away.
      const shapes = this.ringShapes(client, since);
      if (!this.payReplay(client, bytesOf(shapes))) {
        this.resyncToLive(client, ResyncReason.ReplayLimited);
        return;
      }
      this.counters.replaysFromRing += 1;
      this.sendReady(client, since, true);
      this.sendReplayed(client, shapes);
      this.join(client);
      return;
    }
    if (!this.replays) {
      this.resyncToLive(client, ResyncReason.HistoryLost);
      return;
    }
    // A history replay's size is known only as it is read: it is paid event by event, and needs a budget to start.
    if (this.replayBudgets !== null && !this.replayBudgets.available(client.replayAccounts)) {
      this.resyncToLive(client, ResyncReason.ReplayLimited);
      return;
    }
    this.counters.replaysFromHistory += 1;
    client.state = 'replaying';
    client.replaySince = since;
    client.replay = this.replays.start(since, this.replayTarget(client, since));
  }

  /** True when a live client (same filter) already has everything after `since`: it is at or before `delivered`. */
  private holdsThrough(since: string): boolean {
    return this.delivered !== null && since <= this.delivered;
  }

  /** True when `since` is exactly a position this hub handed out: an event in the ring, the ring's base, or idle. */
  private issuedInRing(since: string, latest: string): boolean {
    return since === latest || since === this.ring.base || this.ring.has(since) || this.idlePositions.has(since);
  }

  /** How a history replay delivers into this hub for one subscription of `client`. */
  private replayTarget(client: Client, since: string): ReplayTarget {
    const generation = client.generation;
    return {
      isCurrent: () => client.generation === generation && client.state === 'replaying' && !this.closed,
      opened: () => {
        this.sendReady(client, since, true);
      },
      add: (item) => {
        const shape = new Entry(item).shapeFor(client.filter);
        if (shape === null) return client.replayed.length;
        if (!this.payReplay(client, Buffer.byteLength(shape))) {
          client.replayed = [];
          this.resyncToLive(client, ResyncReason.ReplayLimited);
          return 0;
        }
        client.replayed.push(shape);
        return client.replayed.length;
      },
      flush: () => this.sendEvents(client, client.replayed.splice(0)),
      canHandOver: (position) => this.delivered !== null && position <= this.delivered && this.ring.covers(position),
      handOver: (position) => {
        const shapes = this.ringShapes(client, position);
        if (!this.payReplay(client, bytesOf(shapes))) {
          this.resyncToLive(client, ResyncReason.ReplayLimited);
          return;
        }
        this.sendReplayed(client, shapes);
        if (client.state === 'replaying') this.join(client);
      },
      fail: (reason) => {
        client.replayed = [];
        this.resyncToLive(client, reason);
      },
    };
  }

  /**
   * The ring's events after `since` that live clients already received, as this client sees them (pending ones go
   * out with the flush). Nothing may be written to the client between this and `sendReplayed`.
   */
  private ringShapes(client: Client, since: string): Serialized<OrderEvent>[] {
    // The replay must end exactly where live delivery to this client starts.
    this.fanout.flushNow();
    const end = this.delivered;
    const shapes: Serialized<OrderEvent>[] = [];
    if (end === null) return shapes;
    for (let i = this.ring.firstAfter(since); i < this.ring.size; i++) {
      const entry = this.ring.at(i);
      if (entry.position > end) break;
      const shape = entry.shapeFor(client.filter);
      if (shape !== null) shapes.push(shape);
    }
    return shapes;
  }

  /** Sends replayed events in frames of at most MAX_EVENTS_PER_FRAME. */
  private sendReplayed(client: Client, shapes: readonly Serialized<OrderEvent>[]): void {
    for (let from = 0; from < shapes.length; from += MAX_EVENTS_PER_FRAME) {
      if (!this.sendEvents(client, shapes.slice(from, from + MAX_EVENTS_PER_FRAME))) return;
    }
  }

  private stopReplay(client: Client): void {
    const replay = client.replay;
    client.replay = null;
    client.replaySince = null;
    client.replayed = [];
    replay?.cancel();
  }

  /** Tells the client its position cannot be replayed and delivers live from now. */
  private resyncToLive(client: Client, reason: ResyncReason): void {
    if (client.state === 'closed') return;
    this.fanout.flushNow();
    this.sendResync(client, reason);
    this.sendReady(client, this.delivered, false);
    this.join(client);
  }

  private join(client: Client): void {
    if (client.state === 'closed') return;
    // A fan-out in progress took its list of sockets before this client joined: finish it first.
    this.fanout.flushNow();
    client.state = 'live';
    this.groups.add(client);
  }

  private drop(client: Client): void {
    if (client.state === 'closed') return;
    this.groups.remove(client);
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
      this.log?.warn({ err }, 'hub: closing a socket failed');
    }
  }

  // ---- writes ------------------------------------------------------------------------------------------------

  /** Sends one frame of events to one client; false when the client was closed instead. */
  private sendEvents(client: Client, shapes: Serialized<OrderEvent>[]): boolean {
    if (shapes.length === 0) return client.state !== 'closed';
    return this.write(client, frameOf(shapes), shapes.length);
  }

  private write(client: Client, frame: TextFrame | Serialized<ServerMessage>, events: number): boolean {
    const socket = client.socket;
    if (socket.readyState !== OPEN) {
      this.drop(client);
      return false;
    }
    if (socket.bufferedAmount > this.maxBufferedBytes) {
      this.counters.slowConsumerCloses += 1;
      this.closeClient(client, CloseCode.SlowConsumer, 'slow consumer: reconnect with since');
      return false;
    }
    try {
      if (typeof frame === 'string') {
        socket.send(frame);
        this.counters.bytesSent += Buffer.byteLength(frame);
      } else {
        if (socket.sendFrame) socket.sendFrame(frame);
        else socket.send(frame.payload);
        this.counters.bytesSent += frame.frame.length;
      }
    } catch (err) {
      this.log?.warn({ err }, 'hub: send failed; dropping the client');
      this.drop(client);
      return false;
    }
    this.counters.framesSent += 1;
    this.counters.deliveries += events;
    return true;
  }

  private sendControl(client: Client, message: Serialized<ServerMessage>): void {
    this.write(client, message, 0);
  }

  private sendReady(client: Client, position: string | null, resumed: boolean): void {
    this.sendControl(client, readyMessage(position, resumed));
  }

  private sendResync(client: Client, reason: ResyncReason): void {
    this.counters.resyncsSent += 1;
    this.counters.resyncsByReason[reason] += 1;
    this.sendControl(client, resyncMessage(reason));
  }
}
