import WebSocket from 'ws';
import { parseServerMessage, type ListOrdersResponse, type Order, type OrderEvent } from '@orders/contracts';
import { sleep, type Random } from './random.js';

/*
 * A dashboard-like WebSocket client that keeps its own view of the orders and records what it received, so the
 * run can check it afterwards against the database's change history:
 *
 * - It starts from a snapshot (GET /orders, every page; the first page's position, taken before any read, is
 *   where the snapshot is known complete) and subscribes `since` that position.
 * - Events are applied idempotently by (id, version): a replayed event already reflected in the snapshot is an
 *   "idempotent replay", not a duplicate.
 * - On a disconnect (dropped, moved, 1001, 4000, a killed process) it reconnects to any process with `since` =
 *   the last position it applied. On `resync` it drops the socket, refetches the snapshot and subscribes again.
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
  /** Live: subscribed and ready on an open socket. */
  live = false;
  private socket: WebSocket | null = null;
  private endpoint: Endpoint | null = null;
  private needSnapshot = true;
  private servedSegment: Segment | null = null;
  private plannedClose: 'drop' | 'move' | null = null;
  private wakeLoop: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private readonly stopping = new AbortController();

  constructor(
    readonly name: string,
    private readonly endpoints: () => Endpoint[],
    private readonly random: Random,
  ) {}

  /** Current segment (null before the first snapshot). */
  get segment(): Segment | null {
    return this.segments.at(-1) ?? null;
  }

  /** Last position applied (event or snapshot), or null before the first snapshot. */
  get position(): string | null {
    return this.segment?.last ?? null;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.wakeLoop?.();
    this.socket?.terminate();
    await this.loop;
  }

  /** Drops the connection abruptly (no close frame); the client reconnects with since. */
  drop(): void {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    this.plannedClose = 'drop';
    this.stats.drops += 1;
    this.socket.terminate();
  }

  /** Closes the connection and reconnects to another process with since. */
  move(): void {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    this.plannedClose = 'move';
    this.stats.moves += 1;
    this.socket.close(1000, 'moving');
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (this.needSnapshot) {
          await this.snapshot();
          this.needSnapshot = false;
        }
        const closed = await this.connectAndServe();
        failures = closed === 'error' ? failures + 1 : 0;
      } catch (err) {
        failures += 1;
        if (failures % 20 === 0) process.stderr.write(`[${this.name}] ${(err as Error).message}\n`);
      }
      if (signal.aborted) break;
      // Capped backoff with jitter so that clients of a killed process do not reconnect in lockstep.
      const cap = Math.min(1000, 50 * 2 ** Math.min(failures, 6));
      await sleep(cap / 2 + this.random.next() * (cap / 2), signal);
    }
  }

  private pickEndpoint(avoid: string | null): Endpoint {
    const all = this.endpoints();
    if (all.length === 0) throw new Error('no API process is up');
    const others = all.filter((e) => e.name !== avoid);
    return this.random.pick(others.length > 0 ? others : all);
  }

  /** GET /orders, every page, from any process; retried (bounded) while the database or the process is away. */
  private async snapshot(): Promise<void> {
    const signal = this.stopping.signal;
    for (let attempt = 0; attempt < 200 && !signal.aborted; attempt++) {
      try {
        const endpoint = this.pickEndpoint(null);
        const orders = new Map<number, Order>();
        let position: string | null | undefined;
        let cursor: string | null = null;
        for (let page = 0; page < 10_000; page++) {
          const url = `${endpoint.baseUrl}/orders?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
          if (response.status !== 200) throw new Error(`GET /orders answered ${response.status}`);
          const body = (await response.json()) as ListOrdersResponse;
          this.stats.snapshotPages += 1;
          // The first page's position precedes every read: each change after it is in a page or will be replayed.
          if (position === undefined) position = body.position;
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
        return;
      } catch {
        await sleep(100 + this.random.next() * 200, signal);
      }
    }
  }

  /** Connects, subscribes since the current position and applies frames until the socket closes. */
  private async connectAndServe(): Promise<'closed' | 'resync' | 'error'> {
    const segment = this.segment;
    if (!segment) throw new Error('no snapshot');
    const endpoint = this.pickEndpoint(this.plannedClose === 'move' ? (this.endpoint?.name ?? null) : null);
    const wasPlanned = this.plannedClose;
    this.plannedClose = null;
    // A connection that follows a closed one of the same segment resumes it; the first after a snapshot does not.
    const resumes = segment.last !== segment.start || this.servedSegment === segment;
    this.servedSegment = segment;
    const socket = new WebSocket(endpoint.wsUrl, { handshakeTimeout: REQUEST_TIMEOUT_MS });
    this.socket = socket;
    this.endpoint = endpoint;
    let outcome: 'closed' | 'resync' | 'error' = 'closed';
    let opened = false;
    await new Promise<void>((resolveClosed) => {
      this.wakeLoop = () => resolveClosed();
      socket.on('open', () => {
        opened = true;
        this.stats.connects += 1;
        if (resumes && wasPlanned === null) this.stats.reconnects += 1;
        socket.send(JSON.stringify({ type: 'subscribe', since: segment.last }));
      });
      socket.on('message', (data: Buffer, isBinary) => {
        if (this.socket !== socket) return;
        if (isBinary) return this.protocolError('binary frame');
        const parsed = parseServerMessage(data.toString('utf8'));
        if (!parsed.ok) return this.protocolError(parsed.error);
        const message = parsed.value;
        switch (message.type) {
          case 'ready':
            if (!message.resumed) this.protocolError(`ready without resume after since (${JSON.stringify(message)})`);
            this.live = true;
            return;
          case 'resync':
            this.stats.resyncs[message.reason] = (this.stats.resyncs[message.reason] ?? 0) + 1;
            segment.endedBy = 'resync';
            this.needSnapshot = true;
            this.live = false;
            outcome = 'resync';
            // Nothing more from this socket counts: the next snapshot covers it.
            this.socket = null;
            socket.close(1000, 'resync');
            return;
          case 'error':
            return this.protocolError(`${message.code}: ${message.message}`);
          case 'batch':
            for (const event of message.events) this.apply(segment, event);
            return;
          default:
            this.apply(segment, message);
        }
      });
      socket.on('error', () => {
        if (!opened) outcome = 'error';
      });
      socket.on('close', (code) => {
        this.stats.closeCodes[code] = (this.stats.closeCodes[code] ?? 0) + 1;
        if (this.socket === socket) this.socket = null;
        this.live = false;
        resolveClosed();
      });
    });
    this.wakeLoop = null;
    return outcome;
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
