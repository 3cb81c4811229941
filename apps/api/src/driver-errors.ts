import { ResyncReason } from '@orders/contracts';
import {
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';

/*
 * How the API reads a driver error, in one place for REST (503 or 500) and the change feed (keep the position and
 * retry, resync clients, or count a failure). See docs/ARCHITECTURE.md, "Recovery and replay".
 */

/** Driver error classes meaning "no usable server right now". */
const UNAVAILABLE_CLASSES = [
  MongoServerSelectionError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoTopologyClosedError,
  MongoOperationTimeoutError,
];
/** The same by name: an error can cross a module boundary (another copy of the driver) without its class. */
const UNAVAILABLE_NAMES: ReadonlySet<string> = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoOperationTimeoutError',
]);
/** Server answers meaning "shutting down or stepping down": a retry elsewhere or later can succeed. */
const UNAVAILABLE_SERVER_CODES: ReadonlySet<number> = new Set([91, 189, 10107, 11600, 11602, 13435, 13436]);
/** Socket failures that reach us as plain errors (e.g. from a connection the driver had not wrapped yet). */
const CONNECTION_FAILURE = /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/i;

/** The numeric server code of an error, when it has one. */
export function errorCode(err: unknown): number | null {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number') return err.code;
  return null;
}

/**
 * True for errors of the connection rather than of the request: REST answers 503 DATABASE_UNAVAILABLE, the
 * feed keeps its position and resumes from it once the database is back.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (UNAVAILABLE_CLASSES.some((type) => err instanceof type) || UNAVAILABLE_NAMES.has(err.name)) return true;
  const code = errorCode(err);
  if (code !== null && UNAVAILABLE_SERVER_CODES.has(code)) return true;
  const labels: unknown = Reflect.get(err, 'errorLabels');
  if (Array.isArray(labels) && labels.includes('ResumableChangeStreamError')) return true;
  return CONNECTION_FAILURE.test(err.message);
}

/** Server error code: the position is older than the change history the server keeps. */
const HISTORY_LOST = 286;
/** Server error codes meaning the position is not one this database can resume from. */
const POSITION_ERRORS: ReadonlySet<number> = new Set([260, 280, 40647, 50811]);

/**
 * Why a stream opened at a client's or the feed's position failed, as the reason a client is told to resync;
 * null when the failure says nothing about the position (the database is down, a timeout, …).
 */
export function positionFailure(err: unknown): ResyncReason | null {
  const code = errorCode(err);
  if (code === HISTORY_LOST) return ResyncReason.HistoryLost;
  if (code !== null && POSITION_ERRORS.has(code)) return ResyncReason.UnknownPosition;
  return null;
}

/** Server error code: the collection exists already (createCollection raced another process). */
export const NAMESPACE_EXISTS = 48;
