import type { Doc } from './errors.js';
import { isPlainObject, isArray } from './values.js';

const splitCache = new Map<string, string[]>();

/** Splits a dotted path once and caches it (paths are few and reused per document). */
export function splitPath(path: string): string[] {
  let parts = splitCache.get(path);
  if (!parts) {
    parts = path.split('.');
    if (splitCache.size > 5000) splitCache.clear();
    splitCache.set(path, parts);
  }
  return parts;
}

export function isArrayIndex(s: string): boolean {
  if (s.length === 0 || s.length > 9) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return s.length === 1 || s.charCodeAt(0) !== 48;
}

/**
 * Visits every value that a dotted path reaches, the way MongoDB's matcher does: an array met before the end of
 * the path is expanded one level (each element that is a document is searched for the rest of the path), and a
 * numeric component also indexes into the array. The visitor gets `undefined` for an element document or
 * document where the field is missing. Returns true as soon as the visitor does.
 * The value at the end of the path is passed as is (a leaf array is not expanded here).
 */
export function visitPath(
  value: unknown,
  parts: readonly string[],
  i: number,
  visit: (v: unknown) => boolean,
): boolean {
  if (i === parts.length) return visit(value);
  const part = parts[i] as string;
  if (isArray(value)) {
    if (isArrayIndex(part)) {
      const idx = Number(part);
      if (idx < value.length && visitPath(value[idx], parts, i + 1, visit)) return true;
    }
    for (const el of value) {
      if (isPlainObject(el)) {
        if (visitPath(el[part], parts, i + 1, visit)) return true;
      }
    }
    return false;
  }
  if (isPlainObject(value)) return visitPath(value[part], parts, i + 1, visit);
  return i === 0 ? false : visit(undefined);
}

/**
 * The values a dotted path reaches in `doc`, expanding arrays met along the way (not a leaf array itself).
 * A missing field contributes nothing: `getPathValues({a: 1}, 'b')` is `[]`.
 */
export function getPathValues(doc: Doc, path: string): unknown[] {
  const out: unknown[] = [];
  visitPath(doc, splitPath(path), 0, (v) => {
    if (v !== undefined) out.push(v);
    return false;
  });
  return out;
}

/**
 * The keys an index on `path` holds for `doc`, as MongoDB builds multikey index keys: leaf arrays are expanded to
 * their elements (an empty array gives `undefined`, a missing field gives `null`). Duplicates are not removed.
 */
export function getIndexKeyValues(doc: Doc, path: string): unknown[] {
  const out: unknown[] = [];
  visitPath(doc, splitPath(path), 0, (v) => {
    if (isArray(v)) {
      if (v.length === 0) out.push(undefined);
      else for (const el of v) out.push(el);
    } else out.push(v === undefined ? null : v);
    return false;
  });
  if (out.length === 0) out.push(null);
  return out;
}
