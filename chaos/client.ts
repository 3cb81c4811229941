import { OrderSocket } from '@orders/client';
import type { ListOrdersResponse, Order, OrderEvent } from '@orders/contracts';
import WebSocket from 'ws';
import { authHeaders } from './auth.js';
import { sleep, type Random } from './random.js';

/*
 * A dashboard-like client that keeps its own view of the orders and records what it received, so the run can check
 * it afterwards against the database's change history. The connection is the dashboard's own client
 * (`@orders/client`, over `ws`): the same subscribe, validation, resume position and reconnect backoff.
 *
 * - It starts from a snapshot (GET /orders, every page; the first page's position, taken before any read, is
 *   where the snapshot is known complete) and subscribes `since` that position.
 * - Events are applied idempotently by (id, version): a replayed event already reflected in the snapshot is an
 *   "idempotent replay", not a duplicate.
 * - On a disconnect (dropped, moved, 1001, 4000, a killed process) it reconnects to any process with `since` =
 *   the last position it received. On `resync` it drops the socket, refetches the snapshot and subscribes again.
 *
 * A *segment* is a stretch of continuity: from a snapshot position, through any number of reconnects with since,
 * to the next resync. Within a segment the client must receive every change after its start exactly once, in
 * order; that is what the verifier checks (`lost`, `duplicates`, `outOfOrder`).
 */

/** Where the client can reach an API right now. */
export interface Endpoint {
  name: string;
  baseUrl: string;
  wsUrl: string;
}

export interface Segment {
  /** Position the segment starts after (the snapshot's). */
  start: string;
  /** Last position applied in this segment (the start until an event arrives). */
  last: string;
  /** Every position received in this segment. */
  received: Set<string>;
  /** (id, version) of every event applied in this segment, to tell a duplicate from an idempotent replay. */
  applied: Set<string>;
  /** How it ended: still open, or cut by a resync (later changes are covered by the next snapshot). */
  endedBy: 'open' | 'resync';
}

export interface ClientStats {
  connects: number;
  /** Reconnects with since after an unplanned close (dropped, server gone, slow consumer). */
  reconnects: number;
  /** Planned disconnects by the chaos run (drops and moves). */
  drops: number;
  moves: number;
  snapshots: number;
  snapshotPages: number;
  events: number;
  idempotentReplays: number;
  duplicates: number;
  outOfOrder: number;
  resyncs: Record<string, number>;
  closeCodes: Record<string, number>;
  protocolErrors: string[];
}

const REQUEST_TIMEOUT_MS = 5_000;
/** Reconnects come quickly (the run is short) but spread out, so clients of a killed process do not move in lockstep. */
const RECONNECT_BACKOFF = { baseMs: 50, capMs: 1_000 };
/** A snapshot that cannot be read after this many tries leaves the client behind; the run then reports it. */
const SNAPSHOT_ATTEMPTS = 200;

export class ChaosClient {
  readonly view = new Map<number, Order>();
  readonly segments: Segment[] = [];
  readonly stats: ClientStats = {
    connects: 0,
    reconnects: 0,
    drops: 0,
    moves: 0,
    snapshots: 0,
    snapshotPages: 0,
    events: 0,
    idempotentReplays: 0,
    duplicates: 0,
    outOfOrder: 0,
    resyncs: {},
    closeCodes: {},
    protocolErrors: [],
  };
  private readonly socket: OrderSocket;
  /** The `ws` socket of the latest connection attempt, for planned drops and moves. */
  private current: WebSocket | null = null;
  private endpoint: Endpoint | null = null;
  private plannedClose: 'drop' | 'move' | null = null;
  /** Whether the connection being opened follows a planned close, and whether it resumes its segment. */
  private attempt: { planned: 'drop' | 'move' | null; resumes: boolean } = { planned: null, resumes: false };
  private attemptsInSegment = 0;
  private connectFailures = 0;
  private snapshotting: Promise<void> | null = null;
  private readonly stopping = new AbortController();

  constructor(
    readonly name: string,
    private readonly endpoints: () => Endpoint[],
    private readonly random: Random,
  ) {
    this.socket = new OrderSocket({
      url: () => this.nextUrl(),
      connect: (url) => {
        const socket = new WebSocket(url, { handshakeTimeout: REQUEST_TIMEOUT_MS, headers: { ...authHeaders() } });
        this.current = socket;
        return socket;
      },
      backoff: { ...RECONNECT_BACKOFF, random: () => random.next() },
      listener: {
        opened: () => {
          this.stats.connects += 1;
          if (this.attempt.resumes && this.attempt.planned === null) this.stats.reconnects += 1;
        },
        ready: (message, since) => {
          if (since !== null && !message.resumed)
            this.protocolError(`ready without resume after since (${JSON.stringify(message)})`);
        },
        events: (events) => {
          const segment = this.segment;
          if (segment) for (const event of events) this.apply(segment, event);
        },
        resync: (message) => {
          this.stats.resyncs[message.reason] = (this.stats.resyncs[message.reason] ?? 0) + 1;
          if (this.segment) this.segment.endedBy = 'resync';
          // Nothing more from this socket counts: the next snapshot covers it.
          this.socket.pause();
          this.followFromSnapshot();
        },
        closed: (code) => {
          this.stats.closeCodes[code] = (this.stats.closeCodes[code] ?? 0) + 1;
        },
        connectFailed: (error) => {
          this.connectFailures += 1;
          if (this.connectFailures % 20 === 0) process.stderr.write(`[${this.name}] ${String(error)}\n`);
        },
        serverError: (message) => {
          this.protocolError(`${message.code}: ${message.message}`);
        },
        invalidFrame: (reason) => {
          this.protocolError(reason);
        },
      },
    });
  }

