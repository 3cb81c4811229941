import { MongoServerError, type ClientSession, type Collection, type Document, type Filter } from 'mongodb';
import {
  ORDER_STATUSES,
  prepareSearch,
  searchTermsOf,
  searchWords,
  type CreateOrderBody,
  type OrderSort,
  type OrderStatus,
  type PreparedSearch,
  type Scope,
  type StatusCounts,
  type UpdateOrderBody,
} from '@orders/contracts';
import { sortKeyOfDocument, storedVersion, type OrderDocument } from './order-document.js';

/** Where a page starts: strictly after this (updated_at, id) in the list order. */
export interface PageAfter {
  updatedAt: Date;
  id: number;
}

/** Where a page of a sorted list starts: strictly after this sort key (`at` is unused by the id sort). */
export interface SortKey {
  at: Date;
  id: number;
}

/** What narrows a list or a count: statuses, a customer substring, a search text, and the reader's scope. */
export interface OrderQuery {
  statuses?: readonly OrderStatus[];
  /** Case-insensitive substring of customer_name, matched literally (never as a pattern). */
  customer?: string;
  /** A search text the contracts' rule accepts (the route refuses any other). */
  q?: string;
  /** The reader's scope: orders outside it are never returned. */
  scope?: Scope | null;
}

export interface ListOrdersOptions extends OrderQuery {
  /** Newest first by this key; `updated` when absent. */
  sort?: OrderSort;
  limit: number;
  after?: SortKey;
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
  next: SortKey | null;
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
  countByStatus(options: OrderQuery & { session?: ClientSession }): Promise<StatusCounts>;
  /** Every order matching the query, newest first by `sort`, read in batches (an export's rows). */
  stream(options: OrderQuery & { sort?: OrderSort; limit: number }): AsyncIterable<StoredDocument>;
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

/**
 * The clause of a search (see docs/ARCHITECTURE.md, "Search and sort"): every word starts one of the stored
 * `search` terms (an anchored, case-sensitive prefix an index on `search` serves), or the text is the order's id.
 * Documents written by other clients carry no terms: for them the same rule runs on the names themselves (each word
 * at the start of a name or after a character that is not a letter or digit), which no index serves.
 */
export function searchClause(search: PreparedSearch): Filter<OrderDocument> {
  const byTerms = allOf(search.words.map((word) => ({ search: { $regex: `^${escapeRegex(word)}` } })));
  const wordStart = (word: string) => ({ $regex: `(?:^|[^\\p{L}\\p{N}])${escapeRegex(word)}`, $options: 'iu' });
  const byNames: Filter<OrderDocument> = {
    $and: [
      { search: { $exists: false } },
      ...search.words.map((word) => ({ $or: [{ customer_name: wordStart(word) }, { product_name: wordStart(word) }] })),
    ],
  };
  const alternatives: Filter<OrderDocument>[] = [byTerms, byNames];
  if (search.id !== null) alternatives.unshift({ _id: search.id });
  return { $or: alternatives };
}

/** The clauses of a query: the scope, the statuses, the customer substring and the search. */
function queryClauses({ statuses, customer, q, scope }: OrderQuery): Filter<OrderDocument>[] {
  const clauses: Filter<OrderDocument>[] = scopeClauses(scope);
  if (statuses !== undefined && statuses.length > 0) clauses.push({ status: { $in: [...statuses] } });
  if (customer !== undefined) clauses.push({ customer_name: { $regex: escapeRegex(customer), $options: 'i' } });
  if (q !== undefined) {
    const search = prepareSearch(q);
    // The route refuses a search without words; a caller that passes one anyway finds nothing, never everything.
    clauses.push(search === null ? { _id: { $in: [] } } : searchClause(search));
  }
  return clauses;
}

/** The stored field each sort orders by (with `_id` breaking ties), newest first. */
const SORT_FIELDS: Record<OrderSort, 'updated_at' | 'created_at' | null> = {
  updated: 'updated_at',
  created: 'created_at',
  id: null,
};

/** The keyset clauses that start a page strictly after `after` in the order of `sort`. */
function afterClauses(sort: OrderSort, after: SortKey): Filter<OrderDocument>[] {
  const field = SORT_FIELDS[sort];
  if (field === null) return [{ _id: { $lt: after.id } }];
  return [
    { $or: [{ [field]: { $lt: after.at } }, { [field]: after.at, _id: { $lt: after.id } }] },
    // Implied by the $or, but a bound the database can seek to: the page starts at the cursor in the index instead
    // of reading every newer order before it.
    { [field]: { $lte: after.at } },
  ];
}

function sortOf(sort: OrderSort): Record<string, -1> {
  const field = SORT_FIELDS[sort];
  return field === null ? { _id: -1 } : { [field]: -1, _id: -1 };
}

/** The `search` terms of the names a write leaves on an order (see docs/ARCHITECTURE.md, "Search and sort"). */
function termsOfNames(customer: unknown, product: unknown): string[] {
  return searchWords([customer, product].filter((name) => typeof name === 'string').join(' '));
}

function allOf(clauses: Filter<OrderDocument>[]): Filter<OrderDocument> {
  return clauses.length === 0 ? {} : clauses.length === 1 ? clauses[0]! : { $and: clauses };
}

/** Builds the repository over a collection whose `_id` is the order id. */
export function createOrdersRepository(collection: Collection<OrderDocument>): OrdersRepository {
  async function list({ sort = 'updated', limit, after, ...query }: ListOrdersOptions): Promise<OrdersPage> {
    const clauses = queryClauses(query);
    if (after !== undefined) clauses.push(...afterClauses(sort, after));
    // One extra document tells whether another page follows, without a count.
    const docs = await collection
      .find(allOf(clauses))
      .sort(sortOf(sort))
      .limit(limit + 1)
      // The whole page in the first reply: the default first batch (101) would cost four more round trips.
      .batchSize(limit + 1)
      .toArray();
    const documents: StoredDocument[] = docs.slice(0, limit);
    const last = documents.at(-1);
    const next = docs.length > limit && last !== undefined ? sortKeyOfDocument(last, sort) : null;
    return { documents, next };
  }

  function stream({ sort = 'updated', limit, ...query }: OrderQuery & { sort?: OrderSort; limit: number }) {
    // The driver reads in batches as the caller asks for documents: a slow reader holds one batch, not the list.
    return collection
      .find(allOf(queryClauses(query)))
      .sort(sortOf(sort))
      .limit(limit)
      .batchSize(500);
  }

  async function countByStatus({
    statuses,
    customer,
    q,
    scope,
    session,
  }: OrderQuery & { session?: ClientSession }): Promise<StatusCounts> {
    const counts: StatusCounts = { pending: 0, shipped: 0, delivered: 0 };
    const requested = statuses === undefined || statuses.length === 0 ? ORDER_STATUSES : statuses;
    // A status outside the scope counts nothing, so it is not asked at all (it stays 0).
    const wanted = requested.filter((status) => scope?.status === undefined || scope.status.includes(status));
    const narrowing: Filter<OrderDocument>[] = [];
    if (customer !== undefined) narrowing.push({ customer_name: { $regex: escapeRegex(customer), $options: 'i' } });
    if (scope?.customer !== undefined) {
      narrowing.push({ customer_name: { $regex: escapeRegex(scope.customer), $options: 'i' } });
    }
    if (q !== undefined) narrowing.push(...queryClauses({ q }));
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
      search: searchTermsOf(body),
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
    const renames = changes.customer_name !== undefined || changes.product_name !== undefined;
    // A write without an actor must not leave an earlier writer's name on the new version.
    const unsetActor = actor === undefined ? ACTOR_FIELDS : [];
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      // A name that changes changes the search terms, which are made of both names: the one not written is read
      // first, and the write applies only while it is still that name (else the attempt is retried).
      let unchangedName: Filter<OrderDocument> = {};
      if (renames) {
        const names = await collection.findOne(allOf([{ _id: id }, ...scopeClauses(scope)]), {
          projection: { customer_name: 1, product_name: 1 },
        });
        if (names === null) return { status: 'not_found' };
        const customer: unknown = changes.customer_name ?? names.customer_name;
        const product: unknown = changes.product_name ?? names.product_name;
        set.search = termsOfNames(customer, product);
        if (changes.customer_name === undefined) unchangedName = { customer_name: { $eq: names.customer_name } };
        else if (changes.product_name === undefined) unchangedName = { product_name: { $eq: names.product_name } };
      }
      const inScope = (clause: Filter<OrderDocument>) =>
        allOf([{ _id: id, ...clause }, unchangedName, ...scopeClauses(scope)]);
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
      // Gone, or the other name changed meanwhile: the next attempt reads it again.
      if (current === null) {
        if (renames) continue;
        return { status: 'not_found' };
      }
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
    await collection.createIndex({ created_at: -1, _id: -1 }, { name: 'created_at_desc_id_desc' }, undefined);
    // Multikey: one entry per term, so a word's prefix is a range of this index.
    await collection.createIndex({ search: 1 }, { name: 'search' }, undefined);
  }

  return { list, countByStatus, stream, get, create, update, remove, ensureIndexes };
}
