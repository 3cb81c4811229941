import type { Binary, BSONRegExp, Code, Decimal128, Long, ObjectId, Timestamp } from 'bson';
import type { Doc } from './errors.js';

/**
 * Canonical type ranks, as MongoDB orders BSON types when comparing values of different types
 * (`canonicalizeBSONType` in the server). Numbers share one rank, as do string and symbol.
 */
export const Rank = {
  minKey: -1,
  undefined: 0,
  null: 5,
  number: 10,
  string: 15,
  object: 20,
  array: 25,
  binData: 30,
  objectId: 35,
  bool: 40,
  date: 45,
  timestamp: 47,
  regex: 50,
  dbPointer: 55,
  javascript: 60,
  javascriptWithScope: 65,
  maxKey: 127,
} as const;

interface BsonTagged {
  _bsontype: string;
}

function bsonTag(v: object): string | undefined {
  const tag = (v as Partial<BsonTagged>)._bsontype;
  return typeof tag === 'string' ? tag : undefined;
}

/** True for a plain embedded document (not an array, Date, RegExp or BSON wrapper). */
export function isPlainObject(v: unknown): v is Doc {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  if (v instanceof Date || v instanceof RegExp || v instanceof Uint8Array) return false;
  const tag = bsonTag(v);
  return tag === undefined || tag === 'DBRef';
}

/** The canonical rank of a value; `undefined` (a missing field) ranks with null. */
export function rankOf(v: unknown): number {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return Rank.number;
    case 'string':
      return Rank.string;
    case 'boolean':
      return Rank.bool;
    case 'undefined':
      return Rank.null;
    case 'object':
      break;
    default:
      return Rank.null;
  }
  if (v === null) return Rank.null;
  if (Array.isArray(v)) return Rank.array;
  if (v instanceof Date) return Rank.date;
  if (v instanceof RegExp) return Rank.regex;
  switch (bsonTag(v)) {
    case undefined:
    case 'DBRef':
      return Rank.object;
    case 'Int32':
    case 'Double':
    case 'Long':
    case 'Decimal128':
      return Rank.number;
    case 'ObjectId':
      return Rank.objectId;
    case 'Binary':
      return Rank.binData;
    case 'Timestamp':
      return Rank.timestamp;
    case 'BSONRegExp':
      return Rank.regex;
    case 'MinKey':
      return Rank.minKey;
    case 'MaxKey':
      return Rank.maxKey;
    case 'Code':
      return (v as Code).scope ? Rank.javascriptWithScope : Rank.javascript;
    case 'BSONSymbol':
      return Rank.string;
    default:
      return Rank.object;
  }
}

/** MongoDB's `$type` alias of a value (`'missing'` for undefined). */
export function bsonTypeName(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Number.isInteger(value) && value >= -2147483648 && value <= 2147483647 && !Object.is(value, -0)
        ? 'int'
        : 'double';
    case 'bigint':
      return 'long';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'undefined':
      return 'missing';
    case 'object':
      break;
    default:
      return 'missing';
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  if (value instanceof RegExp) return 'regex';
  switch (bsonTag(value)) {
    case undefined:
      return 'object';
    case 'DBRef':
      return 'object';
    case 'Int32':
      return 'int';
    case 'Double':
      return 'double';
    case 'Long':
      return 'long';
    case 'Decimal128':
      return 'decimal';
    case 'ObjectId':
      return 'objectId';
    case 'Binary':
      return 'binData';
    case 'Timestamp':
      return 'timestamp';
    case 'BSONRegExp':
      return 'regex';
    case 'MinKey':
      return 'minKey';
    case 'MaxKey':
      return 'maxKey';
    case 'Code':
      return (value as Code).scope ? 'javascriptWithScope' : 'javascript';
    case 'BSONSymbol':
      return 'symbol';
    default:
      return 'object';
  }
}

/** BSON type numbers by alias, as `$type` accepts them. */
export const TYPE_NUMBERS: Readonly<Record<string, number>> = {
  double: 1,
  string: 2,
  object: 3,
  array: 4,
  binData: 5,
  undefined: 6,
  objectId: 7,
  bool: 8,
  date: 9,
  null: 10,
  regex: 11,
  dbPointer: 12,
  javascript: 13,
  symbol: 14,
  javascriptWithScope: 15,
  int: 16,
  timestamp: 17,
  long: 18,
  decimal: 19,
  minKey: -1,
  maxKey: 127,
};

