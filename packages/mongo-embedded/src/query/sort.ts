import { withCollation, type Collation } from './collation.js';
import { badValue, location, type Doc } from './errors.js';
import type { TextScores } from './text.js';
import { splitPath, visitPath } from './path.js';
import { compareValues, isNumber, rankOf, Rank, toDouble, isArray } from './values.js';

/** Sort key of an empty array: MongoDB sorts it before null and missing (but after MinKey). */
const EMPTY_ARRAY = Symbol('emptyArray');

function compareKeys(a: unknown, b: unknown): number {
  if (a === EMPTY_ARRAY || b === EMPTY_ARRAY) {
    if (a === b) return 0;
    const other = a === EMPTY_ARRAY ? b : a;
    const c = rankOf(other) === Rank.minKey ? 1 : -1;
    return a === EMPTY_ARRAY ? c : -c;
  }
  return compareValues(a, b);
}

/** The sort key of `path` in `doc`: min element ascending, max descending; missing sorts as null. */
export function sortKey(doc: Doc, parts: readonly string[], dir: 1 | -1): unknown {
  const state: { found: boolean; best: unknown } = { found: false, best: undefined };
  const consider = (v: unknown): void => {
    if (!state.found || compareKeys(v, state.best) * dir < 0) state.best = v;
    state.found = true;
  };
  visitPath(doc, parts, 0, (v) => {
    if (isArray(v)) {
      if (v.length === 0) consider(EMPTY_ARRAY);
      for (const el of v) consider(el === undefined ? null : el);
    } else consider(v === undefined ? null : v);
    return false;
  });
  return state.found ? state.best : null;
}

interface SortField {
  parts: string[];
  dir: 1 | -1;
  /** `{ $meta: 'textScore' }`: highest score first. */
  textScore?: boolean;
}

/** The sort keys of the text scores in force (set only while a sort with `$meta: 'textScore'` runs). */
let sortTextScores: TextScores | undefined;

function keyOf(doc: Doc, f: SortField): unknown {
  if (!f.textScore) return sortKey(doc, f.parts, f.dir);
  const score = sortTextScores?.get(doc);
  if (score === undefined) throw location(40218, 'query requires text score metadata, but it is not available');
  return score;
}

function withTextScores<T>(scores: TextScores | undefined, fn: () => T): T {
  const previous = sortTextScores;
  sortTextScores = scores;
  try {
    return fn();
  } finally {
    sortTextScores = previous;
  }
}

/** Parses a sort specification (`{a: 1, 'b.c': -1}`); throws on invalid directions. */
export function parseSort(sort: Doc): SortField[] {
  const fields: SortField[] = [];
  for (const [path, dirSpec] of Object.entries(sort)) {
    if (path === '') throw badValue('The sort pattern contains an empty field name');
    if (!isNumber(dirSpec)) {
      if (typeof dirSpec === 'object' && dirSpec !== null && '$meta' in dirSpec) {
        if ((dirSpec as Doc).$meta !== 'textScore')
          throw badValue(`$meta sort by '${String((dirSpec as Doc).$meta)}' is not supported by this engine`);
        fields.push({ parts: [path], dir: -1, textScore: true });
        continue;
      }
      throw location(15974, `Illegal key in $sort specification: ${path}: ${JSON.stringify(dirSpec)}`);
    }
    const d = toDouble(dirSpec);
    if (d !== 1 && d !== -1)
      throw location(15975, '$sort key ordering must be 1 (for ascending) or -1 (for descending)');
    fields.push({ parts: splitPath(path), dir: d });
  }
  return fields;
}

/**
 * Compiles a sort specification into a comparator. Arrays sort by their smallest element ascending and their
 * largest descending; missing fields sort as null. Keys are computed once per document and cached.
 */
export function compileSort(
  sort: Doc,
  collation: Collation | null = null,
  textScores?: TextScores,
): (a: Doc, b: Doc) => number {
  if (textScores) {
    const inner = compileSort(sort, collation);
    return (a, b) => withTextScores(textScores, () => inner(a, b));
  }
  if (collation) {
    const inner = compileSort(sort);
    return (a, b) => withCollation(collation, () => inner(a, b));
  }
  const fields = parseSort(sort);
  if (fields.length === 0) return () => 0;
  const cache = new WeakMap<Doc, unknown[]>();
  const keysOf = (doc: Doc): unknown[] => {
    let keys = cache.get(doc);
    if (!keys) {
      keys = fields.map((f) => keyOf(doc, f));
      cache.set(doc, keys);
    }
    return keys;
  };
  return (a, b) => {
    const ka = keysOf(a);
    const kb = keysOf(b);
    for (let i = 0; i < fields.length; i++) {
      const c = compareKeys(ka[i], kb[i]);
      if (c !== 0) return c * (fields[i] as SortField).dir;
    }
    return 0;
  };
}

/** Sorts documents by a sort specification, computing each document's keys once (stable). */
export function sortDocuments(
  docs: readonly Doc[],
  sort: Doc,
  collation: Collation | null = null,
  textScores?: TextScores,
): Doc[] {
  if (textScores) return withTextScores(textScores, () => sortDocuments(docs, sort, collation));
  if (collation) return withCollation(collation, () => sortDocuments(docs, sort));
  const fields = parseSort(sort);
  const keyed = docs.map((doc, i) => ({ doc, i, keys: fields.map((f) => keyOf(doc, f)) }));
  keyed.sort((a, b) => {
    for (let k = 0; k < fields.length; k++) {
      const c = compareKeys(a.keys[k], b.keys[k]);
      if (c !== 0) return c * (fields[k] as SortField).dir;
    }
    return a.i - b.i;
  });
  return keyed.map((x) => x.doc);
}
