import { Timestamp } from 'bson';
import { badValue, failedToParse, MongoServerError, typeMismatch, type Doc } from './errors.js';
import { compileFilter } from './filter.js';
import { arith, zeroLike } from './numeric.js';
import { isArrayIndex, splitPath } from './path.js';
import { runUpdatePipeline } from './pipeline.js';
import type { Collation } from './collation.js';
import { positionalMatch, valueAtPath } from './positional.js';
import { compileSort } from './sort.js';
import {
  bsonTypeName,
  compareValues,
  isNumber,
  isPlainObject,
  numKind,
  toDouble,
  valuesEqual,
  valuesIdentical,
  isArray,
} from './values.js';

/** Options for applying an update. */
export interface UpdateOptions {
  /** True when the update runs on a document an upsert is inserting ($setOnInsert applies). */
  isUpsertInsert: boolean;
  /** Wall clock for $currentDate and $$NOW. */
  now: Date;
  /** Cluster time for $currentDate {$type: 'timestamp'} and $$CLUSTER_TIME. */
  clusterTime: Timestamp;
  /** Filters for `$[<identifier>]` positional updates. */
  arrayFilters?: Doc[];
  /** The query that selected the document: the positional `$` updates the first array element it matched. */
  query?: Doc;
  /** The command's `let` variables, for pipeline-style updates. */
  vars?: Record<string, unknown>;
  /** The statement's collation: the positional `$` matches array elements under it, as the query did. */
  collation?: Collation | null;
}

/** What an update changed, as change streams report it. */
export interface UpdateDescription {
  updatedFields: Doc;
  removedFields: string[];
  truncatedArrays: { field: string; newSize: number }[];
}

export interface UpdateResult {
  doc: Doc;
  modified: boolean;
  updateDescription: UpdateDescription;
}

const OPERATORS = new Set([
  '$set',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$rename',
  '$currentDate',
  '$setOnInsert',
  '$push',
  '$pull',
  '$pullAll',
  '$addToSet',
  '$pop',
]);

/** True when `update` is a replacement document (no top-level operator), not operators or a pipeline. */
export function isReplacement(update: Doc | Doc[]): boolean {
  if (isArray(update)) return false;
  const first = Object.keys(update)[0];
  return first === undefined || !first.startsWith('$');
}

function emptyDescription(): UpdateDescription {
  return { updatedFields: {}, removedFields: [], truncatedArrays: [] };
}

function immutableId(): MongoServerError {
  return new MongoServerError(
    66,
    'ImmutableField',
    "Performing an update on the path '_id' would modify the immutable field '_id'",
  );
}

/** A short rendering of a value for error messages, close to the server's. */
function show(v: unknown): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (isArray(v)) return `[ ${v.map(show).join(', ')} ]`;
  if (isPlainObject(v)) {
    const entries = Object.entries(v).map(([k, x]) => `${k}: ${show(x)}`);
    return entries.length ? `{ ${entries.join(', ')} }` : '{}';
  }
  if (typeof v === 'object' && v !== null) {
    const kind = numKind(v);
    if (kind !== null) return String(toDouble(v));
    return (v as { toString(): string }).toString();
  }
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : typeof v;
}

function idOf(doc: Doc): string {
  return `{_id: ${show(doc._id)}}`;
}

/**
 * Applies an update (operators, replacement document, or pipeline) to `doc` and returns the new document, whether it
 * changed, and the change-stream update description. Never mutates `doc`. Throws MongoServerError as the server.
 */
export function applyUpdate(doc: Doc, update: Doc | Doc[], opts: UpdateOptions): UpdateResult {
  if (isArray(update)) {
    // mongod's own message carries this spelling.
    if (opts.arrayFilters) throw failedToParse('arrayFilters may not be specified for pipeline-syle updates');
    return applyPipelineUpdate(doc, update, opts);
  }
  if (!isPlainObject(update)) throw failedToParse('Update argument must be either an object or an array');
  if (isReplacement(update)) return applyReplacement(doc, update);
  return applyOperators(doc, update, opts);
}

