import type { FilterFields, Order } from '@orders/contracts';
import { filterFieldsOfDocument, orderFromDocument, orderIdOf } from '../orders/order-document.js';

/*
 * Change mapping, the first step of the event path: a database change event becomes a `ChangeItem` (what
 * clients see), a skip, or an invalidate. Stored documents go through the same mapping as REST answers.
 * See docs/ARCHITECTURE.md, "The event path" and "Stored documents from other clients".
 */

/** The subset of a driver change event the feed reads. Every field is checked at runtime. */
export interface RawChange {
  _id?: unknown;
  operationType?: unknown;
  fullDocument?: unknown;
  fullDocumentBeforeChange?: unknown;
  documentKey?: unknown;
  updateDescription?: unknown;
  wallTime?: unknown;
  clusterTime?: unknown;
}

/** The subset of the driver's `ChangeStream` the feed and replays use. */
export interface ChangeCursor {
  /** Next change, or null when a batch came back empty (then `resumeToken` is the post-batch token). */
  tryNext(): Promise<RawChange | null>;
  readonly resumeToken: unknown;
  close(): Promise<void>;
}

/** Where a stream starts: after a position (`startAfter`/`resumeAfter`), or at the present. */
export interface StreamStart {
  startAfter?: string;
  resumeAfter?: string;
}

/** Opens a change stream on the orders collection. Errors may surface on the first `tryNext`. */
export type OpenChangeStream = (start: StreamStart) => ChangeCursor;

/** Fetches the current stored document of an order (used when an update event carries no document). */
export type LookupOrder = (id: number) => Promise<unknown>;

/**
 * What the order history records beyond what clients see: when the database committed the change, who made it
 * (`updated_by` when this very write stamped it; null when the write carries none) and the order before it (the
 * pre-image, when the server had one and it is an order).
 */
export interface ChangeFacts {
  committedAt: Date | null;
  actor: string | null;
  previous: Order | null;
}

/**
 * A change, mapped to what clients see: the full order for a creation or an update, the id for a deletion.
 * `before` is the pre-image's filterable fields when the server had one (subscription filters use it).
 * `facts` is set by the mapping; events built elsewhere (tests, benchmarks) may leave it out.
 */
export type ChangeItem =
  | {
      kind: 'created' | 'updated';
      position: string;
      id: number;
      order: Order;
      before: FilterFields | null;
      facts?: ChangeFacts;
    }
  | { kind: 'deleted'; position: string; id: number; order: null; before: FilterFields | null; facts?: ChangeFacts };

/** The result of mapping one raw change. */
export type MappedChange =
  | { type: 'event'; item: ChangeItem }
  /** `expected` skips (deleted since, non-order operations) are normal; the others are worth a warning. */
  | { type: 'skip'; position: string; reason: string; expected: boolean }
  | { type: 'invalidate'; position: string | null };

/** Reads the `_data` string of a resume token, or null when it is not one. */
export function tokenData(token: unknown): string | null {
  if (typeof token === 'object' && token !== null && '_data' in token) {
    const data = token._data;
    if (typeof data === 'string' && data.length > 0) return data;
  }
  return null;
}

/**
 * Maps one raw change event. `document` overrides `fullDocument` (the feed passes the looked-up document when
 * the event had none). Never throws: anything that cannot be an order event is a `skip` with a reason.
 */
export function mapChange(change: RawChange, document?: unknown): MappedChange {
  const position = tokenData(change._id);
  if (change.operationType === 'invalidate') return { type: 'invalidate', position };
  if (position === null) return { type: 'skip', position: '', reason: 'change has no resume token', expected: false };
  const before = filterFieldsOfDocument(change.fullDocumentBeforeChange);
  switch (change.operationType) {
    case 'insert':
    case 'update':
    case 'replace': {
      const raw = document !== undefined ? document : change.fullDocument;
      if (raw === null || raw === undefined) {
        // The order was deleted before the lookup: its delete event follows, so nothing is lost by skipping.
        return { type: 'skip', position, reason: 'no document (deleted since)', expected: true };
      }
      const mapped = orderFromDocument(raw);
      if (!mapped.ok) return { type: 'skip', position, reason: mapped.reason, expected: false };
      const order = mapped.order;
      const kind = change.operationType === 'insert' ? 'created' : 'updated';
      return {
        type: 'event',
        item: { kind, position, id: order.id, order, before, facts: factsOf(change, actorOf(change, order)) },
      };
    }
    case 'delete': {
      const id = documentIdOf(change);
      if (id === null)
        return { type: 'skip', position, reason: 'deleted document id is not an order id', expected: false };
      return {
        type: 'event',
        item: { kind: 'deleted', position, id, order: null, before, facts: factsOf(change, null) },
      };
    }
    default:
      // drop/rename come before an invalidate; other operation types do not change orders.
      return { type: 'skip', position, reason: `operation ${String(change.operationType)}`, expected: true };
  }
}

/** Commit time, actor and pre-image of a change. */
function factsOf(change: RawChange, actor: string | null): ChangeFacts {
  const pre = change.fullDocumentBeforeChange;
  const mappedPre = pre === null || pre === undefined ? null : orderFromDocument(pre);
  return { committedAt: commitTimeOf(change), actor, previous: mappedPre?.ok === true ? mappedPre.order : null };
}

/**
 * Who made this change: the order's `updated_by` (shown only for the version it wrote), unless the change is an
 * update that did not stamp it. An update by another client that leaves `version` alone also leaves the earlier
 * actor's stamp in place, and its `updateDescription` is what tells the two apart.
 */
function actorOf(change: RawChange, order: Order): string | null {
  const actor = order.updated_by ?? null;
  if (actor === null || change.operationType !== 'update') return actor;
  const description = change.updateDescription;
  if (typeof description !== 'object' || description === null || !('updatedFields' in description)) return actor;
  const updated = description.updatedFields;
  return typeof updated === 'object' && updated !== null && 'updated_by_version' in updated ? actor : null;
}

/**
 * The database's commit time: `wallTime` (milliseconds, MongoDB 6.0+ and the embedded engine), else the seconds
 * of `clusterTime` (a BSON Timestamp, whose `t` is seconds since the epoch).
 */
function commitTimeOf(change: RawChange): Date | null {
  const wall = change.wallTime;
  if (wall instanceof Date && !Number.isNaN(wall.getTime())) return wall;
  const cluster = change.clusterTime;
  if (typeof cluster === 'object' && cluster !== null && 't' in cluster && typeof cluster.t === 'number') {
    return new Date(cluster.t * 1000);
  }
  return null;
}

/** The order id of the document a change is about, when it has one. */
function documentIdOf(change: RawChange): number | null {
  const key = change.documentKey;
  if (typeof key !== 'object' || key === null) return null;
  return orderIdOf((key as { _id?: unknown })._id);
}

/**
 * Maps a change, looking the document up when an update/replace event carries none
 * (e.g. `fullDocument: 'whenAvailable'` without a stored post-image).
 */
export async function mapChangeWithLookup(change: RawChange, lookup: LookupOrder | undefined): Promise<MappedChange> {
  const needsLookup =
    lookup !== undefined &&
    (change.operationType === 'update' || change.operationType === 'replace') &&
    (change.fullDocument === null || change.fullDocument === undefined);
  if (!needsLookup) return mapChange(change);
  const id = documentIdOf(change);
  if (id === null) return mapChange(change);
  return mapChange(change, (await lookup(id)) ?? null);
}