export function isNumber(v: unknown): boolean {
  if (typeof v === 'number' || typeof v === 'bigint') return true;
  if (typeof v !== 'object' || v === null) return false;
  const tag = bsonTag(v);
  return tag === 'Int32' || tag === 'Double' || tag === 'Long' || tag === 'Decimal128';
}

// ---------------------------------------------------------------------------------------------
// Numbers

export type NumKind = 'int' | 'long' | 'double' | 'decimal';

/** The numeric kind of a number value (JS numbers map to int or double as they would serialize), or null. */
export function numKind(v: unknown): NumKind | null {
  if (typeof v === 'number') {
    return Number.isInteger(v) && v >= -2147483648 && v <= 2147483647 && !Object.is(v, -0) ? 'int' : 'double';
  }
  if (typeof v === 'bigint') return 'long';
  if (typeof v !== 'object' || v === null) return null;
  switch (bsonTag(v)) {
    case 'Int32':
      return 'int';
    case 'Double':
      return 'double';
    case 'Long':
      return 'long';
    case 'Decimal128':
      return 'decimal';
    default:
      return null;
  }
}

/** A JS double approximation of a number value (exact for int32 and double). */
export function toDouble(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  switch (bsonTag(v as object)) {
    case 'Int32':
    case 'Double':
      return (v as { value: number }).value;
    case 'Long':
      return (v as Long).toNumber();
    case 'Decimal128':
      return Number(decimalToJsString((v as Decimal128).toString()));
    default:
      return NaN;
  }
}

/** The exact integer value of an int/long (or an integral double/JS number), else null. */
export function toBigIntExact(v: unknown): bigint | null {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : null;
  switch (bsonTag(v as object)) {
    case 'Int32':
      return BigInt((v as { value: number }).value);
    case 'Double': {
      const d = (v as { value: number }).value;
      return Number.isInteger(d) ? BigInt(d) : null;
    }
    case 'Long':
      return (v as Long).toBigInt();
    default:
      return null;
  }
}

/** An exact numeric value: NaN, an infinity, or the rational num/den (den > 0). */
export type Exact = { kind: 'nan' } | { kind: 'inf'; sign: 1 | -1 } | { kind: 'finite'; num: bigint; den: bigint };

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

function exactFromDouble(d: number): Exact {
  if (Number.isNaN(d)) return { kind: 'nan' };
  if (!Number.isFinite(d)) return { kind: 'inf', sign: d > 0 ? 1 : -1 };
  if (Number.isInteger(d)) return { kind: 'finite', num: BigInt(d), den: 1n };
  f64[0] = d;
  const bits = u64[0] ?? 0n;
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & 0xfffffffffffffn;
  let exp: number;
  if (biased === 0) {
    exp = -1074;
  } else {
    mantissa |= 1n << 52n;
    exp = biased - 1075;
  }
  const num = negative ? -mantissa : mantissa;
  // Non-integral, so exp < 0 here.
  return { kind: 'finite', num, den: 1n << BigInt(-exp) };
}

/** Parsed Decimal128 text: coefficient and base-10 exponent, or a special value. */
export type DecimalParts =
  { kind: 'nan' } | { kind: 'inf'; sign: 1 | -1 } | { kind: 'finite'; coeff: bigint; exp: number; negZero: boolean };

const decimalCache = new Map<string, DecimalParts>();

/** Parses Decimal128 / decimal text ("1.50E+3", "-0", "NaN", "Infinity"). */
export function parseDecimalString(s: string): DecimalParts {
  const cached = decimalCache.get(s);
  if (cached) return cached;
  let parts: DecimalParts;
  if (/^[+-]?nan$/i.test(s)) parts = { kind: 'nan' };
  else if (/^[+-]?inf(inity)?$/i.test(s)) parts = { kind: 'inf', sign: s.startsWith('-') ? -1 : 1 };
  else {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
    if (!m) parts = { kind: 'nan' };
    else {
      const intPart = m[2] ?? '';
      const frac = m[3] ?? '';
      const digits = (intPart + frac).replace(/^0+/, '') || '0';
      const exp = Number(m[4] ?? '0') - frac.length;
      let coeff = BigInt(digits);
      if (m[1] === '-') coeff = -coeff;
      parts = { kind: 'finite', coeff, exp, negZero: m[1] === '-' && coeff === 0n };
    }
  }
  if (decimalCache.size > 10000) decimalCache.clear();
  decimalCache.set(s, parts);
  return parts;
}

