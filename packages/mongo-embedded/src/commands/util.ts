import { Double, Int32, Long } from 'bson';
import { MongoServerError, type Doc } from '../query/index.js';

/** Lets other connections (and the driver's heartbeats) run during long scans. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Work done between two yields in long loops. */
export const YIELD_EVERY = 2000;

export function isDoc(v: unknown): v is Doc {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && isPlainRecord(v);
}

function isPlainRecord(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Reads a numeric option that may arrive as a JS number or a BSON wrapper. */
export function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Int32 || v instanceof Double) return v.valueOf();
  if (v instanceof Long) return v.toNumber();
  return undefined;
}

/** Reads a boolean option the way mongod does (numbers count as booleans). */
export function toBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  const n = toNumber(v);
  return n !== undefined ? n !== 0 : false;
}

export function optionalDoc(body: Doc, field: string): Doc | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!isDoc(v))
    throw new MongoServerError(
      14,
      'TypeMismatch',
      `BSON field '${field}' is the wrong type '${typeof v}', expected type 'object'`,
    );
  return v;
}

export function requireString(body: Doc, field: string): string {
  const v = body[field];
  if (typeof v !== 'string') {
    throw new MongoServerError(2, 'BadValue', `collection name has invalid type ${v === null ? 'null' : typeof v}`);
  }
  return v;
}

export function optionalNonNegative(body: Doc, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  const n = toNumber(v);
  if (n === undefined || !Number.isFinite(n)) {
    throw new MongoServerError(14, 'TypeMismatch', `BSON field '${field}' is the wrong type, expected a number`);
  }
  if (n < 0)
    throw new MongoServerError(51024, 'Location51024', `BSON field '${field}' value must be >= 0, actual value '${n}'`);
  return Math.trunc(n);
}

/** `{ ok: 0, ... }` fields of a server error. */
export function errorFields(err: MongoServerError): Doc {
  return { errmsg: err.message, code: err.code, codeName: err.codeName, ...(err.extra ?? {}) };
}

/** An entry of a write reply's `writeErrors` (no codeName, as mongod 7 sends it). */
export function writeError(index: number, err: MongoServerError): Doc {
  return { index, code: err.code, errmsg: err.message, ...(err.extra ?? {}) };
}

export function illegal(message: string): MongoServerError {
  return new MongoServerError(20, 'IllegalOperation', message);
}
