import { MATCH_ALL_ORDERS, matchesPreparedFilter, type OrderEvent, type PreparedOrderFilter } from '@orders/contracts';
import type { ChangeItem } from '../change-mapping.js';
import { eventMessage, leftMessage, type Serialized } from '../messages.js';
import type { EffectiveFilter } from './scope.js';

/** One event in the ring, with its serialized shapes built lazily, once, and shared by every socket. */
export class Entry {
  private full: Serialized<OrderEvent> | null = null;
  private left: Serialized<OrderEvent> | null = null;

  constructor(readonly item: ChangeItem) {}

  get position(): string {
    return this.item.position;
  }

  /**
   * The shape of this event a socket with `effective` receives, or null when it receives nothing. Under a scope,
   * nothing about an order outside it ever goes out: not its creation, update or deletion; an order that moves out
   * of the scope is an `order.left`; and when the event carries no pre-image the scope cannot be checked against,
   * a delete or a departure is withheld rather than risk naming an order the socket must not know.
   */
  shapeFor(effective: EffectiveFilter): Serialized<OrderEvent> | null {
    const { filter, scope } = effective;
    if (scope === null) return this.shapeForFilter(filter);
    const { item } = this;
    const beforeInScope = item.before === null ? null : matchesPreparedFilter(scope, item.before);
    if (item.kind === 'deleted') return beforeInScope === true ? this.shapeForFilter(filter) : null;
    if (matchesPreparedFilter(scope, item.order)) return this.shapeForFilter(filter);
    if (item.kind === 'created' || beforeInScope !== true || item.before === null) return null;
    // It was in scope and now is not: the socket may hold it (if its filter matched too), so it learns that it left.
    return matchesPreparedFilter(filter, item.before) ? this.leftShape() : null;
  }

  /** The shape of this event under a subscription filter alone. */
  private shapeForFilter(filter: PreparedOrderFilter): Serialized<OrderEvent> | null {
    if (filter === MATCH_ALL_ORDERS) return this.fullShape();
    const { item } = this;
    const beforeMatches = item.before === null ? null : matchesPreparedFilter(filter, item.before);
    if (item.kind === 'deleted') return beforeMatches === false ? null : this.fullShape();
    if (matchesPreparedFilter(filter, item.order)) return this.fullShape();
    if (item.kind === 'created') return null;
    // An update that does not match: the client may hold the order from before, so it learns that it left.
    // With a pre-image that did not match either, the client cannot hold it and needs nothing.
    return beforeMatches === false ? null : this.leftShape();
  }

  private fullShape(): Serialized<OrderEvent> {
    this.full ??= eventMessage(this.item);
    return this.full;
  }

  private leftShape(): Serialized<OrderEvent> {
    this.left ??= leftMessage(this.item);
    return this.left;
  }
}

/** Fixed-capacity ring of the latest events, oldest first. */
export class Ring {
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
    if (!entry) throw new Error(`ring index ${String(index)} out of range`);
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

  /** True when `position` is exactly the position of an event in the ring. */
  has(position: string): boolean {
    const index = this.firstAfter(position);
    return index > 0 && this.at(index - 1).position === position;
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