  /** Current segment (null before the first snapshot). */
  get segment(): Segment | null {
    return this.segments.at(-1) ?? null;
  }

  /** Last position applied (event or snapshot), or null before the first snapshot. */
  get position(): string | null {
    return this.segment?.last ?? null;
  }

  /** Live: subscribed and ready on an open socket. */
  get live(): boolean {
    return this.socket.state === 'live';
  }

  start(): void {
    if (this.segments.length === 0) this.followFromSnapshot();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.socket.stop();
    await this.snapshotting;
  }

  /** Drops the connection abruptly (no close frame); the client reconnects with since. */
  drop(): void {
    if (this.current?.readyState !== WebSocket.OPEN) return;
    this.plannedClose = 'drop';
    this.stats.drops += 1;
    this.current.terminate();
  }

  /** Closes the connection and reconnects to another process with since. */
  move(): void {
    if (this.current?.readyState !== WebSocket.OPEN) return;
    this.plannedClose = 'move';
    this.stats.moves += 1;
    this.current.close(1000, 'moving');
  }

  /** Picks the process for the next connection attempt: any, or another one after a move. */
  private nextUrl(): string {
    const avoid = this.plannedClose === 'move' ? (this.endpoint?.name ?? null) : null;
    // The first connection after a snapshot starts its segment; every later one resumes it.
    this.attempt = { planned: this.plannedClose, resumes: this.attemptsInSegment > 0 };
    this.plannedClose = null;
    this.attemptsInSegment += 1;
    const all = this.endpoints();
    if (all.length === 0) throw new Error('no API process is up');
    const others = all.filter((e) => e.name !== avoid);
    this.endpoint = this.random.pick(others.length > 0 ? others : all);
    return this.endpoint.wsUrl;
  }

  /** Reads a snapshot, then follows the feed since its position. */
  private followFromSnapshot(): void {
    this.snapshotting = this.snapshot().then((position) => {
      this.snapshotting = null;
      if (position === null || this.stopping.signal.aborted) return;
      this.attemptsInSegment = 0;
      this.socket.subscribe(position);
    });
  }

  /**
   * GET /orders, every page, from any process; retried (bounded) while the database or the process is away.
   * Starts a new segment and answers its position, or null when stopped or out of attempts.
   */
  private async snapshot(): Promise<string | null> {
    const signal = this.stopping.signal;
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS && !signal.aborted; attempt++) {
      try {
        const all = this.endpoints();
        if (all.length === 0) throw new Error('no API process is up');
        const endpoint = this.random.pick(all);
        const orders = new Map<number, Order>();
        let position: string | null | undefined;
        let cursor: string | null = null;
        for (let page = 0; page < 10_000; page++) {
          const url = `${endpoint.baseUrl}/orders?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const response = await fetch(url, {
            headers: authHeaders(),
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          if (response.status !== 200) throw new Error(`GET /orders answered ${response.status}`);
          const body = (await response.json()) as ListOrdersResponse;
          this.stats.snapshotPages += 1;
          // The first page's position precedes every read: each change after it is in a page or will be replayed.
          position ??= body.position;
          for (const order of body.orders) {
            const held = orders.get(order.id);
            if (!held || held.version < order.version) orders.set(order.id, order);
          }
          cursor = body.next_cursor;
          if (cursor === null) break;
        }
        if (position === null || position === undefined) throw new Error('the feed has no position yet');
        this.view.clear();
        for (const [id, order] of orders) this.view.set(id, order);
        this.segments.push({
          start: position,
          last: position,
          received: new Set(),
          applied: new Set(),
          endedBy: 'open',
        });
        this.stats.snapshots += 1;
        return position;
      } catch {
        await sleep(100 + this.random.next() * 200, signal);
      }
    }
    if (!signal.aborted) process.stderr.write(`[${this.name}] no snapshot after ${SNAPSHOT_ATTEMPTS} attempts\n`);
    return null;
  }

  private apply(segment: Segment, event: OrderEvent): void {
    if (segment.endedBy !== 'open') return;
    this.stats.events += 1;
    // Ids are never reused after a delete, so (id, version) and (id, deleted) name one change each.
    const key = 'order' in event ? `${event.order.id}:v${event.order.version}` : `${event.id}:deleted`;
    if (segment.received.has(event.position) || segment.applied.has(key)) {
      this.stats.duplicates += 1;
      return;
    }
    if (event.position <= segment.last) {
      // Behind what this segment already applied (or before the snapshot's position): not commit order.
      this.stats.outOfOrder += 1;
      return;
    }
    segment.received.add(event.position);
    segment.applied.add(key);
    segment.last = event.position;
    switch (event.type) {
      case 'order.created':
      case 'order.updated': {
        const held = this.view.get(event.order.id);
        if (held && held.version >= event.order.version) this.stats.idempotentReplays += 1;
        else this.view.set(event.order.id, event.order);
        return;
      }
      case 'order.deleted':
      case 'order.left':
        if (!this.view.delete(event.id)) this.stats.idempotentReplays += 1;
        return;
    }
  }

  private protocolError(message: string): void {
    if (this.stats.protocolErrors.length < 20) this.stats.protocolErrors.push(message);
  }
}
