import type { Collation } from './collation.js';
import type { Doc } from './errors.js';
import { compileFilter } from './filter.js';
import { isArrayIndex } from './path.js';
import { isArray, isPlainObject } from './values.js';

/** The positional operator `$` (updates and projections): which array element the query matched. */

/** The value at a dotted path, numeric components indexing arrays (no array expansion). */
export function valueAtPath(doc: unknown, parts: readonly string[]): unknown {
  let cur = doc;
  for (const p of parts) {
    if (isArray(cur)) cur = isArrayIndex(p) ? cur[Number(p)] : undefined;
    else if (isPlainObject(cur)) cur = cur[p];
    else return undefined;
  }
  return cur;
}

/** A copy of `doc` whose value at `parts` is `value` (used to test the query against one array element). */
export function withValueAt(doc: unknown, parts: readonly string[], i: number, value: unknown): unknown {
  if (i === parts.length) return value;
  const key = parts[i] as string;
  if (isArray(doc)) {
    const copy = [...doc];
    copy[Number(key)] = withValueAt(doc[Number(key)], parts, i + 1, value);
    return copy;
  }
  const base = isPlainObject(doc) ? doc : {};
  return { ...base, [key]: withValueAt(base[key], parts, i + 1, value) };
}

/** The query's conditions on the array at `prefix` or inside its elements, as one `$and` list. */
function conditionsOn(query: Doc, prefix: string, out: Doc[]): void {
  for (const [key, value] of Object.entries(query)) {
    if (key === '$and' && isArray(value)) {
      for (const sub of value) if (isPlainObject(sub)) conditionsOn(sub, prefix, out);
    } else if (key === prefix || key.startsWith(`${prefix}.`)) out.push({ [key]: value });
  }
}

/**
 * The index of the first element of the array at `arrayParts` that the query's conditions on it match. */
export function positionalMatch(
  query: Doc | undefined,
  doc: Doc,
  arrayParts: string[],
  collation: Collation | null = null,
): number | null {
  const arr = valueAtPath(doc, arrayParts);
  if (!query || !isArray(arr)) return null;
  const conds: Doc[] = [];
  conditionsOn(query, arrayParts.join('.'), conds);
  if (conds.length === 0) return null;
  const pred = compileFilter({ $and: conds }, { collation });
  for (let i = 0; i < arr.length; i++) {
    if (pred(withValueAt(doc, arrayParts, 0, [arr[i]]) as Doc)) return i;
  }
  return null;
}
