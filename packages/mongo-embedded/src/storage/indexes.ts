import { BSONRegExp } from 'bson';
import {
  canonicalKey,
  compareValues,
  compileFilter,
  getIndexKeyValues,
  getPathValues,
  parseCollation,
  Rank,
  rankOf,
  sameCollation,
  withCollation,
  type Collation,
  type Doc,
  type FieldBounds,
  type Interval,
} from '../query/index.js';
import { BPlusTree } from './btree.js';

/** An index definition as listIndexes shows it: `{ v: 2, key, name, unique?, sparse?, ... }`. */
export type IndexSpec = Doc & { key: Doc; name: string };

/** One index entry: the key's components in the index's field order, and the document's `canonicalKey(_id)`. */
export interface IndexEntry {
  key: unknown[];
  id: string;
}

type Entry = IndexEntry;

/** Bounds on one field, as `fieldBounds` returns them. */
export type Bounds = FieldBounds;

/** Caps the number of keys one document may generate (compound multikey cartesian products). */
const MAX_KEYS_PER_DOCUMENT = 10_000;

function nullWithin(bounds: Bounds): boolean {
  const { min, max } = bounds;
  const aboveMin =
    !min || compareValues(min.value, null) < 0 || (compareValues(min.value, null) === 0 && min.inclusive);
  const belowMax =
    !max || compareValues(null, max.value) < 0 || (compareValues(null, max.value) === 0 && max.inclusive);
  return aboveMin && belowMax;
}

