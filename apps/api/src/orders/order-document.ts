import { ORDER_STATUSES, orderValidator, type FilterFields, type Order, type OrderStatus } from '@orders/contracts';
import type { PageAfter } from './repository.js';

/**
 * How the API stores an order. The order id is `_id`, so a delete event's `documentKey` names the order; dates
 * are BSON dates, the wire shape uses ISO strings. See docs/ARCHITECTURE.md, "Order identity".
 *
 * Other clients (mongosh, scripts, another service) can write anything into the collection, so everything read
 * back goes through `orderFromDocument`, never a cast to this type.
 */
export interface OrderDocument {
  _id: number;
  customer_name: string;
  product_name: string;
  status: OrderStatus;
  created_at: Date;
  updated_at: Date;
  version: number;
  /** Who made the last write through the API (username or token name); absent for writes by other clients. */
  updated_by?: string;
  /**
   * The version `updated_by` wrote. The actor is shown only while it equals `version`: a later write by another
   * client that moves the version on (as it must for the dashboard to take it) leaves `updated_by` behind, and
   * that stale name must not be shown as the author of the new state.
   */
  updated_by_version?: number;
}

/** Shown for a date a stored document lacks or holds in a form that is not a date. */
export const UNKNOWN_DATE = new Date(0);

/** A stored document as an order, or why it cannot be shown as one. */
export type DocumentMapping = { ok: true; order: Order } | { ok: false; reason: string };

const KNOWN_STATUSES: ReadonlySet<unknown> = new Set(ORDER_STATUSES);

/**
 * THE mapping from a stored document to the order clients see, used by REST (`GET /orders`, `GET /orders/:id`,
 * write answers) and by the change feed alike, so an order reads the same over both. It never throws.
 * See docs/ARCHITECTURE.md, "Stored documents from other clients".
 *
 * Shown, with defaults for what only the API would have stamped:
 * - `version` missing, not an integer or below 1 → 1;
 * - `updated_at` missing or not a date (a BSON date or a string `Date` can parse) → 1970-01-01T00:00:00.000Z
 *   (the database sorts such documents after every dated one, and so does the board);
 * - `created_at` missing or not a date → the shown `updated_at`.
 *
 * Skipped (`ok: false`, the caller logs a warning), because no default would be honest and a guess would make
 * the REST list and the socket disagree about which filters the order matches:
 * - `_id` that is not a positive safe integer (a string, an ObjectId, 0, a fraction): no order id addresses it;
 * - `status` that is not one of pending | shipped | delivered;
 * - `customer_name` or `product_name` that is not a string the API would accept (1–200 characters, not blank).
 */
export function orderFromDocument(raw: unknown): DocumentMapping {
  if (typeof raw !== 'object' || raw === null) return { ok: false, reason: 'not a document' };
  const doc = raw as Record<string, unknown>;
  const id = orderIdOf(doc._id);
  if (id === null) return { ok: false, reason: '_id is not an order id (a positive integer)' };
  if (!KNOWN_STATUSES.has(doc.status)) return { ok: false, reason: 'status is not pending, shipped or delivered' };
  const updated = dateOf(doc.updated_at) ?? UNKNOWN_DATE;
  const created = dateOf(doc.created_at) ?? updated;
  const order = {
    id,
    customer_name: doc.customer_name,
    product_name: doc.product_name,
    status: doc.status,
    created_at: created.toISOString(),
    updated_at: updated.toISOString(),
    version: storedVersion(raw),
    // Who wrote this version through the API; another writer's odd actor field is dropped, not a reason to skip
    // the order.
    ...actorOfDocument(doc),
  };
  // What is left to check is the names; the validator is the contract's own definition of a valid name.
  if (!orderValidator.check(order)) return { ok: false, reason: 'customer_name or product_name is not a valid name' };
  return { ok: true, order };
}

/** The longest actor name shown; anything longer (or not a string) is not an actor the API stamped. */
const MAX_ACTOR_LENGTH = 200;

/**
 * `{ updated_by }` when the stored document names who wrote its current version, else `{}`: the name must be one
 * the API would stamp, and `updated_by_version` must equal the stored version (see `OrderDocument`).
 */
function actorOfDocument(doc: Record<string, unknown>): { updated_by?: string } {
  const actor = doc.updated_by;
  if (typeof actor !== 'string' || actor.length < 1 || actor.length > MAX_ACTOR_LENGTH) return {};
  const wrote = toSafeInteger(doc.updated_by_version);
  return wrote !== null && wrote === toSafeInteger(doc.version) ? { updated_by: actor } : {};
}

/** The fields a subscription filter reads, from a pre-image; null when the pre-image would not be shown. */
export function filterFieldsOfDocument(raw: unknown): FilterFields | null {
  const mapped = orderFromDocument(raw);
  return mapped.ok ? { status: mapped.order.status, customer_name: mapped.order.customer_name } : null;
}

/** The version a stored document is shown with (its `version`, or 1 when that is not a positive integer). */
export function storedVersion(raw: unknown): number {
  const version = toSafeInteger(fieldOf(raw, 'version'));
  return version !== null && version >= 1 ? version : 1;
}

/** Where the page after this stored document starts (its sort key, with the defaults the list shows). */
export function pageAfterDocument(raw: unknown): PageAfter {
  // The database sorts by the stored value: only a BSON date continues the page where a date left off.
  const stored = fieldOf(raw, 'updated_at');
  const updatedAt = stored instanceof Date && !Number.isNaN(stored.getTime()) ? stored : UNKNOWN_DATE;
  return { updatedAt, id: pageAfterId(fieldOf(raw, '_id')) };
}

/**
 * The cursor's id for a stored `_id`: the page continues with `_id` below it. Only order ids are shown, so it has
 * to be right for them: after a fraction, the fraction itself; after 0 or a negative id (sorted after every order
 * id of the same `updated_at`), 1; after an `_id` of another type (sorted before every number), the largest id.
 */
function pageAfterId(id: unknown): number {
  const n = typeof id === 'number' ? id : toSafeInteger(id);
  if (n === null || Number.isNaN(n)) return Number.MAX_SAFE_INTEGER;
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(1, n));
}

function fieldOf(raw: unknown, field: string): unknown {
  return typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[field] : undefined;
}

/** The order id a document's `_id` (or a delete event's `documentKey._id`) holds, or null. */
export function orderIdOf(value: unknown): number | null {
  const id = toSafeInteger(value);
  return id !== null && id >= 1 ? id : null;
}

const BSON_NUMBERS: ReadonlySet<unknown> = new Set(['Int32', 'Long', 'Double']);

function toSafeInteger(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : null;
  }
  // BSON Int32/Long/Double objects (when the driver does not promote them) convert through valueOf.
  if (typeof value === 'object' && value !== null && '_bsontype' in value && BSON_NUMBERS.has(value._bsontype)) {
    const n = Number(value.valueOf());
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

function dateOf(value: unknown): Date | null {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
  if (date === null || Number.isNaN(date.getTime())) return null;
  // Years outside 0000-9999 have no plain ISO 8601 form (toISOString writes "+010000-…").
  const year = date.getUTCFullYear();
  return year >= 0 && year <= 9999 ? date : null;
}