function decimalToJsString(s: string): string {
  const p = parseDecimalString(s);
  if (p.kind === 'nan') return 'NaN';
  if (p.kind === 'inf') return p.sign > 0 ? 'Infinity' : '-Infinity';
  return `${p.coeff}e${p.exp}`;
}

const pow10Cache: bigint[] = [];
export function pow10(n: number): bigint {
  if (n < 64) {
    let v = pow10Cache[n];
    if (v === undefined) {
      v = 10n ** BigInt(n);
      pow10Cache[n] = v;
    }
    return v;
  }
  return 10n ** BigInt(n);
}

function exactFromDecimal(p: DecimalParts): Exact {
  if (p.kind !== 'finite') return p;
  return p.exp >= 0
    ? { kind: 'finite', num: p.coeff * pow10(p.exp), den: 1n }
    : { kind: 'finite', num: p.coeff, den: pow10(-p.exp) };
}

/** The exact value of any number value (or NaN for non-numbers). */
export function toExact(v: unknown): Exact {
  if (typeof v === 'number') return exactFromDouble(v);
  if (typeof v === 'bigint') return { kind: 'finite', num: v, den: 1n };
  switch (bsonTag(v as object)) {
    case 'Int32':
    case 'Double':
      return exactFromDouble((v as { value: number }).value);
    case 'Long':
      return { kind: 'finite', num: (v as Long).toBigInt(), den: 1n };
    case 'Decimal128':
      return exactFromDecimal(parseDecimalString((v as Decimal128).toString()));
    default:
      return { kind: 'nan' };
  }
}

