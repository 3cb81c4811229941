import { BSONRegExp } from 'bson';
import { badValue, MongoServerError, type Doc } from './errors.js';
import { withCollation, type Collation } from './collation.js';
import { evaluateExpression, isTruthy } from './expression.js';
import { compileTextQuery, type TextIndex, type TextScores } from './text.js';
import { splitPath, visitPath } from './path.js';
import {
  bsonTypeName,
  canonicalKey,
  compareValues,
  isNaNValue,
  isNumber,
  isPlainObject,
  numKind,
  Rank,
  rankOf,
  toBigIntExact,
  toDouble,
  TYPE_NUMBERS,
  isArray,
} from './values.js';

type DocPred = (doc: Doc) => boolean;
type ValuePred = (v: unknown) => boolean;

const alwaysTrue: DocPred = () => true;

/**
 * Compiles a MongoDB query filter into a predicate, once, so evaluating it per document is cheap.
 * Throws MongoServerError (code 2 BadValue, ...) for malformed filters, as the server does.
 */
export function compileFilter(filter: Doc, options?: FilterOptions): (doc: Doc) => boolean {
  if (!isPlainObject(filter)) throw badValue('query filter must be an object');
  if (!options?.collation && !options?.vars && !options?.text) return compileDocument(filter);
  const previous = compiling;
  compiling = { collation: options.collation ?? null, vars: options.vars, text: options.text, textSeen: false };
  let pred: DocPred;
  try {
    pred = compileDocument(filter);
  } finally {
    compiling = previous;
  }
  const collation = options.collation ?? null;
  return collation ? (doc) => withCollation(collation, () => pred(doc)) : pred;
}

/** Options that change what a filter means. */
export interface FilterOptions {
  /** String comparison for equality, ranges, `$in` and `$expr` (null: simple binary order). */
  collation?: Collation | null;
  /** `let` variables visible to `$expr` as `$$name`. */
  vars?: Record<string, unknown> | undefined;
  /** The collection's text index and where to record scores, for `$text`. */
  text?: { index: TextIndex; scores: TextScores } | undefined;
}

/** The options of the compileFilter call in progress (compilation is synchronous). */
let compiling: {
  collation: Collation | null;
  vars: Record<string, unknown> | undefined;
  text?: { index: TextIndex; scores: TextScores } | undefined;
  textSeen?: boolean;
} = {
  collation: null,
  vars: undefined,
};

function compileDocument(filter: Doc): DocPred {
  const preds: DocPred[] = [];
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    if (key.startsWith('$')) {
      const pred = compileTopLevelOperator(key, value);
      if (pred) preds.push(pred);
    } else {
      preds.push(compileFieldCondition(key, value));
    }
  }
  return allOf(preds);
}

function allOf(preds: DocPred[]): DocPred {
  if (preds.length === 0) return alwaysTrue;
  if (preds.length === 1) return preds[0] as DocPred;
  if (preds.length === 2) {
    const [a, b] = preds as [DocPred, DocPred];
    return (doc) => a(doc) && b(doc);
  }
  return (doc) => {
    for (const p of preds) if (!p(doc)) return false;
    return true;
  };
}

function compileLogicalList(op: string, value: unknown): DocPred[] {
  if (!isArray(value)) throw badValue(`${op} must be an array`);
  if (value.length === 0) throw badValue('$and/$or/$nor must be a nonempty array');
  return value.map((entry) => {
    if (!isPlainObject(entry)) throw badValue('$or/$and/$nor entries need to be full objects');
    return compileDocument(entry);
  });
}

