import type { Doc } from '../query/index.js';
import type { ChangeRecord, UpdateDescription } from '../storage/changelog.js';
import { encodeResumeToken } from './token.js';

/**
 * What a stream watches: one collection, every collection of a database (`coll === null`), or every database but
 * the internal ones (`db === null`, `allChangesForCluster`). `expanded` (showExpandedEvents) adds the DDL events.
 */
export interface StreamScope {
  db: string | null;
  coll: string | null;
  expanded: boolean;
}

/** Databases a cluster-wide stream does not report, as mongod's does not. */
const INTERNAL_DATABASES = new Set(['admin', 'config', 'local']);

function inScope(scope: StreamScope, db: string, coll: string): boolean {
  if (scope.db === null) return !INTERNAL_DATABASES.has(db);
  return scope.db === db && (scope.coll === null || scope.coll === coll);
}

/** One change event before images and user stages, with the token that identifies it. */
export interface RawEvent {
  kind: 'event' | 'invalidate';
  token: { _data: string };
  operationType: string;
  record: ChangeRecord;
  /** The namespace the event reports (a collection stream reports its own collection for a database drop). */
  ns: { db: string; coll?: string };
}

/** The images a stream attaches to an event (absent fields are left out of the event). */
export interface EventImages {
  fullDocument?: Doc | null;
  fullDocumentBeforeChange?: Doc | null;
}

const CRUD = new Set(['insert', 'update', 'replace', 'delete']);
/** DDL operations that only streams opened with showExpandedEvents report. */
const EXPANDED_ONLY = new Set(['create', 'createIndexes', 'dropIndexes', 'modify']);

function isWatchedCollection(scope: StreamScope, db: string, coll: string): boolean {
  return scope.db === db && scope.coll === coll;
}

/**
 * The events a record produces for a stream, in order: none when it is outside the stream's scope, one for
 * ordinary changes, and the event plus an `invalidate` when the record ends the stream (drop or rename of the
 * watched collection; dropDatabase for a database stream). The store logs a drop for every collection before a
 * dropDatabase, as mongod does.
 */
export function eventsForRecord(record: ChangeRecord, scope: StreamScope): RawEvent[] {
  // Tokens are built only for records in scope: most records a busy stream scans belong to other collections.
  const make = (operationType: string, ns: RawEvent['ns']): RawEvent => ({
    kind: 'event',
    token: encodeResumeToken({ clusterTime: record.clusterTime, seq: record.seq, kind: 'event' }),
    operationType,
    record,
    ns,
  });
  const invalidate = (): RawEvent => ({
    kind: 'invalidate',
    token: encodeResumeToken({ clusterTime: record.clusterTime, seq: record.seq, kind: 'invalidate' }),
    operationType: 'invalidate',
    record,
    ns: { db: scope.db ?? record.db },
  });

  if (CRUD.has(record.op) || EXPANDED_ONLY.has(record.op)) {
    if (!inScope(scope, record.db, record.coll)) return [];
    if (!scope.expanded && EXPANDED_ONLY.has(record.op)) return [];
    return [make(record.op, { db: record.db, coll: record.coll })];
  }
  switch (record.op) {
    case 'drop': {
      if (!inScope(scope, record.db, record.coll)) return [];
      if (scope.coll === null) return [make('drop', { db: record.db, coll: record.coll })];
      if (record.coll !== scope.coll) return [];
      return [make('drop', { db: record.db, coll: record.coll }), invalidate()];
    }
    case 'rename': {
      const to = record.to;
      const fromHere = inScope(scope, record.db, record.coll);
      const toHere = to !== undefined && inScope(scope, to.db, to.coll);
      if (scope.coll === null) {
        return fromHere || toHere ? [make('rename', { db: record.db, coll: record.coll })] : [];
      }
      const fromWatched = isWatchedCollection(scope, record.db, record.coll);
      const ontoWatched = to !== undefined && isWatchedCollection(scope, to.db, to.coll);
      if (!fromWatched && !ontoWatched) return [];
      return [make('rename', { db: record.db, coll: record.coll }), invalidate()];
    }
    case 'dropDatabase': {
      if (scope.db === null) return INTERNAL_DATABASES.has(record.db) ? [] : [make('dropDatabase', { db: record.db })];
      if (record.db !== scope.db) return [];
      // A collection stream already ended at the drop of its collection that precedes this record (and must
      // not see it when started after that invalidate).
      if (scope.coll !== null) return [];
      return [make('dropDatabase', { db: record.db }), invalidate()];
    }
    default:
      return [];
  }
}