function compareKeys(a: unknown[], b: unknown[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return 0;
}

/** The order of an index's entries: by key (BSON order, under the collation installed), then by document id. */
export function compareEntries(a: Entry, b: Entry): number {
  const c = compareKeys(a.key, b.key);
  if (c !== 0) return c;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function isPlainObject(v: unknown): v is Doc {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** Generates mongod's default index name: `{ a: 1, b: -1 }` → `a_1_b_-1`. */
export function defaultIndexName(key: Doc): string {
  return Object.entries(key)
    .map(([field, dir]) => `${field}_${formatDirection(dir)}`)
    .join('_');
}

function formatDirection(dir: unknown): string {
  if (typeof dir === 'string') return dir;
  if (typeof dir === 'number') return String(dir);
  if (dir !== null && typeof dir === 'object' && 'valueOf' in dir)
    return String((dir as { valueOf(): unknown }).valueOf());
  return String(dir);
}

/**
 * One index over a collection: entries ordered by key then document id in a B+tree, plus a hash of keys for unique
 * checks.
 * Multikey: an array value yields one key per element; a missing field is indexed as null unless sparse.
 */
export class IndexData {
  readonly fields: string[];
  readonly unique: boolean;
  /**
   * Whether `uniqueKeys` is kept. Not for an uncollated `_id_`: its documents are already keyed by
   * `canonicalKey(_id)` in the collection, so two owners of one key are impossible, and the map would cost a string and
   * an entry per document (about 100 MB at a million).
   */
  private readonly tracksOwners: boolean;
  readonly sparse: boolean;
  private readonly partial: ((doc: Doc) => boolean) | null;
  /** Whether any indexed document had an array on an indexed path (then a range may only use one bound). */
  multikey = false;
  private readonly entries = new BPlusTree<Entry>(compareEntries);
  /**
   * Unique indexes: key → the document id owning it. A plain string in the usual case (one owner); a Set only while
   * several documents share a key (which a unique index allows transiently, e.g. before `build` reports it). A Set
   * per key cost ~100 bytes per document.
   */
  private readonly uniqueKeys = new Map<string, string | Set<string>>();

  /** The index's collation: its keys are ordered and compared under it (null: simple binary order). */
  readonly collation: Collation | null;

  /** Replaced (never mutated) by collMod, so snapshots holding the old object stay consistent. */
  constructor(public spec: IndexSpec) {
    this.collation = parseCollation(spec.collation);
    this.fields = Object.keys(spec.key);
    this.unique = spec.unique === true || spec.name === '_id_';
    this.tracksOwners = this.unique && !(spec.name === '_id_' && this.collation === null);
    this.sparse = spec.sparse === true;
    const pfe = spec.partialFilterExpression;
    this.partial = isPlainObject(pfe) ? compileFilter(pfe) : null;
  }

  get name(): string {
    return this.spec.name;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The index keys of `doc`, or an empty list when the document is not indexed (sparse/partial). */
  keysFor(doc: Doc): unknown[][] {
    if (this.partial && !this.partial(doc)) return [];
    const perField: unknown[][] = [];
    let anyPresent = false;
    for (const field of this.fields) {
      const present = getPathValues(doc, field);
      if (present.length > 0) anyPresent = true;
      if (!this.multikey && present.some((v) => Array.isArray(v))) this.multikey = true;
      const found = getIndexKeyValues(doc, field);
      // One value (no array on the path) needs no deduplication: the common case pays no canonical key.
      perField.push(found.length === 0 ? [null] : found.length === 1 ? found : distinctValues(found));
    }
    if (this.sparse && !anyPresent) return [];
    let keys: unknown[][] = [[]];
    for (const values of perField) {
      const next: unknown[][] = [];
      for (const prefix of keys) for (const v of values) next.push([...prefix, v]);
      keys = next;
      if (keys.length > MAX_KEYS_PER_DOCUMENT) break;
    }
    return keys;
  }

  /** The first key of `doc` already owned by another document in this unique index, or null. */
  findConflict(doc: Doc, id: string, ignoreId?: string): unknown[] | null {
    if (this.collation) {
      return withCollation(this.collation, () => this.findConflictSimple(doc, id, ignoreId));
    }
    return this.findConflictSimple(doc, id, ignoreId);
  }

  private findConflictSimple(doc: Doc, id: string, ignoreId?: string): unknown[] | null {
    if (!this.tracksOwners) return null;
    for (const key of this.keysFor(doc)) {
      const owners = this.uniqueKeys.get(this.uniqueKeyOf(key));
      if (owners === undefined) continue;
      if (typeof owners === 'string') {
        if (owners !== id && owners !== ignoreId) return key;
        continue;
      }
      for (const owner of owners) if (owner !== id && owner !== ignoreId) return key;
    }
    return null;
  }

  add(doc: Doc, id: string): void {
    if (this.collation) {
      withCollation(this.collation, () => this.addSimple(doc, id));
      return;
    }
    this.addSimple(doc, id);
  }

  private addSimple(doc: Doc, id: string): void {
    for (const key of this.keysFor(doc)) {
      this.entries.insert({ key, id });
      if (this.tracksOwners) this.addOwner(this.uniqueKeyOf(key), id);
    }
  }

  private addOwner(ck: string, id: string): void {
    const owners = this.uniqueKeys.get(ck);
    if (owners === undefined) this.uniqueKeys.set(ck, id);
    else if (typeof owners === 'string') {
      if (owners !== id) this.uniqueKeys.set(ck, new Set([owners, id]));
    } else owners.add(id);
  }

  private removeOwner(ck: string, id: string): void {
    const owners = this.uniqueKeys.get(ck);
    if (owners === undefined) return;
    if (typeof owners === 'string') {
      if (owners === id) this.uniqueKeys.delete(ck);
      return;
    }
    owners.delete(id);
    if (owners.size === 1) this.uniqueKeys.set(ck, owners.values().next().value as string);
    else if (owners.size === 0) this.uniqueKeys.delete(ck);
  }

  remove(doc: Doc, id: string): void {
    if (this.collation) {
      withCollation(this.collation, () => this.removeSimple(doc, id));
      return;
    }
    this.removeSimple(doc, id);
  }

  private removeSimple(doc: Doc, id: string): void {
    for (const key of this.keysFor(doc)) {
      this.entries.delete({ key, id });
      if (this.tracksOwners) this.removeOwner(this.uniqueKeyOf(key), id);
    }
  }

  /** Rebuilds the index from scratch; returns the duplicate key found, if any (the index is then left empty). */
  build(docs: Iterable<[string, Doc]>): { duplicate: unknown[]; id: string } | null {
    if (this.collation) {
      return withCollation(this.collation, () => this.buildSimple(docs));
    }
    return this.buildSimple(docs);
  }

  private buildSimple(docs: Iterable<[string, Doc]>): { duplicate: unknown[]; id: string } | null {
    this.entries.clear();
    this.uniqueKeys.clear();
    const all: Entry[] = [];
    for (const [id, doc] of docs) {
      for (const key of this.keysFor(doc)) {
        if (this.tracksOwners) {
          const ck = this.uniqueKeyOf(key);
          const owner = this.uniqueKeys.get(ck);
          if (owner !== undefined && owner !== id) {
            this.uniqueKeys.clear();
            return { duplicate: key, id };
          }
          this.uniqueKeys.set(ck, id);
        }
        all.push({ key, id });
      }
    }
    // One sort and a bulk load: what makes a restart or a new index on a large collection cost seconds, not the
    // minutes of one ordered insert per entry.
    all.sort(compareEntries);
    this.entries.load(dedupeSorted(all));
    return null;
  }

  /**
   * Whether a lookup with these bounds on the first field may use this index without missing documents.
   * Sparse and partial indexes omit documents, so they only serve bounds that exclude null/missing; a regex's
   * intervals (`ranges`) hold strings and regexes only.
   */
  canServe(bounds: Bounds): boolean {
    if (bounds.eq) {
      for (const v of bounds.eq) {
        if (Array.isArray(v) || v instanceof BSONRegExp || v instanceof RegExp) return false;
        if ((this.sparse || this.partial) && (v === null || v === undefined)) return false;
      }
    }
    if (this.partial) return false;
    if (bounds.eq || bounds.ranges) return true;
    if (this.sparse && nullWithin(bounds)) return false;
    return bounds.min !== undefined || bounds.max !== undefined;
  }

  /**
   * Whether a query under `collation` may use this index for `bounds`: string (and document) keys are ordered by
   * the index's collation, so only a query with the same collation may scan them; other bounds are unaffected.
   * A regex's intervals are in binary string order, which a collated index does not keep, whatever the query's
   * collation (a regex ignores collations, as in mongod).
   */
  usableUnder(bounds: Bounds, collation: Collation | null): boolean {
    if (bounds.ranges && this.collation !== null) return false;
    if (sameCollation(this.collation, collation)) return true;
    const collated = (v: unknown): boolean => {
      const r = rankOf(v);
      return r === Rank.string || r === Rank.object || r === Rank.array;
    };
    if (bounds.eq || bounds.ranges) return !(bounds.eq ?? []).some(collated);
    return !(bounds.min && collated(bounds.min.value)) && !(bounds.max && collated(bounds.max.value));
  }

  /** Document ids whose first key component lies within `bounds`, deduplicated; also counts keys examined. */
  scan(bounds: Bounds): { ids: string[]; keysExamined: number } {
    if (this.collation) {
      return withCollation(this.collation, () => this.scanSimple(bounds));
    }
    return this.scanSimple(bounds);
  }

  private scanSimple(bounds: Bounds): { ids: string[]; keysExamined: number } {
    const ids: string[] = [];
    const seen = new Set<string>();
    let keysExamined = 0;
    for (const { min, max } of intervalsOf(bounds)) {
      for (const entry of this.entries.ascending(min ? beforeKey(min.value, min.inclusive) : undefined)) {
        keysExamined++;
        if (max) {
          const c = compareValues(entry.key[0], max.value);
          if (c > 0 || (c === 0 && !max.inclusive)) break;
        }
        if (!seen.has(entry.id)) {
          seen.add(entry.id);
          ids.push(entry.id);
        }
      }
    }
    return { ids, keysExamined };
  }

  /**
   * How many entries lie within `bounds` (all of them for null): what a scan of them examines, give or take the
   * key past each interval's end. Two descents of the tree per interval, so the planner can weigh plans by it.
   */
  count(bounds: Bounds | null): number {
    if (!bounds) return this.entries.size;
    const countSimple = (): number => {
      let n = 0;
      for (const { min, max } of intervalsOf(bounds)) {
        const start = min ? this.entries.rank(beforeKey(min.value, min.inclusive)) : 0;
        const end = max ? this.entries.rank(beforeKey(max.value, !max.inclusive)) : this.entries.size;
        n += Math.max(0, end - start);
      }
      return n;
    };
    return this.collation ? withCollation(this.collation, countSimple) : countSimple();
  }

  /**
   * Whether this index holds every document exactly once in an order that serves a sort on `fields` (a prefix of its
   * own, all in one direction: entries are stored ascending whatever the spec's directions).
   */
  canServeSort(fields: readonly string[]): boolean {
    // A collated index orders strings by their collation key, which only a query under the same collation may use.
    if (this.multikey || this.sparse || this.partial || this.collation || fields.length === 0) return false;
    return fields.every((field, i) => this.fields[i] === field);
  }

  /**
   * Document ids in index order, descending with `reverse`, from the entries whose first key component lies within
   * `bounds` (when they are one interval: one range or one value). A sort served this way reads only as far as its limit needs.
   */
  *ordered(reverse: boolean, bounds: Bounds | null): Generator<string> {
    // The range [lo, hi) as "before" predicates: entries before lo, and entries before hi.
    let lo: ((entry: Entry) => boolean) | undefined;
    let hi: ((entry: Entry) => boolean) | undefined;
    const { min, max } = walkedInterval(bounds);
    if (min) lo = beforeKey(min.value, min.inclusive);
    if (max) hi = beforeKey(max.value, !max.inclusive);
    if (reverse) {
      for (const entry of this.entries.descending(hi)) {
        if (lo?.(entry)) return;
        yield entry.id;
      }
    } else {
      for (const entry of this.entries.ascending(lo)) {
        if (hi && !hi(entry)) return;
        yield entry.id;
      }
    }
  }

  /** How many entries `ordered(reverse, bounds)` walks at most. */
  countOrdered(bounds: Bounds | null): number {
    return this.count(walkedInterval(bounds));
  }

  /** How many entries have exactly `value` as their single key: two descents of the tree, no scan. */
  countEqual(value: unknown): number {
    return this.entries.rank(beforeKey(value, false)) - this.entries.rank(beforeKey(value, true));
  }

  /** The key a unique index deduplicates on: strings equal under the index's collation share it. */
  private uniqueKeyOf(key: unknown[]): string {
    const collation = this.collation;
    if (!collation) return canonicalKey(key);
    return canonicalKey(key.map((v) => (typeof v === 'string' ? collation.key(v) : v)));
  }
}

/**
 * Entries before the first whose leading key component is at least `value` (inclusive) or above it (exclusive): the
 * position where a range starting at `value` begins.
 */
function beforeKey(value: unknown, inclusive: boolean): (entry: Entry) => boolean {
  return inclusive
    ? (entry) => compareValues(entry.key[0], value) < 0
    : (entry) => compareValues(entry.key[0], value) <= 0;
}

/** The intervals `bounds` cover, in ascending order of their start: each point, each range, or the one range. */
function intervalsOf(bounds: Bounds): Interval[] {
  if (!bounds.eq && !bounds.ranges)
    return [{ ...(bounds.min ? { min: bounds.min } : {}), ...(bounds.max ? { max: bounds.max } : {}) }];
  const points = [...(bounds.eq ?? [])].sort(compareValues).map((value): Interval => {
    const point = { value, inclusive: true };
    return { min: point, max: point };
  });
  if (!bounds.ranges) return points;
  return [...points, ...bounds.ranges].sort((a, b) => compareValues(a.min?.value, b.min?.value));
}

/** The one interval an ordered walk keeps to: `bounds` when they are one interval, else the whole index. */
function walkedInterval(bounds: Bounds | null): Interval {
  const intervals = bounds ? intervalsOf(bounds) : [];
  return intervals.length === 1 ? intervals[0]! : {};
}

/** Drops entries equal to their predecessor (a document generating the same key twice) from a sorted list. */
function dedupeSorted(sorted: Entry[]): Entry[] {
  let out = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (out > 0 && compareEntries(sorted[out - 1]!, sorted[i]!) === 0) continue;
    sorted[out++] = sorted[i]!;
  }
  sorted.length = out;
  return sorted;
}

/** The values of one indexed path without repeats (an array holding equal elements yields one key for them). */
function distinctValues(values: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  const seen = new Set<string>();
  for (const v of values) {
    const k = canonicalKey(v);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(v);
    }
  }
  return out;
}