function applyReplacement(doc: Doc, replacement: Doc): UpdateResult {
  for (const k of Object.keys(replacement)) {
    if (k.startsWith('$')) {
      throw new MongoServerError(
        52,
        'DollarPrefixedFieldName',
        `The dollar ($) prefixed field '${k}' in '${k}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
      );
    }
  }
  const out: Doc = {};
  if ('_id' in doc) {
    if ('_id' in replacement && !valuesEqual(replacement._id, doc._id)) {
      throw new MongoServerError(
        66,
        'ImmutableField',
        `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${show(replacement._id)}`,
      );
    }
    out._id = '_id' in replacement ? replacement._id : doc._id;
  } else if ('_id' in replacement) out._id = replacement._id;
  for (const [k, v] of Object.entries(replacement)) if (k !== '_id') out[k] = v;
  return { doc: out, modified: !valuesIdentical(doc, out), updateDescription: emptyDescription() };
}

function applyPipelineUpdate(doc: Doc, pipeline: Doc[], opts: UpdateOptions): UpdateResult {
  const result = runUpdatePipeline(doc, pipeline, {
    now: opts.now,
    clusterTime: opts.clusterTime,
    ...(opts.vars ? { vars: opts.vars } : {}),
  });
  let out = result;
  if ('_id' in doc) {
    if (!('_id' in result)) out = { _id: doc._id, ...result };
    else if (!valuesEqual(result._id, doc._id)) throw immutableId();
  }
  const modified = !valuesIdentical(doc, out);
  return { doc: out, modified, updateDescription: modified ? diffDocuments(doc, out) : emptyDescription() };
}

// ---------------------------------------------------------------------------------------------
// Operator updates

interface Entry {
  op: string;
  path: string;
  parts: string[];
  arg: unknown;
}

function comparePathParts(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x === y) continue;
    if (isArrayIndex(x) && isArrayIndex(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function validatePath(path: string): string[] {
  if (path === '') throw new MongoServerError(56, 'EmptyFieldName', 'An empty update path is not valid.');
  const parts = splitPath(path);
  if (parts.some((p) => p === '')) {
    throw new MongoServerError(
      56,
      'EmptyFieldName',
      `The update path '${path}' contains an empty field name, which is not allowed.`,
    );
  }
  return parts;
}

function parseEntries(update: Doc): Entry[] {
  const entries: Entry[] = [];
  for (const [op, spec] of Object.entries(update)) {
    if (!OPERATORS.has(op)) {
      throw failedToParse(
        `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    if (!isPlainObject(spec)) {
      throw failedToParse(
        `Modifiers operate on fields but we found type ${bsonTypeName(spec)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${show(spec)}}`,
      );
    }
    for (const [path, arg] of Object.entries(spec)) {
      const entry = { op, path, parts: validatePath(path), arg };
      if (op === '$rename') validateRename(entry);
      entries.push(entry);
    }
  }
  return entries;
}

function checkConflicts(entries: Entry[]): void {
  const paths: { path: string; parts: string[] }[] = [];
  for (const e of entries) {
    paths.push({ path: e.path, parts: e.parts });
    if (e.op === '$rename' && typeof e.arg === 'string' && e.arg !== '')
      paths.push({ path: e.arg, parts: validatePath(e.arg) });
  }
  paths.sort((a, b) => comparePathParts(a.parts, b.parts));
  for (let i = 1; i < paths.length; i++) {
    const prev = paths[i - 1] as { path: string; parts: string[] };
    const cur = paths[i] as { path: string; parts: string[] };
    if (cur.parts.length >= prev.parts.length && prev.parts.every((p, j) => cur.parts[j] === p)) {
      throw new MongoServerError(
        40,
        'ConflictingUpdateOperators',
        `Updating the path '${cur.path}' would create a conflict at '${prev.path}'`,
      );
    }
  }
}

/** Copy-on-write state of one update: containers already copied may be mutated freely. */
class Writer {
  readonly root: Doc;
  private readonly copied = new Set<object>();
  readonly updated: string[] = [];
  readonly removed: string[] = [];

  constructor(
    doc: Doc,
    readonly original: Doc,
  ) {
    this.root = { ...doc };
    this.copied.add(this.root);
  }

  /** The child container at `key`, copied once so it can be mutated. */
  own(container: Doc | unknown[], key: string): Doc | unknown[] | undefined {
    const child = getChild(container, key);
    if (!(isPlainObject(child) || isArray(child))) return undefined;
    if (this.copied.has(child)) return child;
    const copy = isArray(child) ? [...child] : { ...child };
    this.copied.add(copy);
    setChild(container, key, copy);
    return copy;
  }

  markOwned(v: object): void {
    this.copied.add(v);
  }

  logUpdated(path: string): void {
    for (const p of this.updated) if (path === p || path.startsWith(`${p}.`)) return;
    for (let i = this.updated.length - 1; i >= 0; i--) {
      if ((this.updated[i] as string).startsWith(`${path}.`)) this.updated.splice(i, 1);
    }
    this.logRemovedCleanup(path);
    this.updated.push(path);
  }

  private logRemovedCleanup(path: string): void {
    for (let i = this.removed.length - 1; i >= 0; i--) {
      const r = this.removed[i] as string;
      if (r === path || r.startsWith(`${path}.`)) this.removed.splice(i, 1);
    }
  }

  logRemoved(path: string): void {
    for (const p of this.updated) if (path.startsWith(`${p}.`)) return;
    this.removed.push(path);
  }
}

function getChild(container: Doc | unknown[], key: string): unknown {
  if (isArray(container)) return isArrayIndex(key) ? container[Number(key)] : undefined;
  return Object.prototype.hasOwnProperty.call(container, key) ? container[key] : undefined;
}

function setChild(container: Doc | unknown[], key: string, value: unknown): void {
  if (isArray(container)) {
    const idx = Number(key);
    while (container.length < idx) container.push(null);
    container[idx] = value;
  } else container[key] = value;
}

function hasChild(container: Doc | unknown[], key: string): boolean {
  if (isArray(container)) return isArrayIndex(key) && Number(key) < container.length;
  return Object.prototype.hasOwnProperty.call(container, key);
}

interface Target {
  parent: Doc | unknown[];
  key: string;
  exists: boolean;
  value: unknown;
  /** The path to log when this write creates the field: up to the first component that did not exist. */
  logPath: string;
}

function pathNotViable(parts: string[], i: number, container: unknown, key: string): MongoServerError {
  return new MongoServerError(
    28,
    'PathNotViable',
    `Cannot create field '${parts[i] ?? ''}' in element {${key}: ${show(container)}}`,
  );
}

/**
 * Walks to the parent of the path's last component. With `create`, missing intermediate documents are created
 * (null-padding arrays for numeric components); without, returns null when the path does not exist.
 */
function locate(w: Writer, parts: string[], create: boolean): Target | null {
  let container: Doc | unknown[] = w.root;
  let firstCreated = -1;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i] as string;
    if (isArray(container) && !isArrayIndex(key)) {
      if (!create) return null;
      throw pathNotViable(parts, i, container, parts[i - 1] ?? key);
    }
    if (!hasChild(container, key) || getChild(container, key) === undefined) {
      if (!create) return null;
      const fresh: Doc = {};
      w.markOwned(fresh);
      setChild(container, key, fresh);
      if (firstCreated < 0) firstCreated = i;
      container = fresh;
      continue;
    }
    const next = w.own(container, key);
    if (next === undefined) {
      if (!create) return null;
      throw pathNotViable(parts, i + 1, getChild(container, key), key);
    }
    container = next;
  }
  const key = parts[parts.length - 1] as string;
  if (isArray(container) && !isArrayIndex(key)) {
    if (!create) return null;
    throw pathNotViable(parts, parts.length - 1, container, parts[parts.length - 2] ?? key);
  }
  const exists = hasChild(container, key);
  const value = exists ? getChild(container, key) : undefined;
  const logLen = firstCreated >= 0 ? firstCreated + 1 : parts.length;
  return { parent: container, key, exists, value, logPath: parts.slice(0, logLen).join('.') };
}