function compileTopLevelOperator(op: string, value: unknown): DocPred | null {
  switch (op) {
    case '$and':
      return allOf(compileLogicalList(op, value));
    case '$or': {
      const preds = compileLogicalList(op, value);
      return (doc) => {
        for (const p of preds) if (p(doc)) return true;
        return false;
      };
    }
    case '$nor': {
      const preds = compileLogicalList(op, value);
      return (doc) => {
        for (const p of preds) if (p(doc)) return false;
        return true;
      };
    }
    case '$expr': {
      // Validate operator names eagerly so a bad $expr fails at parse time like on the server.
      evaluateExpression(value, {}, { validateOnly: true });
      const vars = compiling.vars;
      if (vars) return (doc) => isTruthy(evaluateExpression(value, doc, { vars }));
      return (doc) => isTruthy(evaluateExpression(value, doc));
    }
    case '$comment':
      return null;
    case '$alwaysTrue':
      return alwaysTrue;
    case '$alwaysFalse':
      return () => false;
    case '$where':
      throw new MongoServerError(2, 'BadValue', '$where is not supported by this engine');
    case '$text': {
      const text = compiling.text;
      if (!text) throw new MongoServerError(27, 'IndexNotFound', 'text index required for $text query');
      if (compiling.textSeen) throw badValue('Too many text expressions');
      compiling.textSeen = true;
      return compileTextQuery(value, text.index, text.scores);
    }
    case '$jsonSchema':
    case '$sampleRate':
      throw new MongoServerError(115, 'CommandNotSupported', `${op} is not supported by this engine`);
    default:
      throw badValue(
        `unknown top level operator: ${op}. If you have a field name that starts with a '$' symbol, consider using $getField or $setField.`,
      );
  }
}

function isRegexValue(v: unknown): v is RegExp | BSONRegExp {
  return (
    v instanceof RegExp ||
    (typeof v === 'object' && v !== null && (v as { _bsontype?: string })._bsontype === 'BSONRegExp')
  );
}

/** True when an object is an operator expression ({ $gt: 1 }) rather than a literal document. */
function isOperatorObject(v: unknown): v is Doc {
  if (!isPlainObject(v)) return false;
  for (const k in v) return k.startsWith('$');
  return false;
}

/**
 * Builds a document predicate from a per-value predicate over a path. `expand`: a leaf array is tested element by
 * element and as a whole (equality, comparisons, $type...); otherwise only the value itself ($size, $elemMatch).
 * A path that reaches nothing is tested as missing (`undefined`).
 */
function pathPred(parts: readonly string[], leaf: ValuePred, expand: boolean): DocPred {
  if (parts.length === 1 && expand) {
    // Fast path for top-level fields, the common case.
    const field = parts[0] as string;
    return (doc) => {
      const v = doc[field];
      if (isArray(v)) {
        if (leaf(v)) return true;
        for (const el of v) if (leaf(el)) return true;
        return false;
      }
      return leaf(v);
    };
  }
  return (doc) => valuePathPred(doc, parts, leaf, expand);
}

function valuePathPred(root: unknown, parts: readonly string[], leaf: ValuePred, expand: boolean): boolean {
  const seen = { reached: false };
  const hit = visitPath(root, parts, 0, (v) => {
    seen.reached = true;
    if (expand && isArray(v)) {
      if (leaf(v)) return true;
      for (const el of v) if (leaf(el)) return true;
      return false;
    }
    return leaf(v);
  });
  if (hit) return true;
  return seen.reached ? false : leaf(undefined);
}

function compileFieldCondition(path: string, cond: unknown): DocPred {
  if (path === '') throw badValue('empty field name in query');
  const parts = splitPath(path);
  if (isRegexValue(cond)) return pathPred(parts, regexLeaf(cond), true);
  if (isOperatorObject(cond)) return allOf(compileOperators(parts, cond));
  return pathPred(parts, equalityLeaf(cond), true);
}

function compileOperators(parts: readonly string[], ops: Doc): DocPred[] {
  const preds: DocPred[] = [];
  const keys = Object.keys(ops);
  let regexHandled = false;
  for (const op of keys) {
    const arg = ops[op];
    switch (op) {
      case '$regex':
      case '$options': {
        if (regexHandled) break;
        regexHandled = true;
        if (!('$regex' in ops)) throw badValue('$options needs a $regex');
        preds.push(pathPred(parts, regexLeaf(buildRegex(ops.$regex, ops.$options)), true));
        break;
      }
      case '$not': {
        let inner: DocPred;
        if (isRegexValue(arg)) inner = pathPred(parts, regexLeaf(arg), true);
        else if (isPlainObject(arg)) {
          if (Object.keys(arg).length === 0) throw badValue('$not cannot be empty');
          if (!isOperatorObject(arg)) throw badValue(`unknown operator: ${Object.keys(arg)[0] ?? ''}`);
          inner = allOf(compileOperators(parts, arg));
        } else throw badValue('$not needs a regex or a document');
        preds.push((doc) => !inner(doc));
        break;
      }
      default:
        preds.push(compileOperator(parts, op, arg));
    }
  }
  return preds;
}

