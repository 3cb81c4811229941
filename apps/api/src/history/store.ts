import { MongoBulkWriteError, MongoServerError, type Collection, type Document, type Filter } from 'mongodb';
import type { Order, OrderStatus, Scope } from '@orders/contracts';
import { escapeRegex, type PageAfter } from '../orders/repository.js';
import type { HistoryDocument } from './entry.js';
import type { HistoryStore } from './writer.js';

/*
 * The order history's queries: an order's entries newest first, and the board as it stood at a moment.
 * See docs/ARCHITECTURE.md, "The change feed".
 */

const DUPLICATE_KEY = 11000;
const SECONDS_PER_DAY = 86_400;

export interface BoardAsOfOptions {
  asOf: Date;
  statuses?: readonly OrderStatus[];
  customer?: string;
  limit: number;
  after?: PageAfter;
  /** The reader's scope: orders whose state at `asOf` is outside it are left out. */
  scope?: Scope | null;
}

export interface HistoryRepository extends HistoryStore {
  /**
   * An order's entries, newest first, strictly before position `before` when given. With a scope, only the
   * entries whose order after the change is within it, and the deletes.
   */
  listForOrder(
    id: number,
    options: { limit: number; before?: string; scope?: Scope | null },
  ): Promise<{ documents: HistoryDocument[]; more: boolean }>;
  /** The order as its last recorded change left it before any delete (null: never recorded). */
  lastState(id: number): Promise<Order | null>;
  /** The orders as they stood at `asOf` (the last entry of each order committed by then, unless a delete), paged. */
  boardAsOf(options: BoardAsOfOptions): Promise<{ orders: Order[]; next: PageAfter | null }>;
  /** The lookup indexes and the retention TTL index; idempotent (a changed retention replaces the TTL index). */
  ensureIndexes(retentionDays: number): Promise<void>;
}

/**
 * A scope's clauses on an entry's order after the change: the same rule as the live list's (status in the list,
 * customer_name containing the text, case-insensitively). See docs/ARCHITECTURE.md, "Access control".
 */
function historyScopeClauses(scope: Scope | null | undefined): Document[] {
  if (scope === null || scope === undefined) return [];
  const clauses: Document[] = [];
  if (scope.status !== undefined) clauses.push({ 'order.status': { $in: [...scope.status] } });
  if (scope.customer !== undefined) {
    clauses.push({ 'order.customer_name': { $regex: escapeRegex(scope.customer), $options: 'i' } });
  }
  return clauses;
}

/** Builds the history queries over the `order_history` collection. */
export function createHistoryRepository(collection: Collection<HistoryDocument>): HistoryRepository {
  async function insertMissing(documents: readonly HistoryDocument[]): Promise<void> {
    if (documents.length === 0) return;
    try {
      // Unordered: every entry is tried even when others already exist.
      await collection.insertMany([...documents], { ordered: false });
    } catch (err) {
      // Another process (or this one, before a restart) stored some of them: each is stored once, as wanted.
      if (!onlyDuplicates(err)) throw err;
    }
  }

  async function orderBefore(id: number, position: string): Promise<Order | null> {
    const [last] = await collection
      .find({ order_id: id, _id: { $lt: position } })
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    return last?.order ?? null;
  }

  async function listForOrder(
    id: number,
    { limit, before, scope }: { limit: number; before?: string; scope?: Scope | null },
  ): Promise<{ documents: HistoryDocument[]; more: boolean }> {
    const clauses: Document[] = [{ order_id: id }];
    if (before !== undefined) clauses.push({ _id: { $lt: before } });
    const scoped = historyScopeClauses(scope);
    if (scoped.length > 0) clauses.push({ $or: [{ order: null }, { $and: scoped }] });
    const filter: Filter<HistoryDocument> = { $and: clauses };
    const documents = await collection
      .find(filter)
      .sort({ _id: -1 })
      .limit(limit + 1)
      .toArray();
    return { documents: documents.slice(0, limit), more: documents.length > limit };
  }

  async function lastState(id: number): Promise<Order | null> {
    const [last] = await collection
      .find({ order_id: id, order: { $ne: null } })
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    return last?.order ?? null;
  }

  async function boardAsOf({ asOf, statuses, customer, limit, after, scope }: BoardAsOfOptions) {
    const clauses: Document[] = [{ order: { $ne: null } }, ...historyScopeClauses(scope)];
    if (statuses !== undefined && statuses.length > 0) clauses.push({ 'order.status': { $in: [...statuses] } });
    if (customer !== undefined) {
      clauses.push({ 'order.customer_name': { $regex: escapeRegex(customer), $options: 'i' } });
    }
    if (after !== undefined) {
      // Stored orders carry ISO-8601 UTC stamps of one width, so string order is time order.
      const stamp = after.updatedAt.toISOString();
      clauses.push({
        $or: [{ 'order.updated_at': { $lt: stamp } }, { 'order.updated_at': stamp, _id: { $lt: after.id } }],
      });
    }
    const rows = await collection
      .aggregate<{ _id: number; order: Order }>(
        [
          { $match: { committed_at: { $lte: asOf } } },
          // Positions are in commit order: the first entry per order after this sort is its state at `asOf`.
          { $sort: { order_id: 1, _id: -1 } },
          { $group: { _id: '$order_id', order: { $first: '$order' } } },
          { $match: { $and: clauses } },
          { $sort: { 'order.updated_at': -1, _id: -1 } },
          { $limit: limit + 1 },
        ],
        { allowDiskUse: true },
      )
      .toArray();
    const orders = rows.slice(0, limit).map((row) => row.order);
    const last = orders.at(-1);
    const next =
      rows.length > limit && last !== undefined ? { updatedAt: new Date(last.updated_at), id: last.id } : null;
    return { orders, next };
  }

  async function ensureIndexes(retentionDays: number): Promise<void> {
    await collection.createIndex({ order_id: 1, _id: -1 }, { name: 'order_id_position_desc' }, undefined);
    const expireAfterSeconds = retentionDays * SECONDS_PER_DAY;
    const ttl = { name: 'committed_at_ttl', expireAfterSeconds };
    try {
      await collection.createIndex({ committed_at: 1 }, ttl, undefined);
    } catch (err) {
      // Same key, other options: the retention changed. collMod changes it in place, without a rebuild.
      if (!(err instanceof MongoServerError)) throw err;
      await collection.db.command({ collMod: collection.collectionName, index: ttl });
    }
  }

  return { insertMissing, orderBefore, listForOrder, lastState, boardAsOf, ensureIndexes };
}

function onlyDuplicates(err: unknown): boolean {
  if (err instanceof MongoBulkWriteError) {
    const errors: readonly { code?: unknown }[] = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    return errors.length > 0 && errors.every((error) => error.code === DUPLICATE_KEY);
  }
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}
