import type { OrderSort } from '@orders/contracts';
import type { PageAfter } from './repository.js';

/** The cursor prefix of each sort: a cursor continues only the sort that made it. */
const SORT_TAGS: Record<OrderSort, string> = { updated: 'v1', created: 'c1', id: 'i1' };

/** Where the next page of a sorted list starts: strictly after this key (`at` is unused by the id sort). */
export interface ListCursor {
  sort: OrderSort;
  at: Date;
  id: number;
}

const ID_TEXT = '(\\d{1,16}(?:\\.\\d{1,17})?)';
const TIMED = new RegExp(`^(v1|c1):(\\d{1,15}):${ID_TEXT}$`);
const BY_ID = new RegExp(`^i1:${ID_TEXT}$`);

/**
 * Encodes where the next page starts as an opaque token. Keyset, not offset: a page boundary is the last sort key
 * returned ((updated_at, id), (created_at, id) or id), so writes between page requests never shift later pages.
 */
export function encodeListCursor(after: ListCursor): string {
  const tag = SORT_TAGS[after.sort];
  const text = after.sort === 'id' ? `${tag}:${after.id}` : `${tag}:${after.at.getTime()}:${after.id}`;
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** Decodes a cursor made by `encodeListCursor`; null when it is not one. */
export function decodeListCursor(cursor: string): ListCursor | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  // An id is an order id, or a fraction when the page ended on a stored document with a fractional _id.
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const timed = TIMED.exec(text);
  const byId = timed === null ? BY_ID.exec(text) : null;
  if (timed === null && byId === null) return null;
  const sort: OrderSort = timed === null ? 'id' : timed[1] === 'v1' ? 'updated' : 'created';
  const at = new Date(timed === null ? 0 : Number(timed[2]));
  const id = Number(timed === null ? byId?.[1] : timed[3]);
  if (!(id >= 1 && id <= Number.MAX_SAFE_INTEGER) || Number.isNaN(at.getTime())) return null;
  return { sort, at, id };
}

/** `encodeListCursor` for the default sort (last update), as the as-of board pages. */
export function encodeCursor(after: PageAfter): string {
  return encodeListCursor({ sort: 'updated', at: after.updatedAt, id: after.id });
}

/** Decodes a cursor of the default sort; null when it is not one (another sort's included). */
export function decodeCursor(cursor: string): PageAfter | null {
  const decoded = decodeListCursor(cursor);
  return decoded?.sort === 'updated' ? { updatedAt: decoded.at, id: decoded.id } : null;
}
