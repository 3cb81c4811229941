import type { Doc } from '../query/index.js';
import type { ChangeRecord } from '../storage/changelog.js';
import { encodeResumeToken } from './token.js';

/** What a stream watches: one collection, or every collection of a database (`coll === null`). */
export interface StreamScope {
  db: string;
  coll: string | null;
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
    ns: { db: scope.db },
  });

  if (CRUD.has(record.op)) {
    if (record.db !== scope.db || (scope.coll !== null && record.coll !== scope.coll)) return [];
    return [make(record.op, { db: record.db, coll: record.coll })];
  }
  switch (record.op) {
    case 'drop': {
      if (record.db !== scope.db) return [];
      if (scope.coll === null) return [make('drop', { db: record.db, coll: record.coll })];
      if (record.coll !== scope.coll) return [];
      return [make('drop', { db: record.db, coll: record.coll }), invalidate()];
    }
    case 'rename': {
      const to = record.to;
      const fromHere = record.db === scope.db;
      const toHere = to !== undefined && to.db === scope.db;
      if (scope.coll === null) {
        return fromHere || toHere ? [make('rename', { db: record.db, coll: record.coll })] : [];
      }
      const fromWatched = isWatchedCollection(scope, record.db, record.coll);
      const ontoWatched = to !== undefined && isWatchedCollection(scope, to.db, to.coll);
      if (!fromWatched && !ontoWatched) return [];
      return [make('rename', { db: record.db, coll: record.coll }), invalidate()];
    }
    case 'dropDatabase': {
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
  }
  if (event.operationType === 'update') {
    const d = r.updateDescription ?? { updatedFields: {}, removedFields: [], truncatedArrays: [] };
    doc.updateDescription = {
      updatedFields: d.updatedFields,
      removedFields: d.removedFields,
      truncatedArrays: d.truncatedArrays,
      ...(showExpandedEvents ? { disambiguatedPaths: {} } : {}),
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
