import type { Order } from '@orders/contracts';
import { backoffDelay } from '@orders/contracts';
import type { ChangeItem } from '../realtime/change-mapping.js';
import type { DurableConsumer, FeedLogger } from '../realtime/feed.js';
import { historyDocument, type HistoryDocument } from './entry.js';
import { WakeableSleep } from '../wakeable-sleep.js';

/*
 * The history writer: a second consumer of the feed, beside the hub. Every API process records every change it
 * reads, keyed by position, with an insert-if-absent, so however many processes record a change (and however
 * often after a restart) it is stored once. The feed never persists a position past a change this writer holds,
 * so a kill -9 loses nothing: the next start reads it again. See docs/ARCHITECTURE.md, "The change feed".
 */

/** Where entries go (the `order_history` collection in production; a fake in unit tests). */
export interface HistoryStore {
  /** Stores each entry unless one with its `_id` exists; resolves once all are stored. */
  insertMissing(documents: readonly HistoryDocument[]): Promise<void>;
  /** The order as the newest stored entry before `position` left it (null: deleted or never recorded). */
  orderBefore(id: number, position: string): Promise<Order | null>;
}

/** Receives the writer's timings and failures (the metrics module implements it). */
export interface HistoryWriterObserver {
  /** A batch was stored: the commit times of its entries, and when it was stored. */
  stored(documents: readonly HistoryDocument[], at: Date): void;
  failed(): void;
}

export interface HistoryWriterOptions {
  store: HistoryStore;
  log: FeedLogger;
  /** Entries per database write (default 500). */
  batchSize?: number;
  /**
   * How long a change waits for others to share its database write (default 50 ms): at a few thousand writes per
   * second this turns one history write per change into one `insertMany` of about a hundred. Below that size the
   * fixed cost of each command (the driver's and the database's) is a large part of the entry's; above it, not.
   */
  batchDelayMs?: number;
  /** Changes held before the feed waits for the writer (default 10,000). */
  maxHeld?: number;
  observer?: HistoryWriterObserver;
  now?: () => Date;
}

interface Held {
  item: ChangeItem;
  /** The position before this change: everything through it was handed over earlier. */
  after: string | null;
}

/** Orders remembered to diff against when a change has no pre-image; beyond it the store is asked. */
const REMEMBERED_ORDERS = 50_000;

/** Records the feed's changes in the history. Implements the feed's sink and its durable consumer. */
export class HistoryWriter implements DurableConsumer {
  private readonly held: Held[] = [];
  private lastSeen: string | null = null;
  private readonly known = new Map<number, Order | null>();
  private running: Promise<void> | null = null;
  private failures = 0;
  private closing = false;
  private roomWaiters: (() => void)[] = [];
  private readonly sleeper = new WakeableSleep();
  private delay: NodeJS.Timeout | null = null;
  private readonly batchSize: number;
  private readonly batchDelayMs: number;
  private readonly maxHeld: number;
  private readonly now: () => Date;

  constructor(private readonly options: HistoryWriterOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.batchDelayMs = options.batchDelayMs ?? 50;
    this.maxHeld = options.maxHeld ?? 10_000;
    this.now = options.now ?? (() => new Date());
  }

  /** Changes received and not stored yet. */
  get pending(): number {
    return this.held.length;
  }

  // ---- the feed's sink ---------------------------------------------------------------------------------------

  publish(item: ChangeItem): void {
    this.held.push({ item, after: this.lastSeen });
    this.lastSeen = item.position;
    this.kick();
  }

  advance(position: string): void {
    this.lastSeen = position;
  }

  reset(): void {
    // Continuity is broken for clients; what the writer holds is still to be stored, and what follows is new.
  }

  // ---- DurableConsumer -----------------------------------------------------------------------------------------

  storedThrough(): string | null {
    const first = this.held[0];
    return first === undefined ? this.lastSeen : first.after;
  }

  capacity(): Promise<void> | null {
    if (this.held.length < this.maxHeld) return null;
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Stores what is held; gives up (leaving it for the next start) if the database refuses. */
  async drain(): Promise<void> {
    this.closing = true;
    if (this.delay !== null) clearTimeout(this.delay);
    this.delay = null;
    this.sleeper.wake();
    await this.running;
    // Each stored batch leaves the queue, so this ends; a refusal leaves the rest for the next start.
    while (this.held.length > 0) {
      const stored = await this.writeBatch().then(
        () => true,
        () => false,
      );
      if (!stored) break;
    }
    this.releaseWaiters();
  }

  // ---- writing -------------------------------------------------------------------------------------------------

  private kick(): void {
    if (this.running !== null || this.delay !== null || this.closing) return;
    if (this.batchDelayMs > 0 && this.held.length < this.batchSize) {
      this.delay = setTimeout(() => {
        this.delay = null;
        this.start();
      }, this.batchDelayMs);
      return;
    }
    this.start();
  }

  private start(): void {
    if (this.running !== null || this.closing) return;
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.held.length > 0 && !this.closing) this.kick();
    });
  }

  private async run(): Promise<void> {
    while (this.held.length > 0 && !this.closing) {
      try {
        await this.writeBatch();
        this.failures = 0;
      } catch (err) {
        this.failures += 1;
        this.options.observer?.failed();
        this.options.log.warn({ err, held: this.held.length }, 'history: could not store changes; retrying');
        await this.sleeper.sleep(backoffDelay(this.failures, { baseMs: 100, capMs: 5000 }));
      }
    }
  }

  /** Stores the oldest held changes, in order; they leave the queue only once stored. */
  private async writeBatch(): Promise<void> {
    const batch = this.held.slice(0, this.batchSize);
    const recordedAt = this.now();
    const documents: HistoryDocument[] = [];
    // Diffs are taken in commit order against the state the previous change left, within this batch too.
    const states = new Map<number, Order | null>();
    for (const { item } of batch) {
      const previous = item.facts?.previous ?? (await this.previousOf(item, states));
      documents.push(historyDocument(item, previous, recordedAt));
      states.set(item.id, item.order);
    }
    await this.options.store.insertMissing(documents);
    this.held.splice(0, batch.length);
    if (this.known.size + states.size > REMEMBERED_ORDERS) this.known.clear();
    for (const [id, order] of states) this.known.set(id, order);
    this.options.observer?.stored(documents, this.now());
    if (this.held.length < this.maxHeld) this.releaseWaiters();
  }

  private async previousOf(item: ChangeItem, states: Map<number, Order | null>): Promise<Order | null> {
    if (item.kind === 'created') return null;
    if (states.has(item.id)) return states.get(item.id) ?? null;
    if (this.known.has(item.id)) return this.known.get(item.id) ?? null;
    return this.options.store.orderBefore(item.id, item.position);
  }

  private releaseWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
