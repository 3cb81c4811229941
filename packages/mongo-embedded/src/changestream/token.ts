import { Timestamp } from 'bson';
import { MongoServerError, type Doc } from '../query/index.js';

/**
 * What a resume token points at. `seq` is the change-log position:
 * - `event`: the event produced by the record at `seq` (resume strictly after it);
 * - `invalidate`: the invalidate that followed the record at `seq` (same position, sorts after the event);
 * - `highWaterMark`: every record up to and including `seq` has been scanned (sorts after both).
 */
export type TokenKind = 'event' | 'invalidate' | 'highWaterMark';

export interface ResumeTokenData {
  clusterTime: Timestamp;
  seq: bigint;
  kind: TokenKind;
}

// The first byte versions the format, so a later layout can coexist with tokens already handed out.
const VERSION = '82';
const KIND_BYTE: Record<TokenKind, string> = { event: '00', invalidate: '01', highWaterMark: '02' };
const TOKEN_LENGTH = 2 + 16 + 16 + 2;
const HEX = /^[0-9A-F]+$/;

function hex64(value: bigint): string {
  return value.toString(16).toUpperCase().padStart(16, '0');
}

/**
 * Encodes a token as `{ _data: <uppercase hex> }`. Fixed width and big-endian, so comparing two `_data` strings
 * compares (clusterTime, seq, kind): stream order.
 */
export function encodeResumeToken(data: ResumeTokenData): { _data: string } {
  const ts = (BigInt(data.clusterTime.t) << 32n) | BigInt(data.clusterTime.i);
  return { _data: VERSION + hex64(ts) + hex64(data.seq) + KIND_BYTE[data.kind] };
}

function invalidToken(reason: string): MongoServerError {
  return new MongoServerError(260, 'InvalidResumeToken', `Invalid resume token: ${reason}`);
}

/** Parses a client-supplied token; throws the errors mongod gives for missing, empty or malformed tokens. */
export function decodeResumeToken(token: unknown, field = 'resumeAfter'): ResumeTokenData {
  if (token === null || typeof token !== 'object' || Array.isArray(token)) {
    throw new MongoServerError(
      14,
      'TypeMismatch',
      `BSON field '$changeStream.${field}' is the wrong type '${token === null ? 'null' : Array.isArray(token) ? 'array' : typeof token}', expected type 'object'`,
    );
  }
  const data = (token as Doc)._data;
  if (typeof data !== 'string') {
    throw new MongoServerError(
      40647,
      'Location40647',
      'Bad resume token: _data of missing or of wrong type. Expected string, got ' + describe(token as Doc),
    );
  }
  if (data.length === 0) throw new MongoServerError(40649, 'Location40649', 'invalid empty resume token');
  const upper = data.toUpperCase();
  if (!HEX.test(upper)) throw invalidToken('_data is not a hex string');
  if (upper.length !== TOKEN_LENGTH || !upper.startsWith(VERSION)) {
    throw invalidToken('this token was not issued by this server');
  }
  const ts = BigInt('0x' + upper.slice(2, 18));
  const seq = BigInt('0x' + upper.slice(18, 34));
  const kindByte = upper.slice(34, 36);
  const kind = (Object.keys(KIND_BYTE) as TokenKind[]).find((k) => KIND_BYTE[k] === kindByte);
  if (!kind) throw invalidToken('unknown token type');
  if (kind !== 'highWaterMark' && seq === 0n) throw invalidToken('event token without a position');
  const clusterTime = new Timestamp({ t: Number(ts >> 32n), i: Number(ts & 0xffffffffn) });
  return { clusterTime, seq, kind };
}

function describe(doc: Doc): string {
  try {
    return JSON.stringify(doc);
  } catch {
    return '{...}';
  }
}

/** Orders two timestamps (negative, zero, positive). */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  if (a.t !== b.t) return a.t < b.t ? -1 : 1;
  if (a.i !== b.i) return a.i < b.i ? -1 : 1;
  return 0;
}