function setValue(w: Writer, t: Target, value: unknown): void {
  setChild(t.parent, t.key, value);
  w.logUpdated(t.logPath);
}

function requireNumber(op: string, path: string, arg: unknown): void {
  if (!isNumber(arg)) {
    const verb = op === '$inc' ? 'increment' : 'multiply';
    throw typeMismatch(`Cannot ${verb} with non-numeric argument: {${path}: ${show(arg)}}`);
  }
}

function applyArith(w: Writer, e: Entry): void {
  requireNumber(e.op, e.path, e.arg);
  const t = locate(w, e.parts, true) as Target;
  if (!t.exists) {
    setValue(w, t, e.op === '$inc' ? e.arg : zeroLike(e.arg));
    return;
  }
  if (!isNumber(t.value)) {
    throw typeMismatch(
      `Cannot apply ${e.op} to a value of non-numeric type. ${idOf(w.original)} has the field '${t.key}' of non-numeric type ${bsonTypeName(t.value)}`,
    );
  }
  const result = arith(e.op === '$inc' ? 'add' : 'multiply', t.value, e.arg, 'fail');
  if (result === null) {
    throw badValue(
      `Failed to apply ${e.op} operations to current value (${show(t.value)}) for document ${idOf(w.original)}`,
    );
  }
  if (!valuesIdentical(result, t.value)) setValue(w, t, result);
}

