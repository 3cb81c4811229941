import { MongoServerError, type ClientSession, type Collection, type Document, type Filter } from 'mongodb';
import {
  ORDER_STATUSES,
  type CreateOrderBody,
  type OrderStatus,
  type Scope,
  type StatusCounts,
  type UpdateOrderBody,
} from '@orders/contracts';
import { pageAfterDocument, storedVersion, type OrderDocument } from './order-document.js';

/** Where a page starts: strictly after this (updated_at, id) in the list order. */
export interface PageAfter {
  updatedAt: Date;
  id: number;
}

export interface ListOrdersOptions {
  statuses?: readonly OrderStatus[];
  /** Case-insensitive substring of customer_name, matched literally (never as a pattern). */
  customer?: string;
  limit: number;
  after?: PageAfter;
  /** The reader's scope: orders outside it are never returned. */
  scope?: Scope | null;
}

/** Who writes, and within what: orders outside `scope` are neither read nor written (they look absent). */
export interface WriteContext {
  /** Recorded as `updated_by`: the username or token name. */
  actor?: string;
  scope?: Scope | null;
}

/**
 * A document as read back from the collection: other clients may have written anything, so it is only an
 * object until `orderFromDocument` has looked at it.
 */
export type StoredDocument = object;

export interface OrdersPage {
  documents: StoredDocument[];
  /** Set when more orders follow the last one returned. */
  next: PageAfter | null;
}

export type CreateResult = { status: 'created'; order: OrderDocument } | { status: 'exists' };
export type UpdateResult =
  | { status: 'updated'; document: StoredDocument }
  | { status: 'not_found' }
  | { status: 'version_mismatch'; currentVersion: number };
export type DeleteResult =
  { status: 'deleted' } | { status: 'not_found' } | { status: 'version_mismatch'; currentVersion: number };

/** The orders collection as plain functions. "Not found" is `null` or a `not_found` status, never an exception. */
export interface OrdersRepository {
  list(options: ListOrdersOptions): Promise<OrdersPage>;
  /** Orders per status matching the filter: one indexed count per status the filter keeps. */
  countByStatus(options: {
    statuses?: readonly OrderStatus[];
    customer?: string;
    /** The reader's scope: orders outside it are not counted. */
    scope?: Scope | null;
    session?: ClientSession;
  }): Promise<StatusCounts>;
  get(id: number, scope?: Scope | null): Promise<StoredDocument | null>;
  create(body: CreateOrderBody, now?: Date, context?: WriteContext): Promise<CreateResult>;
  update(
    id: number,
    changes: UpdateOrderBody,
    options?: { expectedVersion?: number; now?: Date } & WriteContext,
  ): Promise<UpdateResult>;
  remove(id: number, options?: { expectedVersion?: number; scope?: Scope | null }): Promise<DeleteResult>;
  /** Creates the indexes the list order needs; idempotent. */
  ensureIndexes(): Promise<void>;
}

const DUPLICATE_KEY = 11000;

/** Escapes every regular-expression metacharacter so user text is matched literally. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The clauses confining a query to a scope, the same rule as a subscription filter (status in the list,
 * customer_name containing the text, case-insensitively). See docs/ARCHITECTURE.md, "Access control".
 */
export function scopeClauses(scope: Scope | null | undefined): Filter<OrderDocument>[] {
  if (scope === null || scope === undefined) return [];
  const clauses: Filter<OrderDocument>[] = [];
  if (scope.status !== undefined) clauses.push({ status: { $in: [...scope.status] } });
  if (scope.customer !== undefined) {
    clauses.push({ customer_name: { $regex: escapeRegex(scope.customer), $options: 'i' } });
  }
  return clauses;
}

/** A stored version `$inc` may move on: an integer type, at least 1, below the largest safe integer. */
const CLEAN_VERSION: Document = {
  version: { $type: ['int', 'long'], $gte: 1, $lt: Number.MAX_SAFE_INTEGER },
};

/** Who wrote the stored version; see `OrderDocument`. */
const ACTOR_FIELDS = ['updated_by', 'updated_by_version'];

/**
 * An update pipeline that sets `set`, moves `version` to the next integer and, with `stampActor`, records that
 * version as the one `updated_by` wrote. Every value is a `$literal`: a name such as "$status" is text, never a
 * field path or an operator.
 */
