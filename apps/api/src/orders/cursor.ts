import type { PageAfter } from './repository.js';

const CURSOR_VERSION = 'v1';

/**
 * Encodes where the next page starts as an opaque token. Keyset, not offset: a page boundary is the last
 * (updated_at, id) returned, so writes between page requests never shift later pages.
 */
export function encodeCursor(after: PageAfter): string {
  return Buffer.from(`${CURSOR_VERSION}:${after.updatedAt.getTime()}:${after.id}`, 'utf8').toString('base64url');
}

/** Decodes a cursor made by `encodeCursor`; null when it is not one. */
export function decodeCursor(cursor: string): PageAfter | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  // An id is an order id, or a fraction when the page ended on a stored document with a fractional _id.
  const match = /^v1:(\d{1,15}):(\d{1,16}(?:\.\d{1,17})?)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null) return null;
  const millis = Number(match[1]);
  const id = Number(match[2]);
  const updatedAt = new Date(millis);
  if (!(id >= 1 && id <= Number.MAX_SAFE_INTEGER) || Number.isNaN(updatedAt.getTime())) return null;
  return { updatedAt, id };
}