function applySet(w: Writer, e: Entry): void {
  const t = locate(w, e.parts, true) as Target;
  if (t.exists && valuesIdentical(t.value, e.arg)) return;
  setValue(w, t, e.arg);
}

function applyUnset(w: Writer, e: Entry): void {
  const t = locate(w, e.parts, false);
  if (!t?.exists) return;
  if (isArray(t.parent)) {
    if (t.value === null) return;
    t.parent[Number(t.key)] = null;
    w.logUpdated(e.path);
  } else {
    Reflect.deleteProperty(t.parent, t.key);
    w.logRemoved(e.path);
  }
}

function applyMinMax(w: Writer, e: Entry): void {
  const t = locate(w, e.parts, true) as Target;
  if (!t.exists) {
    setValue(w, t, e.arg);
    return;
  }
  const c = compareValues(e.arg, t.value);
  if ((e.op === '$min' && c < 0) || (e.op === '$max' && c > 0)) setValue(w, t, e.arg);
}

function applyCurrentDate(w: Writer, e: Entry, opts: UpdateOptions): void {
  let value: unknown;
  if (typeof e.arg === 'boolean') value = opts.now;
  else if (
    isPlainObject(e.arg) &&
    Object.keys(e.arg).length === 1 &&
    (e.arg.$type === 'date' || e.arg.$type === 'timestamp')
  ) {
    value = e.arg.$type === 'date' ? opts.now : opts.clusterTime;
  } else if (isPlainObject(e.arg) && '$type' in e.arg) {
    throw badValue(
      "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}",
    );
  } else {
    throw badValue(
      `${e.path} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`,
    );
  }
  const t = locate(w, e.parts, true) as Target;
  setValue(w, t, value);
}

function validateRename(e: Entry): void {
  const dest = e.arg;
  if (typeof dest !== 'string') throw badValue(`The 'to' field for $rename must be a string: ${e.path}: ${show(dest)}`);
  if (dest === e.path) throw badValue(`The source and target field for $rename must differ: ${e.path}: ${show(dest)}`);
  if (dest.startsWith(`${e.path}.`) || e.path.startsWith(`${dest}.`)) {
    throw badValue(`The source and target field for $rename must not be on the same path: ${e.path}: ${show(dest)}`);
  }
}

function applyRename(w: Writer, e: Entry): void {
  const dest = e.arg as string;
  const destParts = validatePath(dest);
  // Source and destination may not pass through arrays.
  const src = locate(w, e.parts, false);
  if (!src?.exists) return;
  if (isArray(src.parent))
    throw badValue(`The source field cannot be an array element, '${e.path}' in doc with ${show(w.original)}`);
  const value = src.value;
  Reflect.deleteProperty(src.parent, src.key);
  w.logRemoved(e.path);
  const t = locate(w, destParts, true) as Target;
  if (isArray(t.parent))
    throw badValue(`The destination field cannot be an array element, '${dest}' in doc with ${show(w.original)}`);
  setValue(w, t, value);
}

function arrayTarget(
  w: Writer,
  e: Entry,
  create: boolean,
  notArray: (t: Target) => MongoServerError,
): { t: Target; arr: unknown[] | null } | null {
  const t = locate(w, e.parts, create);
  if (!t) return null;
  if (!t.exists) return { t, arr: null };
  if (!isArray(t.value)) throw notArray(t);
  return { t, arr: t.value };
}