function compareExact(a: Exact, b: Exact): number {
  // MongoDB orders NaN below every other number and equal to itself.
  if (a.kind === 'nan') return b.kind === 'nan' ? 0 : -1;
  if (b.kind === 'nan') return 1;
  if (a.kind === 'inf') return b.kind === 'inf' ? (a.sign === b.sign ? 0 : a.sign) : a.sign;
  if (b.kind === 'inf') return -b.sign;
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

/** Fast double for int32/double/JS numbers; undefined when exact comparison needs the slow path. */
function fastDouble(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  const tag = bsonTag(v as object);
  if (tag === 'Int32' || tag === 'Double') return (v as { value: number }).value;
  if (tag === 'Long') {
    const l = v as Long;
    // Longs within ±2^53 are exact as doubles.
    if (l.high >= -0x200000 && l.high < 0x200000) return l.toNumber();
  }
  return undefined;
}

/** Compares two number values by value across int32, int64, double and decimal128. */
export function compareNumbers(a: unknown, b: unknown): number {
  const x = fastDouble(a);
  const y = fastDouble(b);
  if (x !== undefined && y !== undefined) {
    if (x < y) return -1;
    if (x > y) return 1;
    if (x === y) return 0;
    const xn = Number.isNaN(x);
    const yn = Number.isNaN(y);
    return xn ? (yn ? 0 : -1) : 1;
  }
  return compareExact(toExact(a), toExact(b));
}

export function isNaNValue(v: unknown): boolean {
  const x = fastDouble(v);
  if (x !== undefined) return Number.isNaN(x);
  if (bsonTag(v as object) === 'Decimal128') return parseDecimalString((v as Decimal128).toString()).kind === 'nan';
  return false;
}

// ---------------------------------------------------------------------------------------------
// Comparison

/** Compares strings by UTF-8 byte order (MongoDB's simple collation), not UTF-16 code units. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates encode code points above U+FFFF, which sort after U+E000..U+FFFF in UTF-8.
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function stringOf(v: unknown): string {
  return typeof v === 'string' ? v : String((v as { value: unknown }).value);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function regexParts(v: unknown): [string, string] {
  if (v instanceof RegExp) return [v.source, v.flags];
  const r = v as BSONRegExp;
  return [r.pattern, r.options];
}

function compareObjects(a: Doc, b: Doc): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const fa = ka[i] as string;
    const fb = kb[i] as string;
    const va = a[fa];
    const vb = b[fb];
    const ra = rankOf(va);
    const rb = rankOf(vb);
    if (ra !== rb) return ra < rb ? -1 : 1;
    if (fa !== fb) return compareStrings(fa, fb);
    const c = compareSameRank(va, vb, ra);
    if (c !== 0) return c;
  }
  return ka.length < kb.length ? -1 : ka.length > kb.length ? 1 : 0;
}

function compareArrays(a: unknown[], b: unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** String comparison of the collation in force (see `withCollation`); null is MongoDB's simple (binary) one. */
let activeStringCompare: ((a: string, b: string) => number) | null = null;

/** Installs a string comparison for the duration of a synchronous call; `null` means the simple collation. */
export function withStringCompare<T>(compare: ((a: string, b: string) => number) | null, fn: () => T): T {
  const previous = activeStringCompare;
  activeStringCompare = compare;
  try {
    return fn();
  } finally {
    activeStringCompare = previous;
  }
}

function compareSameRank(a: unknown, b: unknown, rank: number): number {
  switch (rank) {
    case Rank.number:
      return compareNumbers(a, b);
    case Rank.string:
      return activeStringCompare
        ? activeStringCompare(stringOf(a), stringOf(b))
        : compareStrings(stringOf(a), stringOf(b));
    case Rank.object:
      return compareObjects(a as Doc, b as Doc);
    case Rank.array:
      return compareArrays(a as unknown[], b as unknown[]);
    case Rank.binData: {
      const x = a as Binary;
      const y = b as Binary;
      const xl = x.position;
      const yl = y.position;
      if (xl !== yl) return xl < yl ? -1 : 1;
      if (x.sub_type !== y.sub_type) return x.sub_type < y.sub_type ? -1 : 1;
      return compareBytes(x.buffer.subarray(0, xl), y.buffer.subarray(0, yl));
    }
    case Rank.objectId:
      return compareBytes((a as ObjectId).id, (b as ObjectId).id);
    case Rank.bool:
      return a === b ? 0 : a ? 1 : -1;
    case Rank.date:
      return sign((a as Date).getTime() - (b as Date).getTime());
    case Rank.timestamp: {
      const x = a as Timestamp;
      const y = b as Timestamp;
      if (x.t !== y.t) return x.t < y.t ? -1 : 1;
      return x.i === y.i ? 0 : x.i < y.i ? -1 : 1;
    }
    case Rank.regex: {
      const [pa, oa] = regexParts(a);
      const [pb, ob] = regexParts(b);
      return compareStrings(pa, pb) || compareStrings(oa, ob);
    }
    case Rank.javascript:
    case Rank.javascriptWithScope: {
      const c = compareStrings((a as Code).code, (b as Code).code);
      if (c !== 0 || rank === Rank.javascript) return c;
      return compareObjects((a as Code).scope ?? {}, (b as Code).scope ?? {});
    }
    default:
      return 0;
  }
}

/** Total order over BSON values (MongoDB's): type rank first, then value; numbers by value across types. */
export function compareValues(a: unknown, b: unknown): number {
  const ra = rankOf(a);
  const rb = rankOf(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  return compareSameRank(a, b, ra);
}

/** MongoDB equality: numbers by value across types, documents field-order sensitive. */
export function valuesEqual(a: unknown, b: unknown): boolean {
  return compareValues(a, b) === 0;
}

/**
 * Binary identity: same BSON types and same values, recursively. MongoDB uses this to decide whether an update
 * changed a document (setting an int32 field to the double of the same value is a change).
 */
export function valuesIdentical(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const ta = bsonTypeName(a);
  if (ta !== bsonTypeName(b)) return false;
  switch (ta) {
    case 'double': {
      const x = toDouble(a);
      const y = toDouble(b);
      return Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y));
    }
    case 'decimal':
      return (a as Decimal128).toString() === (b as Decimal128).toString();
    case 'object': {
      const x = a as Doc;
      const y = b as Doc;
      const kx = Object.keys(x);
      const ky = Object.keys(y);
      if (kx.length !== ky.length) return false;
      for (let i = 0; i < kx.length; i++) {
        const k = kx[i] as string;
        if (k !== ky[i] || !valuesIdentical(x[k], y[k])) return false;
      }
      return true;
    }
    case 'array': {
      const x = a as unknown[];
      const y = b as unknown[];
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!valuesIdentical(x[i], y[i])) return false;
      return true;
    }
    case 'regex': {
      const [pa, oa] = regexParts(a);
      const [pb, ob] = regexParts(b);
      return pa === pb && oa === ob;
    }
    default:
      return compareValues(a, b) === 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Canonical keys

function numberKey(v: unknown): string {
  const kind = numKind(v);
  if (kind === 'int' || kind === 'double') {
    const d = toDouble(v);
    if (Number.isNaN(d)) return 'n:NaN';
    if (!Number.isFinite(d)) return d > 0 ? 'n:Infinity' : 'n:-Infinity';
    if (Number.isInteger(d)) return Math.abs(d) <= Number.MAX_SAFE_INTEGER ? `n:${d === 0 ? 0 : d}` : `n:${BigInt(d)}`;
    return `n:${d}`;
  }
  if (kind === 'long') return `n:${toBigIntExact(v)}`;
  const p = parseDecimalString((v as Decimal128).toString());
  if (p.kind === 'nan') return 'n:NaN';
  if (p.kind === 'inf') return p.sign > 0 ? 'n:Infinity' : 'n:-Infinity';
  let { coeff, exp } = p;
  if (coeff === 0n) return 'n:0';
  while (exp < 0 && coeff % 10n === 0n) {
    coeff /= 10n;
    exp++;
  }
  if (exp >= 0) return `n:${coeff * pow10(exp)}`;
  const d = Number(`${coeff}e${exp}`);
  if (compareExact(exactFromDecimal(p), exactFromDouble(d)) === 0) return `n:${d}`;
  // Not representable as a double, so no double equals it: a distinct spelling is safe.
  return `n:${coeff}m${exp}`;
}

/**
 * A string key such that equal values (by MongoDB equality, numbers across types) have equal keys and
 * different values have different keys. Documents with fields in a different order are different keys.
 */
export function canonicalKey(value: unknown): string {
  const rank = rankOf(value);
  switch (rank) {
    case Rank.minKey:
      return 'm';
    case Rank.maxKey:
      return 'M';
    case Rank.null:
      return 'z';
    case Rank.number:
      return numberKey(value);
    case Rank.string:
      return `s:${JSON.stringify(stringOf(value))}`;
    case Rank.bool:
      return value ? 'b:1' : 'b:0';
    case Rank.date:
      return `d:${(value as Date).getTime()}`;
    case Rank.objectId:
      return `o:${(value as ObjectId).toHexString()}`;
    case Rank.binData: {
      const bin = value as Binary;
      return `B:${bin.sub_type}:${Buffer.from(bin.buffer.subarray(0, bin.position)).toString('base64')}`;
    }
    case Rank.timestamp: {
      const ts = value as Timestamp;
      return `t:${ts.t}:${ts.i}`;
    }
    case Rank.regex: {
      const [p, o] = regexParts(value);
      return `r:${JSON.stringify(p)}/${o}`;
    }
    case Rank.javascript:
      return `j:${JSON.stringify((value as Code).code)}`;
    case Rank.javascriptWithScope:
      return `J:${JSON.stringify((value as Code).code)}:${canonicalKey((value as Code).scope ?? {})}`;
    case Rank.array:
      return `[${(value as unknown[]).map(canonicalKey).join(',')}]`;
    default: {
      const doc = value as Doc;
      let out = '{';
      for (const k of Object.keys(doc)) out += `${JSON.stringify(k)}:${canonicalKey(doc[k])},`;
      return `${out}}`;
    }
  }
}

/** `Array.isArray` that narrows to `unknown[]` rather than `any[]`. */
export function isArray(v: unknown): v is unknown[] {
  return Array.isArray(v);
}