/** True when a record of this type ends a stream with this scope (used when resuming from its token). */
export function invalidatesStream(record: ChangeRecord, scope: StreamScope): boolean {
  return eventsForRecord(record, scope).some((e) => e.kind === 'invalidate');
}

/** Builds the event document in mongod 7.0's field order. */
export function buildEventDocument(event: RawEvent, images: EventImages, showExpandedEvents: boolean): Doc {
  const r = event.record;
  const doc: Doc = {};
  if (event.kind === 'invalidate') {
    doc._id = event.token;
    doc.operationType = 'invalidate';
    doc.clusterTime = r.clusterTime;
    doc.wallTime = r.wallTime;
    return doc;
  }
  doc._id = event.token;
  doc.operationType = event.operationType;
  doc.clusterTime = r.clusterTime;
  doc.wallTime = r.wallTime;
  if (showExpandedEvents && r.collectionUUID) doc.collectionUUID = r.collectionUUID;
  switch (event.operationType) {
    case 'insert':
    case 'replace':
      doc.fullDocument = r.postImage ?? null;
      break;
    case 'update':
      if (images.fullDocument !== undefined) doc.fullDocument = images.fullDocument;
      break;
    default:
      break;
  }
  doc.ns = { ...event.ns };
  if (CRUD.has(event.operationType)) doc.documentKey = r.documentKey ?? null;
  if (event.operationType === 'rename' && r.to) {
    doc.to = { db: r.to.db, coll: r.to.coll };
    if (showExpandedEvents) doc.operationDescription = { to: { db: r.to.db, coll: r.to.coll } };
  } else if (showExpandedEvents && r.operationDescription && EXPANDED_ONLY.has(event.operationType)) {
    doc.operationDescription = r.operationDescription;
    if (r.stateBeforeChange) doc.stateBeforeChange = r.stateBeforeChange;
  }
  if (event.operationType === 'update') {
    const d = r.updateDescription ?? { updatedFields: {}, removedFields: [], truncatedArrays: [] };
    doc.updateDescription = {
      updatedFields: d.updatedFields,
      removedFields: d.removedFields,
      truncatedArrays: d.truncatedArrays,
      ...(showExpandedEvents ? { disambiguatedPaths: disambiguatedPaths(d, r.postImage ?? null) } : {}),
    };
  }
  // mongod shows the session only on the writes of multi-document transactions.
  if (r.txnOpIndex !== undefined && r.lsid && r.txnNumber) {
    doc.lsid = r.lsid;
    doc.txnNumber = r.txnNumber;
  }
  if (images.fullDocumentBeforeChange !== undefined) doc.fullDocumentBeforeChange = images.fullDocumentBeforeChange;
  return doc;
}

/**
 * mongod 7's `updateDescription.disambiguatedPaths` (with showExpandedEvents): for every reported path with a
 * numeric component, the path as an array that tells array indexes (numbers) from field names that look like
 * numbers (strings). The containers on the path are read from the document after the update; a removed field's
 * parents are still there.
 */
export function disambiguatedPaths(description: UpdateDescription, after: Doc | null): Doc {
  const out: Doc = {};
  const paths = [
    ...Object.keys(description.updatedFields),
    ...description.removedFields,
    ...description.truncatedArrays.map((t) => t.field),
  ];
  for (const path of paths) {
    const parts = path.split('.');
    if (!parts.some((p) => NUMERIC.test(p))) continue;
    const resolved: (string | number)[] = [];
    let current: unknown = after;
    for (const part of parts) {
      if (Array.isArray(current) && NUMERIC.test(part)) {
        resolved.push(Number(part));
        current = (current as unknown[])[Number(part)];
      } else {
        resolved.push(part);
        current = current !== null && typeof current === 'object' ? (current as Doc)[part] : undefined;
      }
    }
    out[path] = resolved;
  }
  return out;
}

const NUMERIC = /^[0-9]+$/;