function sortElements(arr: unknown[], spec: unknown): void {
  if (isNumber(spec)) {
    const d = toDouble(spec);
    if (d !== 1 && d !== -1) throw badValue('The $sort element value must be either 1 or -1');
    arr.sort((a, b) => compareValues(a, b) * d);
    return;
  }
  if (!isPlainObject(spec) || Object.keys(spec).length === 0)
    throw badValue('The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields');
  const cmp = compileSort(spec);
  arr.sort((a, b) => cmp(isPlainObject(a) ? a : {}, isPlainObject(b) ? b : {}));
}

function applyPush(w: Writer, e: Entry): void {
  let items: unknown[];
  let position: number | null = null;
  let slice: number | null = null;
  let sort: unknown = undefined;
  if (isPlainObject(e.arg) && '$each' in e.arg) {
    for (const k of Object.keys(e.arg)) {
      if (!['$each', '$slice', '$sort', '$position'].includes(k)) throw badValue(`Unrecognized clause in $push: ${k}`);
    }
    const each = e.arg.$each;
    if (!isArray(each))
      throw badValue(`The argument to $each in $push must be an array but it was of type: ${bsonTypeName(each)}`);
    items = each;
    if ('$position' in e.arg) {
      const p = e.arg.$position;
      if (!isNumber(p) || !Number.isInteger(toDouble(p)))
        throw badValue(`The value for $position must be an integer value, not of type: ${bsonTypeName(p)}`);
      position = toDouble(p);
    }
    if ('$slice' in e.arg) {
      const s = e.arg.$slice;
      if (!isNumber(s) || !Number.isInteger(toDouble(s)))
        throw badValue(`The value for $slice must be an integer value but was given type: ${bsonTypeName(s)}`);
      slice = toDouble(s);
    }
    if ('$sort' in e.arg) sort = e.arg.$sort;
  } else items = [e.arg];
  const found = arrayTarget(w, e, true, (t) =>
    badValue(
      `The field '${e.path}' must be an array but is of type ${bsonTypeName(t.value)} in document ${idOf(w.original)}`,
    ),
  ) as { t: Target; arr: unknown[] | null };
  const before = found.arr ?? [];
  let arr = [...before];
  const at =
    position === null ? arr.length : position < 0 ? Math.max(0, arr.length + position) : Math.min(position, arr.length);
  arr.splice(at, 0, ...items);
  if (sort !== undefined) sortElements(arr, sort);
  if (slice !== null) arr = slice >= 0 ? arr.slice(0, slice) : arr.slice(Math.max(0, arr.length + slice));
  if (found.arr && valuesIdentical(found.arr, arr)) return;
  setChild(found.t.parent, found.t.key, arr);
  w.markOwned(arr);
  const appendOnly = found.arr !== null && at === before.length && sort === undefined && slice === null;
  if (appendOnly) {
    for (let i = before.length; i < arr.length; i++) w.logUpdated(`${e.path}.${i}`);
  } else w.logUpdated(found.t.logPath);
}

function applyAddToSet(w: Writer, e: Entry): void {
  let items: unknown[];
  if (isPlainObject(e.arg) && '$each' in e.arg) {
    const each = e.arg.$each;
    if (!isArray(each))
      throw typeMismatch(
        `The argument to $each in $addToSet must be an array but it was of type ${bsonTypeName(each)}`,
      );
    items = each;
  } else items = [e.arg];
  const found = arrayTarget(w, e, true, (t) =>
    badValue(
      `Cannot apply $addToSet to non-array field. Field named '${t.key}' has non-array type ${bsonTypeName(t.value)}`,
    ),
  ) as { t: Target; arr: unknown[] | null };
  const arr = [...(found.arr ?? [])];
  for (const item of items) if (!arr.some((x) => valuesEqual(x, item))) arr.push(item);
  if (found.arr && arr.length === found.arr.length) return;
  setChild(found.t.parent, found.t.key, arr);
  w.markOwned(arr);
  w.logUpdated(found.t.logPath);
}