function nextVersionPipeline(set: Partial<OrderDocument>, stampActor: boolean, unset: string[]): Document[] {
  const next = { $add: ['$version', 1] };
  const literals: Document = {};
  for (const [field, value] of Object.entries(set)) literals[field] = { $literal: value };
  const stages: Document[] = [
    { $set: { ...literals, version: next, ...(stampActor && { updated_by_version: next }) } },
  ];
  if (unset.length > 0) stages.push({ $unset: unset });
  return stages;
}

/** Conditional writes retry this often when another writer changes the version between the read and the write. */
const CAS_ATTEMPTS = 10;

/**
 * Matches a document whose `version` is still exactly what `current` held (missing included), so a write based on
 * the version shown from it cannot overwrite a newer one. See docs/ARCHITECTURE.md, "Stored documents from other
 * clients".
 */
function storedVersionClause(current: { version?: unknown }): Filter<OrderDocument> {
  // Typed as the raw value it is: another client may have stored anything there, not the number OrderDocument says.
  const clause: Document =
    current.version === undefined ? { version: { $exists: false } } : { version: { $eq: current.version } };
  return clause;
}

function allOf(clauses: Filter<OrderDocument>[]): Filter<OrderDocument> {
  return clauses.length === 0 ? {} : clauses.length === 1 ? clauses[0]! : { $and: clauses };
}