function compileOperator(parts: readonly string[], op: string, arg: unknown): DocPred {
  switch (op) {
    case '$eq':
      return pathPred(parts, equalityLeaf(arg), true);
    case '$ne': {
      if (isRegexValue(arg)) throw badValue("Can't have regex as arg to $ne.");
      const eq = pathPred(parts, equalityLeaf(arg), true);
      return (doc) => !eq(doc);
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return pathPred(parts, comparisonLeaf(op, arg), true);
    case '$in':
      if (!isArray(arg)) throw badValue('$in needs an array');
      return pathPred(parts, inLeaf(arg), true);
    case '$nin': {
      if (!isArray(arg)) throw badValue('$nin needs an array');
      const inPred = pathPred(parts, inLeaf(arg), true);
      return (doc) => !inPred(doc);
    }
    case '$exists': {
      const exists = pathPred(parts, (v) => v !== undefined, false);
      return isTruthy(arg) ? exists : (doc) => !exists(doc);
    }
    case '$type':
      return pathPred(parts, typeLeaf(arg), true);
    case '$size': {
      const n = sizeArgument(arg);
      return pathPred(parts, (v) => isArray(v) && v.length === n, false);
    }
    case '$all':
      return compileAll(parts, arg);
    case '$mod':
      return pathPred(parts, modLeaf(arg), true);
    case '$elemMatch':
      return pathPred(parts, elemMatchLeaf(arg), false);
    case '$comment':
      return alwaysTrue;
    case '$near':
    case '$nearSphere':
    case '$geoWithin':
    case '$geoIntersects':
    case '$within':
    case '$bitsAllSet':
    case '$bitsAllClear':
    case '$bitsAnySet':
    case '$bitsAnyClear':
    case '$jsonSchema':
      throw new MongoServerError(115, 'CommandNotSupported', `${op} is not supported by this engine`);
    default:
      throw badValue(`unknown operator: ${op}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Leaf predicates

function equalityLeaf(q: unknown): ValuePred {
  const rq = rankOf(q);
  if (rq === Rank.null) return (v) => v === undefined || v === null;
  switch (typeof q) {
    case 'string':
      if (compiling.collation) return (v) => v === q || (rankOf(v) === Rank.string && compareValues(v, q) === 0);
      return (v) =>
        v === q || (typeof v === 'object' && v !== null && rankOf(v) === Rank.string && compareValues(v, q) === 0);
    case 'boolean':
      return (v) => v === q;
    default:
      return (v) => v !== undefined && rankOf(v) === rq && compareValues(v, q) === 0;
  }
}

function comparisonLeaf(op: '$gt' | '$gte' | '$lt' | '$lte', q: unknown): ValuePred {
  const test =
    op === '$gt'
      ? (c: number) => c > 0
      : op === '$gte'
        ? (c: number) => c >= 0
        : op === '$lt'
          ? (c: number) => c < 0
          : (c: number) => c <= 0;
  const rq = rankOf(q);
  if (rq === Rank.minKey || rq === Rank.maxKey) {
    // MinKey/MaxKey bound every type, so no type bracketing applies.
    return (v) => test(compareValues(v === undefined ? null : v, q));
  }
  if (rq === Rank.null) {
    // Only null (and missing) is comparable with null; it is equal, never greater or less.
    const inclusive = op === '$gte' || op === '$lte';
    return (v) => inclusive && (v === undefined || v === null);
  }
  const qIsNaN = rq === Rank.number && isNaNValue(q);
  const inclusive = op === '$gte' || op === '$lte';
  return (v) => {
    if (v === undefined || rankOf(v) !== rq) return false;
    if (rq === Rank.number) {
      const vIsNaN = isNaNValue(v);
      // NaN equals NaN and is otherwise neither greater nor less than any number.
      if (vIsNaN || qIsNaN) return inclusive && vIsNaN && qIsNaN;
    }
    return test(compareValues(v, q));
  };
}

function inLeaf(list: unknown[]): ValuePred {
  const regexes: ValuePred[] = [];
  const values: unknown[] = [];
  for (const item of list) {
    if (isRegexValue(item)) regexes.push(regexLeaf(item));
    else if (isOperatorObject(item)) throw badValue('cannot nest $ under $in');
    else values.push(item);
  }
  const matchesNull = values.some((v) => v === null || v === undefined);
  let valuePred: ValuePred;
  if (values.length > 8 && !compiling.collation) {
    // Large lists: one canonical key per candidate instead of comparing with every entry.
    const keys = new Set(values.map(canonicalKey));
    valuePred = (v) => (v === undefined ? matchesNull : keys.has(canonicalKey(v)));
  } else {
    const leaves = values.map(equalityLeaf);
    valuePred = (v) => {
      for (const l of leaves) if (l(v)) return true;
      return false;
    };
  }
  if (regexes.length === 0) return valuePred;
  return (v) => {
    if (valuePred(v)) return true;
    for (const r of regexes) if (r(v)) return true;
    return false;
  };
}

const JS_REGEX_FLAGS = new Set(['i', 'm', 's', 'u']);

/** Strips whitespace and #-comments for the PCRE `x` (extended) flag, which JS lacks. */
function stripExtended(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) {
      out += c + (pattern[i + 1] as string);
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      continue;
    }
    if (c === '#') {
      while (i < pattern.length && pattern[i] !== '\n') i++;
      continue;
    }
    if (/\s/.test(c)) continue;
    out += c;
  }
  return out;
}

/** Builds a JS RegExp from a MongoDB pattern and options string. */
export function toJsRegExp(pattern: string, options: string): RegExp {
  let flags = '';
  let source = pattern;
  for (const f of options) {
    if (f === 'x') source = stripExtended(source);
    else if (JS_REGEX_FLAGS.has(f)) {
      if (!flags.includes(f)) flags += f;
    } else throw badValue(`invalid flag in regex options: ${f}`);
  }
  // PCRE's inline-flag prefix (?i) is common in MongoDB queries; JS only accepts it since Node 23.
  const inline = /^\(\?([imsx]+)\)/.exec(source);
  if (inline) {
    source = source.slice(inline[0].length);
    for (const f of inline[1] ?? '') {
      if (f === 'x') source = stripExtended(source);
      else if (!flags.includes(f)) flags += f;
    }
  }
  try {
    return new RegExp(source, flags);
  } catch (e) {
    throw new MongoServerError(51091, 'Location51091', `Regular expression is invalid: ${(e as Error).message}`);
  }
}

function buildRegex(regex: unknown, options: unknown): RegExp | BSONRegExp {
  if (options !== undefined && typeof options !== 'string') throw badValue('$options has to be a string');
  if (typeof regex === 'string') return new BSONRegExp(regex, options ?? '');
  if (isRegexValue(regex)) {
    if (options === undefined || options === '') return regex;
    const pattern = regex instanceof RegExp ? regex.source : regex.pattern;
    const own = regex instanceof RegExp ? regex.flags : regex.options;
    if (own !== '') throw badValue('options set in both $regex and $options');
    return new BSONRegExp(pattern, options);
  }
  throw badValue('$regex has to be a string');
}

function regexLeaf(r: RegExp | BSONRegExp): ValuePred {
  const pattern = r instanceof RegExp ? r.source : r.pattern;
  const options = r instanceof RegExp ? r.flags.replace(/[gy]/g, '') : r.options;
  const re = toJsRegExp(pattern, options);
  return (v) => {
    if (typeof v === 'string') return re.test(v);
    if (typeof v !== 'object' || v === null) return false;
    const rank = rankOf(v);
    if (rank === Rank.string) return re.test(String((v as { value: unknown }).value));
    if (rank === Rank.regex) {
      const p = v instanceof RegExp ? v.source : (v as BSONRegExp).pattern;
      const o = v instanceof RegExp ? v.flags : (v as BSONRegExp).options;
      return p === pattern && o === options;
    }
    return false;
  };
}

function typeLeaf(arg: unknown): ValuePred {
  const list = isArray(arg) ? arg : [arg];
  if (isArray(arg) && arg.length === 0) throw badValue('$type must match at least one type');
  const names = new Set<string>();
  for (const t of list) {
    if (typeof t === 'string') {
      if (t !== 'number' && !(t in TYPE_NUMBERS)) throw badValue(`Unknown type name alias: ${t}`);
      names.add(t);
    } else if (isNumber(t)) {
      const n = toDouble(t);
      const name = Object.keys(TYPE_NUMBERS).find((k) => TYPE_NUMBERS[k] === n);
      if (name === undefined || !Number.isInteger(n)) throw badValue(`Invalid numerical type code: ${n}`);
      names.add(name);
    } else throw badValue(`type must be represented as a number or a string`);
  }
  const matchNumber = names.has('number');
  return (v) => {
    if (v === undefined) return false;
    const name = bsonTypeName(v);
    return names.has(name) || (matchNumber && numKind(v) !== null);
  };
}

function sizeArgument(arg: unknown): number {
  if (!isNumber(arg)) throw badValue('$size needs a number');
  const n = toDouble(arg);
  if (!Number.isInteger(n)) throw badValue('$size must be a whole number');
  if (n < 0) throw badValue('$size may not be negative');
  return n;
}

function modLeaf(arg: unknown): ValuePred {
  if (!isArray(arg)) throw badValue('malformed mod, needs to be an array');
  if (arg.length < 2) throw badValue('malformed mod, not enough elements');
  if (arg.length > 2) throw badValue('malformed mod, too many elements');
  const [d, r] = arg as [unknown, unknown];
  if (!isNumber(d)) throw badValue('malformed mod, divisor not a number');
  if (!isNumber(r)) throw badValue('malformed mod, remainder not a number');
  const dv = toDouble(d);
  const rv = toDouble(r);
  if (!Number.isFinite(dv) || !Number.isFinite(rv))
    throw badValue('malformed mod, divisor value is invalid :: caused by :: ');
  const divisor = BigInt(Math.trunc(dv));
  const remainder = BigInt(Math.trunc(rv));
  if (divisor === 0n) throw badValue('divisor cannot be 0');
  return (v) => {
    if (v === undefined || numKind(v) === null) return false;
    let n = toBigIntExact(v);
    if (n === null) {
      const x = toDouble(v);
      if (!Number.isFinite(x)) return false;
      n = BigInt(Math.trunc(x));
    }
    return n % divisor === remainder;
  };
}

function elemMatchLeaf(arg: unknown): ValuePred {
  if (!isPlainObject(arg)) throw badValue('$elemMatch needs an Object');
  const first = Object.keys(arg)[0];
  const valueForm =
    first !== undefined && first.startsWith('$') && !['$and', '$or', '$nor', '$expr', '$where'].includes(first);
  if (valueForm) {
    const preds = compileOperators([], arg);
    const elemPred = allOf(preds);
    return (v) => {
      if (!isArray(v)) return false;
      for (const el of v) if (elemPred(el as Doc)) return true;
      return false;
    };
  }
  const sub = compileDocument(arg);
  return (v) => {
    if (!isArray(v)) return false;
    for (const el of v) if ((isPlainObject(el) || isArray(el)) && sub(el as Doc)) return true;
    return false;
  };
}

function compileAll(parts: readonly string[], arg: unknown): DocPred {
  if (!isArray(arg)) throw badValue('$all needs an array');
  if (arg.length === 0) return () => false;
  const preds: DocPred[] = [];
  const elemMatches = arg.filter((x) => isPlainObject(x) && '$elemMatch' in x).length;
  if (elemMatches > 0 && elemMatches !== arg.length) throw badValue('$all/$elemMatch has to be consistent');
  for (const item of arg) {
    if (elemMatches > 0) preds.push(pathPred(parts, elemMatchLeaf((item as Doc).$elemMatch), false));
    else if (isRegexValue(item)) preds.push(pathPred(parts, regexLeaf(item), true));
    else if (isOperatorObject(item)) throw badValue('no $ expressions in $all');
    else preds.push(pathPred(parts, equalityLeaf(item), true));
  }
  return allOf(preds);
}

// ---------------------------------------------------------------------------------------------
// Upsert seeds and index bounds

function equalityOf(cond: unknown): { ok: true; value: unknown } | { ok: false } {
  if (isRegexValue(cond)) return { ok: false };
  if (!isOperatorObject(cond)) return { ok: true, value: cond };
  if ('$eq' in cond) return { ok: true, value: cond.$eq };
  const inList = cond.$in;
  if (isArray(inList) && inList.length === 1 && !isRegexValue(inList[0])) return { ok: true, value: inList[0] };
  return { ok: false };
}

function collectEqualities(filter: Doc, out: [string, unknown][]): void {
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    if (key === '$and' && isArray(value)) {
      for (const entry of value) if (isPlainObject(entry)) collectEqualities(entry, out);
    } else if (key === '$or' && isArray(value) && value.length === 1 && isPlainObject(value[0])) {
      collectEqualities(value[0], out);
    } else if (!key.startsWith('$')) {
      const eq = equalityOf(value);
      if (eq.ok) out.push([key, eq.value]);
    }
  }
}

/** The document an upsert starts from: the filter's equality conditions (`{a: 1}`, `{$eq}`, one-element `$in`). */
export function upsertSeed(filter: Doc): Doc {
  const pairs: [string, unknown][] = [];
  collectEqualities(filter, pairs);
  const seed: Doc = {};
  for (const [path, value] of pairs) {
    const parts = splitPath(path);
    let target: Doc = seed;
    let ok = true;
    for (let i = 0; i < parts.length - 1; i++) {
      const p = parts[i] as string;
      const next = target[p];
      if (next === undefined) {
        const created: Doc = {};
        target[p] = created;
        target = created;
      } else if (isPlainObject(next)) target = next;
      else {
        ok = false;
        break;
      }
    }
    if (!ok)
      throw new MongoServerError(
        54,
        'NotSingleValueField',
        `cannot infer query fields to set, path '${path}' is matched twice`,
      );
    const last = parts[parts.length - 1] as string;
    if (last in target)
      throw new MongoServerError(
        54,
        'NotSingleValueField',
        `cannot infer query fields to set, path '${path}' is matched twice`,
      );
    target[last] = value;
  }
  return seed;
}

export interface Bound {
  value: unknown;
  inclusive: boolean;
}
/** One interval of an index's first key component; a missing side is open. */
export interface Interval {
  min?: Bound;
  max?: Bound;
}
/**
 * Bounds on one field: `eq` (a list of point values), or one range `min`..`max`, or (`ranges` set) the union of the
 * `eq` points and the `ranges` intervals. `ranges` come from regexes and are in binary (code point) string order, so
 * only an index without a collation may serve them; each interval must hold for one element of an array on its own,
 * so both of its sides apply on a multikey index too.
 */
export interface FieldBounds {
  eq?: unknown[];
  min?: Bound;
  max?: Bound;
  ranges?: Interval[];
}

/** Whether a value can serve as an index bound on its own (arrays and null match more than their own key). */
function boundable(v: unknown): boolean {
  const r = rankOf(v);
  return (
    v !== undefined &&
    r !== Rank.null &&
    r !== Rank.array &&
    r !== Rank.minKey &&
    r !== Rank.maxKey &&
    r !== Rank.regex &&
    !isNaNValue(v)
  );
}

/**
 * Whether an equality to `v` can be served by the point `v` in an index: also null, which matches a missing field
 * and a null, and an index stores null as the key of a document without the field (an empty array's key compares
 * equal to null too, which only adds candidates). Sparse and partial indexes refuse null points (`canServe`).
 */
function pointBoundable(v: unknown): boolean {
  return v === null || boundable(v);
}

/** The end of the string type in BSON order: the smallest document, which sorts after every string. */
const END_OF_STRINGS: Bound = Object.freeze({ value: Object.freeze({}), inclusive: false });

/**
 * The first string after every string that starts with `prefix`, in the engine's string order (code points, as
 * UTF-8 bytes compare): the prefix with its last code point incremented, dropping trailing U+10FFFF. A prefix of
 * only U+10FFFF has none, and the range runs to the end of the strings.
 */
function prefixEnd(prefix: string): Bound {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // U+D800-U+DFFF are not code points: the one after U+D7FF is U+E000.
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return { value: points.join('') + String.fromCodePoint(next), inclusive: false };
    }
  }
  return END_OF_STRINGS;
}

/** Metacharacters that end a regex's literal prefix. */
const REGEX_META = new Set(['\\', '^', '$', '.', '|', '?', '*', '+', '(', ')', '[', ']', '{', '}']);
/** Quantifiers that make the character before them optional, so it is not part of the prefix. */
const OPTIONAL_QUANTIFIERS = new Set(['?', '*', '{']);

/** `!` to `~` but letters, digits and `_`: the characters an escape makes literal in every regex dialect. */
function isAsciiPunctuation(c: string): boolean {
  const code = c.charCodeAt(0);
  const alphanumeric = (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
  return c.length === 1 && code >= 0x21 && code <= 0x7e && !alphanumeric && c !== '_';
}

/** Whether `pattern` has a `|` outside every group and character class: then `^` anchors only one alternative. */
function hasTopLevelAlternation(pattern: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === '|' && depth === 0) return true;
  }
  return false;
}

/**
 * The literal text every string a regex matches starts with, as mongod derives index bounds from it: the regex is
 * anchored with `^` at the start of the pattern, its flags keep `^` at the start of the string (no `i`, no `m`), and
 * the characters after `^` are literals (an escaped metacharacter such as `\.` is one) until the first
 * metacharacter; a literal followed by `?`, `*` or `{` is optional and ends the prefix without being part of it.
 * `x` strips whitespace and comments first, as the matcher does. Empty when anchored without a literal; null when
 * not anchored. (`\A` is not an anchor for this engine's matcher, so it is not one here either.)
 */
export function regexPrefix(pattern: string, options: string): string | null {
  if (options.includes('i') || options.includes('m')) return null;
  const source = options.includes('x') ? stripExtended(pattern) : pattern;
  if (!source.startsWith('^') || hasTopLevelAlternation(source)) return null;
  let prefix = '';
  let i = 1;
  while (i < source.length) {
    const c = source[i]!;
    let literal: string;
    let width: number;
    if (c === '\\') {
      const escaped = source[i + 1];
      // Only an escaped punctuation mark is itself; `\d`, `\b`, `\1`, `\u...` and the like are classes or codes.
      if (escaped === undefined || !isAsciiPunctuation(escaped)) break;
      literal = escaped;
      width = 2;
    } else if (REGEX_META.has(c)) break;
    else {
      // A whole code point: a quantifier after an astral character may apply to its second half only.
      literal = String.fromCodePoint(source.codePointAt(i)!);
      width = literal.length;
    }
    const next = source[i + width];
    if (next !== undefined && OPTIONAL_QUANTIFIERS.has(next)) break;
    prefix += literal;
    i += width;
    if (next === '+') break;
  }
  return prefix;
}

/**
 * The index intervals a regex's matches lie in: the strings starting with its literal prefix, and the regex itself
 * (a stored regex value equal to it matches too). Null when it has no literal prefix: a scan of the whole string
 * range would read about as much as the collection.
 */
function regexBounds(regex: RegExp | BSONRegExp): Interval[] | null {
  const pattern = regex instanceof RegExp ? regex.source : regex.pattern;
  const options = regex instanceof RegExp ? regex.flags.replace(/[gy]/g, '') : regex.options;
  const prefix = regexPrefix(pattern, options);
  if (prefix === null || prefix === '') return null;
  const self = { value: new BSONRegExp(pattern, options), inclusive: true };
  return [
    { min: { value: prefix, inclusive: true }, max: prefixEnd(prefix) },
    { min: self, max: self },
  ];
}

function conditionBounds(cond: unknown): FieldBounds | null {
  if (isRegexValue(cond)) {
    const ranges = regexBounds(cond);
    return ranges ? { ranges } : null;
  }
  if (!isOperatorObject(cond)) return pointBoundable(cond) ? { eq: [cond] } : null;
  if ('$eq' in cond) return pointBoundable(cond.$eq) ? { eq: [cond.$eq] } : null;
  if ('$in' in cond) return inBounds(cond.$in);
  if ('$regex' in cond) {
    let regex: RegExp | BSONRegExp;
    try {
      regex = buildRegex(cond.$regex, cond.$options);
    } catch {
      return null; // the matcher reports the malformed regex
    }
    const ranges = regexBounds(regex);
    return ranges ? { ranges } : null;
  }
  // A document without the field has the key null in a non-sparse index.
  if ('$exists' in cond && !isTruthy(cond.$exists)) return { eq: [null] };
  const out: FieldBounds = {};
  for (const [op, v] of Object.entries(cond)) {
    if (!boundable(v)) continue;
    if (op === '$gt' || op === '$gte') {
      if (!out.min || compareValues(v, out.min.value) > 0) out.min = { value: v, inclusive: op === '$gte' };
    } else if (op === '$lt' || op === '$lte') {
      if (!out.max || compareValues(v, out.max.value) < 0) out.max = { value: v, inclusive: op === '$lte' };
    }
  }
  if (out.min && out.max && rankOf(out.min.value) !== rankOf(out.max.value)) return { min: out.min };
  return out.min || out.max ? out : null;
}

/** `$in`: its values as points and its regexes as their intervals; null when any entry gives no bounds. */
function inBounds(list: unknown): FieldBounds | null {
  if (!isArray(list)) return null;
  const eq: unknown[] = [];
  const ranges: Interval[] = [];
  for (const item of list) {
    if (isRegexValue(item)) {
      const intervals = regexBounds(item);
      if (!intervals) return null;
      ranges.push(...intervals);
    } else if (pointBoundable(item)) eq.push(item);
    else return null;
  }
  return ranges.length > 0 ? { eq, ranges } : { eq };
}

function collectConditions(filter: Doc, field: string, out: unknown[]): void {
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    if (key === '$and' && isArray(value)) {
      for (const entry of value) if (isPlainObject(entry)) collectConditions(entry, field, out);
    } else if (key === field) out.push(value);
  }
}

/** What bounds cost on one index (its keys in them), or null when that index cannot serve them. */
export type BoundsCost = (bounds: FieldBounds) => number | null;

/**
 * Bounds on `field` implied by a filter, for index selection; null when the filter does not constrain it usably.
 * Bounds may be loose, never too tight. An array-valued (multikey) field can satisfy `$gt` and `$lt` with different
 * elements, so unless `options.multikey` is false only one side of a range is returned and conditions are not
 * intersected (a regex's interval keeps both sides: one element must match it whole). Range bounds stay within the
 * type of the bound value (MongoDB's type bracketing), which the caller may apply or ignore. Equality to arrays,
 * regexes without a literal prefix, `$ne`, `$not`, `$or` give no bounds. With `options.cost`, of several usable
 * conditions the one whose bounds cost least is kept.
 */
export function fieldBounds(
  filter: Doc,
  field: string,
  options: { multikey?: boolean; cost?: BoundsCost } = {},
): FieldBounds | null {
  const multikey = options.multikey ?? true;
  const conds: unknown[] = [];
  collectConditions(filter, field, conds);
  let best: FieldBounds | null = null;
  for (const cond of conds) {
    const b = conditionBounds(cond);
    if (!b) continue;
    if (multikey) {
      // A range keeps only its lower side (or upper if there is none).
      const usable = b.eq || b.ranges ? b : b.min ? { min: b.min } : b.max ? { max: b.max } : null;
      if (usable) best = cheaper(best, usable, options.cost);
      continue;
    }
    best = !best ? b : best.ranges || b.ranges ? cheaper(best, b, options.cost) : intersect(best, b);
  }
  return best;
}

/**
 * The better of two alternative bounds: the cheaper one when their cost is known (an unusable one never wins),
 * else points over intervals over one-sided ranges, and the shorter list of points. Ties keep `current`.
 */
function cheaper(current: FieldBounds | null, next: FieldBounds, cost: BoundsCost | undefined): FieldBounds {
  if (!current) return next;
  if (cost) {
    const a = cost(current);
    const b = cost(next);
    if (a === null) return next;
    return b !== null && b < a ? next : current;
  }
  const kind = (x: FieldBounds): number => (x.ranges ? 1 : x.eq ? 0 : 2);
  if (kind(next) !== kind(current)) return kind(next) < kind(current) ? next : current;
  return next.eq && current.eq && next.eq.length < current.eq.length ? next : current;
}

function intersect(a: FieldBounds, b: FieldBounds): FieldBounds {
  const min = pickBound(a.min, b.min, 1);
  const max = pickBound(a.max, b.max, -1);
  if (a.eq || b.eq) {
    let eq = a.eq ?? b.eq ?? [];
    if (a.eq && b.eq) {
      const other = b.eq;
      eq = a.eq.filter((x) => other.some((y) => compareValues(x, y) === 0));
    }
    eq = eq.filter((x) => withinBound(x, min, 1) && withinBound(x, max, -1));
    return { eq };
  }
  const out: FieldBounds = {};
  if (min) out.min = min;
  if (max) out.max = max;
  return out;
}

function pickBound(x: Bound | undefined, y: Bound | undefined, dir: 1 | -1): Bound | undefined {
  if (!x) return y;
  if (!y) return x;
  const c = compareValues(x.value, y.value) * dir;
  if (c !== 0) return c > 0 ? x : y;
  return x.inclusive ? y : x;
}

function withinBound(v: unknown, b: Bound | undefined, dir: 1 | -1): boolean {
  if (!b) return true;
  if (rankOf(v) !== rankOf(b.value)) return false;
  const c = compareValues(v, b.value) * dir;
  return c > 0 || (c === 0 && b.inclusive);
}