function applyPop(w: Writer, e: Entry): void {
  if (!isNumber(e.arg)) throw failedToParse(`Expected a number in: ${e.path}: ${show(e.arg)}`);
  const d = toDouble(e.arg);
  if (d !== 1 && d !== -1) throw failedToParse(`$pop expects 1 or -1, found: ${show(e.arg)}`);
  const found = arrayTarget(w, e, false, (t) =>
    typeMismatch(`Path '${e.path}' contains an element of non-array type '${bsonTypeName(t.value)}'`),
  );
  if (!found?.arr || found.arr.length === 0) return;
  const arr = d === 1 ? found.arr.slice(0, -1) : found.arr.slice(1);
  setChild(found.t.parent, found.t.key, arr);
  w.logUpdated(e.path);
}

function pullMatcher(arg: unknown): (el: unknown) => boolean {
  if (isPlainObject(arg)) {
    const first = Object.keys(arg)[0];
    if (first?.startsWith('$') && !['$and', '$or', '$nor', '$expr'].includes(first)) {
      const pred = compileFilter({ v: arg });
      return (el) => pred({ v: el });
    }
    const pred = compileFilter(arg);
    return (el) => isPlainObject(el) && pred(el);
  }
  if (
    arg instanceof RegExp ||
    (typeof arg === 'object' && arg !== null && (arg as { _bsontype?: string })._bsontype === 'BSONRegExp')
  ) {
    const pred = compileFilter({ v: arg });
    return (el) => pred({ v: el });
  }
  return (el) => valuesEqual(el, arg);
}

function applyPull(w: Writer, e: Entry): void {
  let matches: (el: unknown) => boolean;
  if (e.op === '$pullAll') {
    if (!isArray(e.arg)) throw badValue(`$pullAll requires an array argument but was given a ${bsonTypeName(e.arg)}`);
    const list = e.arg;
    matches = (el) => list.some((x) => valuesEqual(x, el));
  } else matches = pullMatcher(e.arg);
  const found = arrayTarget(w, e, false, () => badValue('Cannot apply $pull to a non-array value'));
  if (!found?.arr) return;
  const arr = found.arr.filter((el) => !matches(el));
  if (arr.length === found.arr.length) return;
  setChild(found.t.parent, found.t.key, arr);
  w.logUpdated(e.path);
}

function touchesId(e: Entry): boolean {
  if (e.parts[0] === '_id') return true;
  return e.op === '$rename' && typeof e.arg === 'string' && (e.arg === '_id' || e.arg.startsWith('_id.'));
}

function applyOperators(doc: Doc, update: Doc, opts: UpdateOptions): UpdateResult {
  let entries = parseEntries(update);
  const filters = opts.arrayFilters ? parseArrayFilters(opts.arrayFilters) : null;
  if (filters || entries.some(isPositional)) {
    checkIdentifiers(update, entries, filters);
    entries = expandPositional(doc, entries, filters, opts);
  }
  checkConflicts(entries);
  entries.sort((a, b) => comparePathParts(a.parts, b.parts));
  const w = new Writer(doc, doc);
  const hadId = '_id' in doc;
  for (const e of entries) {
    if (hadId && touchesId(e) && (e.op === '$unset' || e.op === '$rename')) throw immutableId();
    switch (e.op) {
      case '$set':
        applySet(w, e);
        break;
      case '$setOnInsert':
        if (opts.isUpsertInsert) applySet(w, e);
        break;
      case '$unset':
        applyUnset(w, e);
        break;
      case '$inc':
      case '$mul':
        applyArith(w, e);
        break;
      case '$min':
      case '$max':
        applyMinMax(w, e);
        break;
      case '$currentDate':
        applyCurrentDate(w, e, opts);
        break;
      case '$rename':
        applyRename(w, e);
        break;
      case '$push':
        applyPush(w, e);
        break;
      case '$addToSet':
        applyAddToSet(w, e);
        break;
      case '$pop':
        applyPop(w, e);
        break;
      case '$pull':
      case '$pullAll':
        applyPull(w, e);
        break;
    }
  }
  const out = w.root;
  if (hadId && !valuesEqual(out._id, doc._id)) throw immutableId();
  if (!hadId && '_id' in out) {
    // An upsert may set _id; MongoDB keeps it as the first field.
    const { _id, ...rest } = out;
    const reordered: Doc = { _id, ...rest };
    return finish(doc, reordered, w);
  }
  return finish(doc, out, w);
}