/** Builds the repository over a collection whose `_id` is the order id. */
export function createOrdersRepository(collection: Collection<OrderDocument>): OrdersRepository {
  async function list({ statuses, customer, limit, after, scope }: ListOrdersOptions): Promise<OrdersPage> {
    const clauses: Filter<OrderDocument>[] = scopeClauses(scope);
    if (statuses !== undefined && statuses.length > 0) clauses.push({ status: { $in: [...statuses] } });
    if (customer !== undefined) clauses.push({ customer_name: { $regex: escapeRegex(customer), $options: 'i' } });
    if (after !== undefined) {
      clauses.push({
        $or: [{ updated_at: { $lt: after.updatedAt } }, { updated_at: after.updatedAt, _id: { $lt: after.id } }],
      });
      // Implied by the $or, but a bound the database can seek to: the page starts at the cursor in the index instead
      // of reading every newer order before it.
      clauses.push({ updated_at: { $lte: after.updatedAt } });
    }
    const filter = allOf(clauses);
    // One extra document tells whether another page follows, without a count.
    const docs = await collection
      .find(filter)
      .sort({ updated_at: -1, _id: -1 })
      .limit(limit + 1)
      // The whole page in the first reply: the default first batch (101) would cost four more round trips.
      .batchSize(limit + 1)
      .toArray();
    const documents: StoredDocument[] = docs.slice(0, limit);
    const last = documents.at(-1);
    const next = docs.length > limit && last !== undefined ? pageAfterDocument(last) : null;
    return { documents, next };
  }

  async function countByStatus({
    statuses,
    customer,
    scope,
    session,
  }: {
    statuses?: readonly OrderStatus[];
    customer?: string;
    scope?: Scope | null;
    session?: ClientSession;
  }): Promise<StatusCounts> {
    const counts: StatusCounts = { pending: 0, shipped: 0, delivered: 0 };
    const requested = statuses === undefined || statuses.length === 0 ? ORDER_STATUSES : statuses;
    // A status outside the scope counts nothing, so it is not asked at all (it stays 0).
    const wanted = requested.filter((status) => scope?.status === undefined || scope.status.includes(status));
    const narrowing: Filter<OrderDocument>[] = [];
    if (customer !== undefined) narrowing.push({ customer_name: { $regex: escapeRegex(customer), $options: 'i' } });
    if (scope?.customer !== undefined) {
      narrowing.push({ customer_name: { $regex: escapeRegex(scope.customer), $options: 'i' } });
    }
    // One equality count per status: an index answers each alone (no document is read) unless a customer filter
    // narrows inside the status's range. In turn, not in parallel: one session runs one operation at a time.
    for (const status of wanted) {
      const filter = allOf([{ status }, ...narrowing]);
      counts[status] = await collection.countDocuments(filter, session ? { session } : {});
    }
    return counts;
  }

  async function get(id: number, scope?: Scope | null): Promise<StoredDocument | null> {
    return collection.findOne(allOf([{ _id: id }, ...scopeClauses(scope)]));
  }

  async function create(body: CreateOrderBody, now = new Date(), context: WriteContext = {}): Promise<CreateResult> {
    const order: OrderDocument = {
      _id: body.id,
      customer_name: body.customer_name,
      product_name: body.product_name,
      status: body.status ?? 'pending',
      created_at: now,
      updated_at: now,
      version: 1,
      ...(context.actor !== undefined && { updated_by: context.actor, updated_by_version: 1 }),
    };
    try {
      await collection.insertOne(order);
      return { status: 'created', order };
    } catch (error) {
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return { status: 'exists' };
      throw error;
    }
  }

  async function update(
    id: number,
    changes: UpdateOrderBody,
    { expectedVersion, now = new Date(), actor, scope }: { expectedVersion?: number; now?: Date } & WriteContext = {},
  ): Promise<UpdateResult> {
    const set: Partial<OrderDocument> = { updated_at: now };
    if (actor !== undefined) set.updated_by = actor;
    // Copy only the known fields: the body is validated, but the update document must never carry anything else.
    if (changes.customer_name !== undefined) set.customer_name = changes.customer_name;
    if (changes.product_name !== undefined) set.product_name = changes.product_name;
    if (changes.status !== undefined) set.status = changes.status;
    // A write without an actor must not leave an earlier writer's name on the new version.
    const unsetActor = actor === undefined ? ACTOR_FIELDS : [];
    const inScope = (clause: Filter<OrderDocument>) => allOf([{ _id: id, ...clause }, ...scopeClauses(scope)]);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      // The common case in one atomic round trip: the stored version is a positive integer already (equal to
      // If-Match, or an integer type ≥ 1), so the next one is computed in place; concurrent writers never collide
      // here. A pipeline, so the actor is stamped with the version it wrote without knowing that version first.
      const document = await collection.findOneAndUpdate(
        inScope(expectedVersion === undefined ? CLEAN_VERSION : { version: expectedVersion }),
        nextVersionPipeline(set, actor !== undefined, unsetActor),
        { returnDocument: 'after' },
      );
      if (document !== null) return { status: 'updated', document };
      const current = await collection.findOne(inScope({}), { projection: { version: 1 } });
      if (current === null) return { status: 'not_found' };
      const shown = storedVersion(current);
      if (expectedVersion !== undefined && shown !== expectedVersion) {
        return { status: 'version_mismatch', currentVersion: shown };
      }
      // Compare-and-set on the raw stored value: the next version follows the shown one, whatever was stored.
      const next = { ...set, version: shown + 1, ...(actor !== undefined && { updated_by_version: shown + 1 }) };
      const replaced = await collection.findOneAndUpdate(
        inScope(storedVersionClause(current)),
        unsetActor.length > 0 ? { $set: next, $unset: { updated_by: '', updated_by_version: '' } } : { $set: next },
        { returnDocument: 'after' },
      );
      if (replaced !== null) return { status: 'updated', document: replaced };
    }
    throw new Error(
      `order ${String(id)}: its version kept changing under ${String(CAS_ATTEMPTS)} attempts to update it`,
    );
  }

  async function remove(
    id: number,
    { expectedVersion, scope }: { expectedVersion?: number; scope?: Scope | null } = {},
  ): Promise<DeleteResult> {
    const inScope = (clause: Filter<OrderDocument>) => allOf([{ _id: id, ...clause }, ...scopeClauses(scope)]);
    if (expectedVersion === undefined) {
      const result = await collection.deleteOne(inScope({}));
      return result.deletedCount === 1 ? { status: 'deleted' } : { status: 'not_found' };
    }
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      if ((await collection.deleteOne(inScope({ version: expectedVersion }))).deletedCount === 1) {
        return { status: 'deleted' };
      }
      const current = await collection.findOne(inScope({}), { projection: { version: 1 } });
      if (current === null) return { status: 'not_found' };
      const shown = storedVersion(current);
      if (shown !== expectedVersion) return { status: 'version_mismatch', currentVersion: shown };
      if ((await collection.deleteOne(inScope(storedVersionClause(current)))).deletedCount === 1) {
        return { status: 'deleted' };
      }
    }
    throw new Error(
      `order ${String(id)}: its version kept changing under ${String(CAS_ATTEMPTS)} attempts to delete it`,
    );
  }

  async function ensureIndexes(): Promise<void> {
    await collection.createIndex({ updated_at: -1, _id: -1 }, { name: 'updated_at_desc_id_desc' }, undefined);
    await collection.createIndex({ status: 1 }, { name: 'status' }, undefined);
  }

  return { list, countByStatus, get, create, update, remove, ensureIndexes };
}
