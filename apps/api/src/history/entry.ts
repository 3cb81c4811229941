import {
  EXTERNAL_ACTOR,
  type FieldChange,
  type HistoryEntry,
  type HistoryOperation,
  type Order,
} from '@orders/contracts';
import type { ChangeItem } from '../realtime/change-mapping.js';

/*
 * The order history's stored shape and how a change becomes one entry. See docs/ARCHITECTURE.md, "The change feed".
 */

/** The collection holding one document per recorded change, keyed by its feed position. */
export const HISTORY_COLLECTION = 'order_history';

/** One stored history entry. `_id` is the change's position, so recording a change twice stores it once. */
export interface HistoryDocument {
  _id: string;
  order_id: number;
  operation: HistoryOperation;
  /** The database's commit time; the TTL index expires entries on it. */
  committed_at: Date;
  actor: string;
  /**
   * The changed fields. Empty for a create: every field of `order` is one, so storing them would only double the
   * entry (and the database's work for the second write each `POST /orders` causes); `historyEntryOf` derives them.
   */
  changes: FieldChange[];
  order: Order | null;
}

/**
 * Fields that every write moves (the version, the stamp, the writer): the entry carries them in `order`, and
 * listing them as changes would hide what the write was about.
 */
const BOOKKEEPING_FIELDS: ReadonlySet<string> = new Set(['version', 'updated_at', 'updated_by']);

/** The fields that differ between two states of an order (null: the order did not exist), in a stable order. */
export function changedFields(before: Order | null, after: Order | null): FieldChange[] {
  const fields = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const changes: FieldChange[] = [];
  for (const field of [...fields].sort()) {
    if (BOOKKEEPING_FIELDS.has(field) || field === 'id') continue;
    const was = fieldValue(before, field);
    const now = fieldValue(after, field);
    if (was !== now) changes.push({ field, before: was, after: now });
  }
  return changes;
}

function fieldValue(order: Order | null, field: string): string | number | null {
  if (order === null) return null;
  const value: unknown = (order as Record<string, unknown>)[field];
  return typeof value === 'string' || typeof value === 'number' ? value : null;
}

/**
 * Builds the entry for a change. `previous` is the order before it: the pre-image when the server had one,
 * else what the history knew last. `recordedAt` stands in for the commit time when the event carries none.
 */
export function historyDocument(item: ChangeItem, previous: Order | null, recordedAt: Date): HistoryDocument {
  return {
    _id: item.position,
    order_id: item.id,
    operation: item.kind,
    committed_at: item.facts?.committedAt ?? recordedAt,
    actor: item.facts?.actor ?? EXTERNAL_ACTOR,
    changes: item.kind === 'created' ? [] : changedFields(previous, item.order),
    order: item.order,
  };
}

/** The wire shape of a stored entry. */
export function historyEntryOf(document: HistoryDocument): HistoryEntry {
  return {
    position: document._id,
    order_id: document.order_id,
    operation: document.operation,
    committed_at: document.committed_at.toISOString(),
    actor: document.actor,
    // Derived for every create, so entries stored with the list (earlier versions did) answer the same.
    changes: document.operation === 'created' ? changedFields(null, document.order) : document.changes,
    order: document.order,
  };
}