function finish(before: Doc, after: Doc, w: Writer): UpdateResult {
  const updatedFields: Doc = {};
  for (const p of w.updated) updatedFields[p] = valueAtPath(after, splitPath(p));
  const modified = w.updated.length > 0 || w.removed.length > 0;
  if (!modified) return { doc: before, modified: false, updateDescription: emptyDescription() };
  return {
    doc: after,
    modified: true,
    updateDescription: { updatedFields, removedFields: [...w.removed], truncatedArrays: [] },
  };
}

// ---------------------------------------------------------------------------------------------
// Positional updates: `a.$` (the element the query matched), `a.$[]` (every element), `a.$[id]` (arrayFilters)

function isPositional(e: Entry): boolean {
  return e.parts.some((p) => p === '$' || p.startsWith('$['));
}

interface ArrayFilter {
  matches: (element: unknown) => boolean;
}

const IDENTIFIER = /^[a-z][a-zA-Z0-9]*$/;

/** The top-level field names an array filter constrains, looking inside `$and`/`$or`/`$nor`. */
function filterIdentifiers(filter: Doc, out: Set<string>): void {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      if (isArray(value)) for (const sub of value) if (isPlainObject(sub)) filterIdentifiers(sub, out);
    } else if (!key.startsWith('$')) out.add(splitPath(key)[0] as string);
  }
}

function parseArrayFilters(raw: Doc[]): Map<string, ArrayFilter> {
  const out = new Map<string, ArrayFilter>();
  for (const filter of raw) {
    const ids = new Set<string>();
    filterIdentifiers(filter, ids);
    const [id, other] = [...ids];
    if (id === undefined) {
      throw failedToParse(
        'Error parsing array filter :: caused by :: Cannot use an expression without a top-level field name in arrayFilters',
      );
    }
    if (other !== undefined) {
      throw failedToParse(
        `Error parsing array filter :: caused by :: Each array filter must use a single top-level field name, found '${other}' and '${id}'`,
      );
    }
    if (!IDENTIFIER.test(id)) {
      throw badValue(
        `Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${id}'`,
      );
    }
    if (out.has(id)) throw failedToParse(`Found multiple array filters with the same top-level field name ${id}`);
    const pred = compileFilter(filter);
    out.set(id, { matches: (element) => pred({ [id]: element }) });
  }
  return out;
}

function expandPath(
  value: unknown,
  e: Entry,
  i: number,
  prefix: string[],
  ctx: { doc: Doc; query: Doc | undefined; filters: Map<string, ArrayFilter> | null; collation: Collation | null },
  out: string[][],
): void {
  if (i === e.parts.length) {
    out.push(prefix);
    return;
  }
  const part = e.parts[i] as string;
  if (part === '$') {
    const pos = positionalMatch(ctx.query, ctx.doc, prefix, ctx.collation);
    if (pos === null) throw badValue('The positional operator did not find the match needed from the query.');
    expandPath((value as unknown[])[pos], e, i + 1, [...prefix, String(pos)], ctx, out);
    return;
  }
  if (part.startsWith('$[')) {
    if (value === undefined) {
      throw badValue(`The path '${prefix.join('.')}' must exist in the document in order to apply array updates.`);
    }
    if (!isArray(value)) {
      throw badValue(
        `Cannot apply array updates to non-array element ${prefix[prefix.length - 1] ?? ''}: ${show(value)}`,
      );
    }
    const id = part.slice(2, -1);
    const filter = id === '' ? null : (ctx.filters?.get(id) ?? null);
    value.forEach((el, idx) => {
      if (filter && !filter.matches(el)) return;
      expandPath(el, e, i + 1, [...prefix, String(idx)], ctx, out);
    });
    return;
  }
  let child: unknown;
  if (isArray(value)) child = isArrayIndex(part) ? value[Number(part)] : undefined;
  else if (isPlainObject(value)) child = value[part];
  expandPath(child, e, i + 1, [...prefix, part], ctx, out);
}

/** Replaces positional entries by one entry per concrete path they designate in `doc`. */
function expandPositional(
  doc: Doc,
  entries: Entry[],
  filters: Map<string, ArrayFilter> | null,
  opts: UpdateOptions,
): Entry[] {
  const out: Entry[] = [];
  for (const e of entries) {
    if (e.op === '$rename' && typeof e.arg === 'string' && /(^|\.)\$/.test(e.arg)) {
      throw badValue(`The destination field for $rename may not be dynamic: ${e.arg}`);
    }
    if (!isPositional(e)) {
      out.push(e);
      continue;
    }
    if (e.op === '$rename') throw badValue(`The source field for $rename may not be dynamic: ${e.path}`);
    if (e.parts.filter((p) => p === '$').length > 1) {
      throw badValue(`Too many positional (i.e. '$') elements found in path '${e.path}'`);
    }
    const concrete: string[][] = [];
    expandPath(doc, e, 0, [], { doc, query: opts.query, filters, collation: opts.collation ?? null }, concrete);
    for (const parts of concrete) out.push({ op: e.op, path: parts.join('.'), parts, arg: e.arg });
  }
  return out;
}

/** Checks that every `$[id]` has a filter and every filter is used, as mongod does when it parses the update. */
function checkIdentifiers(update: Doc, entries: Entry[], filters: Map<string, ArrayFilter> | null): void {
  const used = new Set<string>();
  for (const e of entries) {
    for (const p of e.parts) {
      if (!p.startsWith('$[')) continue;
      if (!p.endsWith(']')) throw badValue(`Unknown positional operator '${p}' in path '${e.path}'`);
      const id = p.slice(2, -1);
      if (id === '') continue;
      if (!filters?.has(id)) throw badValue(`No array filter found for identifier '${id}' in path '${e.path}'`);
      used.add(id);
    }
  }
  if (filters) {
    for (const id of filters.keys()) {
      if (!used.has(id)) {
        throw failedToParse(`The array filter for identifier '${id}' was not used in the update ${show(update)}`);
      }
    }
  }
}

/**
 * Validates an update's positional paths against its arrayFilters without a document, so a statement that matches
 * nothing still fails as mongod's parser makes it fail (unknown identifier 2, unused filter 9, bad filter 9/2).
 */
export function validateArrayFilters(update: Doc | Doc[], arrayFilters: Doc[]): void {
  if (isArray(update)) throw failedToParse('arrayFilters may not be specified for pipeline-syle updates');
  if (isReplacement(update)) return;
  checkIdentifiers(update, parseEntries(update), parseArrayFilters(arrayFilters));
}

// ---------------------------------------------------------------------------------------------
// Document diffs (pipeline updates)

function diffInto(before: Doc, after: Doc, prefix: string, out: UpdateDescription): void {
  const beforeKeys = Object.keys(before);
  const afterKeys = Object.keys(after);
  for (const k of beforeKeys) if (!(k in after)) out.removedFields.push(prefix + k);
  // Fields kept but reordered cannot be expressed as in-place updates; MongoDB reports them as updated.
  const common = afterKeys.filter((k) => k in before);
  const commonBefore = beforeKeys.filter((k) => k in after);
  const reordered = new Set<string>();
  for (let i = 0; i < common.length; i++) if (common[i] !== commonBefore[i]) reordered.add(common[i] as string);
  for (const k of afterKeys) {
    const path = prefix + k;
    const a = after[k];
    if (!(k in before) || reordered.has(k)) {
      out.updatedFields[path] = a;
      continue;
    }
    const b = before[k];
    if (valuesIdentical(a, b)) continue;
    if (isPlainObject(a) && isPlainObject(b)) diffInto(b, a, `${path}.`, out);
    else if (isArray(a) && isArray(b)) diffArray(b, a, path, out);
    else out.updatedFields[path] = a;
  }
}

function diffArray(before: unknown[], after: unknown[], path: string, out: UpdateDescription): void {
  if (after.length < before.length) out.truncatedArrays.push({ field: path, newSize: after.length });
  for (let i = 0; i < after.length; i++) {
    const a = after[i];
    const b = before[i];
    if (i < before.length && valuesIdentical(a, b)) continue;
    if (i < before.length && isPlainObject(a) && isPlainObject(b)) diffInto(b, a, `${path}.${i}.`, out);
    else out.updatedFields[`${path}.${i}`] = a;
  }
}

/** The change-stream update description between two versions of a document (as MongoDB's document diff). */
export function diffDocuments(before: Doc, after: Doc): UpdateDescription {
  const out = emptyDescription();
  diffInto(before, after, '', out);
  return out;
}
