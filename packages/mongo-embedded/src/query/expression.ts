import { Decimal128, Double, Int32, Long, ObjectId } from 'bson';
import { location, MongoServerError, type Doc } from './errors.js';
import { arith, type ArithOp } from './numeric.js';
import type { TextScores } from './text.js';
import {
  bsonTypeName,
  canonicalKey,
  compareValues,
  isNaNValue,
  isPlainObject,
  numKind,
  Rank,
  rankOf,
  toBigIntExact,
  toDouble,
  isArray,
} from './values.js';

/** Options for evaluating an aggregation expression. */
export interface ExpressionOptions {
  /** Walk the expression only to reject unknown operators (parse-time validation). */
  validateOnly?: boolean;
  /** Value of $$NOW and the clock for date expressions. */
  now?: Date;
  /** User variables ($let, $map...), without the `$$` prefix. */
  vars?: Record<string, unknown>;
  /** Scores of the `$text` query that selected the documents, for `{ $meta: 'textScore' }`. */
  textScores?: TextScores;
}

interface Ctx {
  root: unknown;
  vars: Map<string, unknown>;
  now: Date;
  textScores?: TextScores | undefined;
}

/**
 * Evaluates an aggregation expression against a document: field paths (`$a.b`), system variables ($$ROOT,
 * $$CURRENT, $$NOW, $$REMOVE), literals and operators. A missing result is `undefined`.
 */
export function evaluateExpression(expr: unknown, doc: Doc, options: ExpressionOptions = {}): unknown {
  if (options.validateOnly) {
    validateExpression(expr);
    return undefined;
  }
  const vars = new Map<string, unknown>([['CURRENT', doc]]);
  if (options.vars) for (const [k, v] of Object.entries(options.vars)) vars.set(k, v);
  return evaluate(expr, { root: doc, vars, now: options.now ?? new Date(), textScores: options.textScores });
}

/** MongoDB truthiness: false, null, missing and numeric zero are false; everything else is true. */
export function isTruthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return false;
  if (numKind(v) !== null) {
    if (isNaNValue(v)) return true;
    return compareValues(v, 0) !== 0;
  }
  return true;
}

/** Comparison as aggregation does it: missing sorts just above MinKey, below null. */
export function compareExpr(a: unknown, b: unknown): number {
  if (a === undefined || b === undefined) {
    if (a === b) return 0;
    const other = a === undefined ? b : a;
    const c = rankOf(other) === Rank.minKey ? 1 : -1;
    return a === undefined ? c : -c;
  }
  return compareValues(a, b);
}

function validateExpression(expr: unknown): void {
  if (isArray(expr)) {
    for (const e of expr) validateExpression(e);
    return;
  }
  if (!isPlainObject(expr)) return;
  const keys = Object.keys(expr);
  const first = keys[0];
  if (first?.startsWith('$')) {
    if (keys.length > 1) throw tooManyFields(expr, keys.length);
    if (!(first in OPERATORS))
      throw new MongoServerError(168, 'InvalidPipelineOperator', `Unrecognized expression '${first}'`);
    if (first === '$literal') return;
    validateExpression(expr[first]);
    return;
  }
  for (const k of keys) {
    if (k.startsWith('$'))
      throw new MongoServerError(
        16410,
        'Location16410',
        `FieldPath field names may not start with '$'. Consider using $getField or $setField.`,
      );
    validateExpression(expr[k]);
  }
}

function tooManyFields(expr: Doc, n: number): MongoServerError {
  return location(
    15983,
    `an expression specification must contain exactly one field, the name of the expression. Found ${n} fields in ${JSON.stringify(expr)}`,
  );
}

/** Follows a field path the aggregation way: arrays map to arrays of the values found in their elements. */
export function evaluateFieldPath(value: unknown, parts: readonly string[], i: number): unknown {
  if (i === parts.length) return value;
  if (isArray(value)) {
    const out: unknown[] = [];
    for (const el of value) {
      if (isPlainObject(el) || isArray(el)) {
        const r = evaluateFieldPath(el, parts, i);
        if (r !== undefined) out.push(r);
      }
    }
    return out;
  }
  if (isPlainObject(value)) return evaluateFieldPath(value[parts[i] as string], parts, i + 1);
  return undefined;
}

const pathCache = new Map<string, string[]>();
function pathParts(s: string): string[] {
  let p = pathCache.get(s);
  if (!p) {
    p = s.split('.');
    if (pathCache.size > 5000) pathCache.clear();
    pathCache.set(s, p);
  }
  return p;
}

function evaluateString(s: string, ctx: Ctx): unknown {
  if (!s.startsWith('$')) return s;
  if (s.startsWith('$$')) {
    const parts = pathParts(s.slice(2));
    const name = parts[0] as string;
    let base: unknown;
    if (name === 'ROOT') base = ctx.root;
    else if (name === 'NOW') base = ctx.now;
    else if (name === 'REMOVE') return undefined;
    else if (ctx.vars.has(name)) base = ctx.vars.get(name);
    else throw location(17276, `Use of undefined variable: ${name}`);
    return evaluateFieldPath(base, parts, 1);
  }
  if (s.length === 1) throw location(16872, "'$' by itself is not a valid FieldPath");
  return evaluateFieldPath(ctx.vars.get('CURRENT'), pathParts(s.slice(1)), 0);
}

function evaluate(expr: unknown, ctx: Ctx): unknown {
  if (typeof expr === 'string') return evaluateString(expr, ctx);
  if (isArray(expr)) return expr.map((e) => nullIfMissing(evaluate(e, ctx)));
  if (!isPlainObject(expr)) return expr;
  const keys = Object.keys(expr);
  const first = keys[0];
  if (first?.startsWith('$')) {
    if (keys.length > 1) throw tooManyFields(expr, keys.length);
    const op = OPERATORS[first];
    if (!op) throw new MongoServerError(168, 'InvalidPipelineOperator', `Unrecognized expression '${first}'`);
    return op(expr[first], ctx);
  }
  const out: Doc = {};
  for (const k of keys) {
    const v = evaluate(expr[k], ctx);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function nullIfMissing(v: unknown): unknown {
  return v === undefined ? null : v;
}

function isNullish(v: unknown): boolean {
  return v === undefined || v === null;
}

type OpImpl = (arg: unknown, ctx: Ctx) => unknown;

/** Operands of an operator: an array argument is the operand list, anything else is one operand. */
function operands(arg: unknown, ctx: Ctx): unknown[] {
  if (isArray(arg)) return arg.map((a) => evaluate(a, ctx));
  return [evaluate(arg, ctx)];
}

function exactArgs(name: string, arg: unknown, ctx: Ctx, n: number): unknown[] {
  const args = operands(arg, ctx);
  if (args.length !== n) {
    throw location(16020, `Expression ${name} takes exactly ${n} arguments. ${args.length} were passed in.`);
  }
  return args;
}

function typeName(v: unknown): string {
  return bsonTypeName(v);
}

function arithmetic(name: string, op: ArithOp, code: number) {
  return (arg: unknown, ctx: Ctx): unknown => {
    const args = op === 'add' || op === 'multiply' ? operands(arg, ctx) : exactArgs(name, arg, ctx, 2);
    if (args.some(isNullish)) return null;
    if (op === 'add') return addValues(args);
    if (op === 'subtract') return subtractValues(args[0], args[1]);
    let acc: unknown = op === 'multiply' ? new Int32(1) : args[0];
    for (const v of op === 'multiply' ? args : args.slice(1)) {
      if (numKind(v) === null || numKind(acc) === null) {
        const bad = numKind(v) === null ? v : acc;
        throw location(code, `${name} only supports numeric types, not ${typeName(bad)}`);
      }
      if (
        (op === 'divide' || op === 'mod') &&
        compareValues(v, 0) === 0 &&
        numKind(v) !== 'decimal' &&
        numKind(acc) !== 'decimal'
      ) {
        throw location(
          op === 'divide' ? 16608 : 16610,
          op === 'divide' ? "can't $divide by zero" : "can't $mod by zero",
        );
      }
      acc = arith(op, acc, v);
    }
    return acc;
  };
}

function addValues(args: unknown[]): unknown {
  let date: Date | null = null;
  let acc: unknown = new Int32(0);
  for (const v of args) {
    if (v instanceof Date) {
      if (date) throw location(16612, 'only one date allowed in an $add expression');
      date = v;
    } else if (numKind(v) !== null) acc = arith('add', acc, v);
    else throw location(16554, `$add only supports numeric or date types, not ${typeName(v)}`);
  }
  if (date) return new Date(date.getTime() + Math.round(toDouble(acc)));
  return acc;
}

function subtractValues(a: unknown, b: unknown): unknown {
  if (a instanceof Date) {
    if (b instanceof Date) return Long.fromNumber(a.getTime() - b.getTime());
    if (numKind(b) !== null) return new Date(a.getTime() - Math.round(toDouble(b)));
  } else if (numKind(a) !== null && numKind(b) !== null) return arith('subtract', a, b);
  throw location(16556, `can't $subtract ${typeName(b)} from ${typeName(a)}`);
}

function comparison(name: string, test: (c: number) => boolean): OpImpl {
  return (arg, ctx) => {
    const [a, b] = exactArgs(name, arg, ctx, 2);
    return test(compareExpr(a, b));
  };
}

function unaryArg(arg: unknown, ctx: Ctx, name: string): unknown {
  if (isArray(arg)) {
    if (arg.length !== 1)
      throw location(16020, `Expression ${name} takes exactly 1 arguments. ${arg.length} were passed in.`);
    return evaluate(arg[0], ctx);
  }
  return evaluate(arg, ctx);
}

function toStringValue(v: unknown, opName: string): string {
  if (typeof v === 'string') return v;
  const kind = numKind(v);
  if (kind === 'int' || kind === 'long') return String(toBigIntExact(v));
  if (kind === 'double') return formatDouble(toDouble(v));
  if (kind === 'decimal') return (v as Decimal128).toString();
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'boolean') return String(v);
  if (rankOf(v) === Rank.objectId) return (v as ObjectId).toHexString();
  if (rankOf(v) === Rank.string) return String((v as { value: unknown }).value);
  throw location(16007, `${opName} cannot convert ${typeName(v)} to string`);
}

function formatDouble(d: number): string {
  if (Number.isNaN(d)) return 'NaN';
  if (!Number.isFinite(d)) return d > 0 ? 'Infinity' : '-Infinity';
  if (Object.is(d, -0)) return '-0';
  return String(d);
}

function conversionFailure(from: unknown, to: string, detail = ''): MongoServerError {
  return new MongoServerError(
    241,
    'ConversionFailure',
    `Unsupported conversion from ${typeName(from)} to ${to} in $convert with no onError value${detail}`,
  );
}

function convertValue(v: unknown, to: string): unknown {
  if (isNullish(v)) return null;
  const kind = numKind(v);
  switch (to) {
    case 'string':
      if (rankOf(v) === Rank.binData || rankOf(v) === Rank.object || isArray(v)) throw conversionFailure(v, 'string');
      return toStringValue(v, '$convert');
    case 'double':
      if (kind !== null) return new Double(toDouble(v));
      if (typeof v === 'boolean') return new Double(v ? 1 : 0);
      if (v instanceof Date) return new Double(v.getTime());
      if (typeof v === 'string') {
        const d = Number(v.trim());
        if (v.trim() === '' || (Number.isNaN(d) && !/^[+-]?nan$/i.test(v.trim()))) {
          throw new MongoServerError(
            241,
            'ConversionFailure',
            `Failed to parse number '${v}' in $convert with no onError value: Did not consume whole string.`,
          );
        }
        return new Double(d);
      }
      throw conversionFailure(v, 'double');
    case 'int':
    case 'long': {
      let n: bigint | null;
      if (kind === 'int' || kind === 'long') n = toBigIntExact(v);
      else if (kind === 'double' || kind === 'decimal') {
        const d = toDouble(v);
        if (!Number.isFinite(d))
          throw new MongoServerError(
            241,
            'ConversionFailure',
            `Attempt to convert NaN or infinity value to integer type in $convert with no onError value`,
          );
        n = BigInt(Math.trunc(d));
      } else if (typeof v === 'boolean') n = v ? 1n : 0n;
      else if (v instanceof Date && to === 'long') n = BigInt(v.getTime());
      else if (typeof v === 'string') {
        if (!/^[+-]?\d+$/.test(v))
          throw new MongoServerError(
            241,
            'ConversionFailure',
            `Failed to parse number '${v}' in $convert with no onError value: Did not consume whole string.`,
          );
        n = BigInt(v);
      } else throw conversionFailure(v, to);
      if (n === null) throw conversionFailure(v, to);
      if (to === 'int') {
        if (n < -2147483648n || n > 2147483647n)
          throw new MongoServerError(
            241,
            'ConversionFailure',
            `Conversion would overflow target type in $convert with no onError value: ${n}`,
          );
        return new Int32(Number(n));
      }
      return Long.fromBigInt(n);
    }
    case 'decimal':
      if (kind === 'decimal') return v;
      if (kind === 'double')
        return Decimal128.fromString(
          toDouble(v)
            .toPrecision(15)
            .replace(/\.?0+($|e)/, '$1'),
        );
      if (kind !== null) return Decimal128.fromString(String(toBigIntExact(v)));
      if (typeof v === 'boolean') return Decimal128.fromString(v ? '1' : '0');
      if (typeof v === 'string') return Decimal128.fromString(v);
      throw conversionFailure(v, 'decimal');
    case 'bool':
      return isTruthy(v);
    case 'date':
      if (v instanceof Date) return v;
      if (kind !== null) return new Date(toDouble(v));
      if (typeof v === 'string') {
        const d = new Date(v);
        if (Number.isNaN(d.getTime()))
          throw new MongoServerError(241, 'ConversionFailure', `Error parsing date string '${v}'`);
        return d;
      }
      if (rankOf(v) === Rank.objectId) return (v as ObjectId).getTimestamp();
      throw conversionFailure(v, 'date');
    case 'objectId':
      if (rankOf(v) === Rank.objectId) return v;
      if (typeof v === 'string' && /^[0-9a-fA-F]{24}$/.test(v)) return new ObjectId(v);
      throw new MongoServerError(
        241,
        'ConversionFailure',
        `Failed to parse objectId '${String(v)}' in $convert with no onError value`,
      );
    default:
      throw badConvertTarget(to);
  }
}

function badConvertTarget(to: unknown): MongoServerError {
  return new MongoServerError(2, 'BadValue', `Unknown type name: ${String(to)}`);
}

const NUMERIC_TYPE_NAMES: Record<number, string> = {
  1: 'double',
  2: 'string',
  7: 'objectId',
  8: 'bool',
  9: 'date',
  16: 'int',
  18: 'long',
  19: 'decimal',
};

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Formats a date with MongoDB's `$dateToString` specifiers, in UTC or a fixed "+hh:mm" offset. */
function formatDate(date: Date, format: string, offsetMinutes: number): string {
  const d = new Date(date.getTime() + offsetMinutes * 60000);
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format.charAt(i);
    if (c !== '%') {
      out += c;
      continue;
    }
    const spec = format[++i];
    switch (spec) {
      case 'Y':
        out += pad(d.getUTCFullYear(), 4);
        break;
      case 'm':
        out += pad(d.getUTCMonth() + 1, 2);
        break;
      case 'd':
        out += pad(d.getUTCDate(), 2);
        break;
      case 'H':
        out += pad(d.getUTCHours(), 2);
        break;
      case 'M':
        out += pad(d.getUTCMinutes(), 2);
        break;
      case 'S':
        out += pad(d.getUTCSeconds(), 2);
        break;
      case 'L':
        out += pad(d.getUTCMilliseconds(), 3);
        break;
      case 'j': {
        const start = Date.UTC(d.getUTCFullYear(), 0, 1);
        out += pad(Math.floor((d.getTime() - start) / 86400000) + 1, 3);
        break;
      }
      case 'w':
        out += String(d.getUTCDay() + 1);
        break;
      case 'u':
        out += String(d.getUTCDay() === 0 ? 7 : d.getUTCDay());
        break;
      case 'z': {
        const sign = offsetMinutes < 0 ? '-' : '+';
        const abs = Math.abs(offsetMinutes);
        out += `${sign}${pad(Math.floor(abs / 60), 2)}${pad(abs % 60, 2)}`;
        break;
      }
      case 'Z':
        out += String(offsetMinutes);
        break;
      case '%':
        out += '%';
        break;
      default:
        throw location(18536, `Invalid format character '%${spec ?? ''}' in format string`);
    }
  }
  return out;
}

function parseTimezone(tz: unknown): number {
  if (tz === undefined || tz === null || tz === 'UTC' || tz === 'GMT' || tz === 'Z') return 0;
  if (typeof tz === 'string') {
    const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(tz);
    if (m) return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? '0'));
  }
  throw location(40485, `unrecognized time zone identifier: ${JSON.stringify(tz)}`);
}

function objectArg(name: string, arg: unknown): Doc {
  if (!isPlainObject(arg)) throw location(40517, `${name} only supports an object as its argument`);
  return arg;
}

/** `$meta` names mongod knows besides textScore. */
const META_NAMES = new Set([
  'randVal',
  'searchScore',
  'searchHighlights',
  'geoNearDistance',
  'geoNearPoint',
  'recordId',
  'indexKey',
  'sortKey',
  'searchScoreDetails',
  'searchSequenceToken',
  'vectorSearchScore',
]);

/** `$setField` / `$unsetField`: the field name must be a constant string; `$$REMOVE` as value removes it. */
function setFieldOperator(name: '$setField' | '$unsetField', arg: unknown, ctx: Ctx): unknown {
  if (!isPlainObject(arg)) throw location(4161100, `${name} only supports an object as its argument`);
  const allowed = name === '$setField' ? ['field', 'input', 'value'] : ['field', 'input'];
  for (const k of Object.keys(arg)) {
    if (!allowed.includes(k)) throw location(4161101, `${name} found an unknown argument: ${k}`);
  }
  for (const k of allowed) if (!(k in arg)) throw location(4161102, `${name} requires '${k}' to be specified`);
  let field = arg.field;
  if (isPlainObject(field) && Object.keys(field).length === 1 && '$const' in field) field = field.$const;
  if (isPlainObject(field) && Object.keys(field).length === 1 && '$literal' in field) field = field.$literal;
  if (typeof field !== 'string') {
    throw location(4161106, `${name} requires 'field' to evaluate to type String, but got ${typeName(field)}`);
  }
  if (field.startsWith('$'))
    throw location(4161108, `A string that starts with '$' is not allowed in ${name}'s field: ${field}`);
  const input = evaluate(arg.input, ctx);
  if (isNullish(input)) return null;
  if (!isPlainObject(input)) {
    throw location(4161105, `${name} requires 'input' to evaluate to type Object, but got ${typeName(input)}`);
  }
  const value = name === '$setField' ? evaluate(arg.value, ctx) : undefined;
  const out: Doc = {};
  let placed = false;
  for (const [k, v] of Object.entries(input)) {
    if (k === field) {
      placed = true;
      if (value !== undefined) out[k] = value;
    } else out[k] = v;
  }
  if (!placed && value !== undefined) out[field] = value;
  return out;
}

function withVars(ctx: Ctx, bindings: Record<string, unknown>): Ctx {
  const vars = new Map(ctx.vars);
  for (const [k, v] of Object.entries(bindings)) vars.set(k, v);
  return { ...ctx, vars };
}

function toIntIndex(v: unknown, name: string): number {
  if (numKind(v) === null)
    throw location(28689, `${name}'s second argument must be a numeric value, but is ${typeName(v)}`);
  const d = toDouble(v);
  if (!Number.isInteger(d))
    throw location(28691, `${name}'s second argument must be representable as a 32-bit integer: ${d}`);
  return d;
}

function numberResultLike(template: unknown, d: number): unknown {
  // Rounding functions keep the operand's type.
  switch (numKind(template)) {
    case 'int':
      return new Int32(d);
    case 'long':
      return Long.fromNumber(d);
    case 'decimal':
      return Decimal128.fromString(String(d));
    default:
      return new Double(d);
  }
}

function unaryMath(name: string, fn: (d: number) => number, keepIntegers: boolean): OpImpl {
  return (arg, ctx) => {
    const v = unaryArg(arg, ctx, name);
    if (isNullish(v)) return null;
    if (numKind(v) === null) throw location(28765, `${name} only supports numeric types, not ${typeName(v)}`);
    const kind = numKind(v);
    if (keepIntegers && (kind === 'int' || kind === 'long')) {
      if (name === '$abs') {
        const n = toBigIntExact(v) ?? 0n;
        const r = n < 0n ? -n : n;
        return kind === 'int' && r <= 2147483647n ? new Int32(Number(r)) : Long.fromBigInt(r);
      }
      return v;
    }
    const r = fn(toDouble(v));
    return keepIntegers ? numberResultLike(v, r) : new Double(r);
  };
}

function sumOf(values: unknown[]): unknown {
  let acc: unknown = new Int32(0);
  for (const v of values) if (numKind(v) !== null) acc = arith('add', acc, v);
  return acc;
}

/** Sums numbers the way $sum does, ignoring non-numbers. */
export function sumValues(values: unknown[]): unknown {
  return sumOf(values);
}

/** Average of the numeric values ($avg): double (or decimal), null when there are none. */
export function avgValues(values: unknown[]): unknown {
  const nums = values.filter((v) => numKind(v) !== null);
  if (nums.length === 0) return null;
  const total = sumOf(nums);
  if (numKind(total) === 'decimal') return arith('divide', total, Decimal128.fromString(String(nums.length)));
  return new Double(toDouble(total) / nums.length);
}

function minMaxOf(values: unknown[], dir: 1 | -1): unknown {
  let best: unknown = undefined;
  for (const v of values) {
    if (isNullish(v)) continue;
    if (best === undefined || compareValues(v, best) * dir > 0) best = v;
  }
  return best === undefined ? null : best;
}

/** $max / $min over values, ignoring null and missing. */
export function maxValue(values: unknown[]): unknown {
  return minMaxOf(values, 1);
}
export function minValue(values: unknown[]): unknown {
  return minMaxOf(values, -1);
}

function arrayAggregate(fn: (values: unknown[]) => unknown): OpImpl {
  return (arg, ctx) => {
    if (isArray(arg) && arg.length !== 1) return fn(arg.map((a) => evaluate(a, ctx)));
    const v = isArray(arg) ? evaluate(arg[0], ctx) : evaluate(arg, ctx);
    return fn(isArray(v) ? v : [v]);
  };
}

function stringArg(name: string, v: unknown, code: number): string {
  if (typeof v === 'string') return v;
  if (rankOf(v) === Rank.string) return String((v as { value: unknown }).value);
  throw location(code, `${name} requires a string argument, found: ${typeName(v)}`);
}

const OPERATORS: Record<string, OpImpl> = {
  $literal: (arg) => arg,
  $add: arithmetic('$add', 'add', 16554),
  $subtract: arithmetic('$subtract', 'subtract', 16556),
  $multiply: arithmetic('$multiply', 'multiply', 16555),
  $divide: arithmetic('$divide', 'divide', 16609),
  $mod: arithmetic('$mod', 'mod', 16611),
  $abs: unaryMath('$abs', Math.abs, true),
  $ceil: unaryMath('$ceil', Math.ceil, true),
  $floor: unaryMath('$floor', Math.floor, true),
  $trunc: unaryMath('$trunc', Math.trunc, true),
  $sqrt: unaryMath('$sqrt', Math.sqrt, false),
  $eq: comparison('$eq', (c) => c === 0),
  $ne: comparison('$ne', (c) => c !== 0),
  $gt: comparison('$gt', (c) => c > 0),
  $gte: comparison('$gte', (c) => c >= 0),
  $lt: comparison('$lt', (c) => c < 0),
  $lte: comparison('$lte', (c) => c <= 0),
  $cmp: (arg, ctx) => {
    const [a, b] = exactArgs('$cmp', arg, ctx, 2);
    return new Int32(Math.sign(compareExpr(a, b)));
  },
  $and: (arg, ctx) => {
    const list = isArray(arg) ? arg : [arg];
    for (const e of list) if (!isTruthy(evaluate(e, ctx))) return false;
    return true;
  },
  $or: (arg, ctx) => {
    const list = isArray(arg) ? arg : [arg];
    for (const e of list) if (isTruthy(evaluate(e, ctx))) return true;
    return false;
  },
  $not: (arg, ctx) => !isTruthy(unaryArg(arg, ctx, '$not')),
  $cond: (arg, ctx) => {
    let cond: unknown;
    let then: unknown;
    let otherwise: unknown;
    if (isArray(arg)) {
      if (arg.length !== 3)
        throw location(16020, `Expression $cond takes exactly 3 arguments. ${arg.length} were passed in.`);
      [cond, then, otherwise] = arg as [unknown, unknown, unknown];
    } else {
      const spec = objectArg('$cond', arg);
      for (const k of Object.keys(spec)) {
        if (k !== 'if' && k !== 'then' && k !== 'else') throw location(17083, `Unrecognized parameter to $cond: ${k}`);
      }
      if (!('if' in spec)) throw location(17080, "Missing 'if' parameter to $cond");
      if (!('then' in spec)) throw location(17081, "Missing 'then' parameter to $cond");
      if (!('else' in spec)) throw location(17082, "Missing 'else' parameter to $cond");
      ({ if: cond, then, else: otherwise } = spec);
    }
    return evaluate(isTruthy(evaluate(cond, ctx)) ? then : otherwise, ctx);
  },
  $ifNull: (arg, ctx) => {
    if (!isArray(arg) || arg.length < 2) throw location(1257001, '$ifNull needs at least two arguments');
    for (let i = 0; i < arg.length - 1; i++) {
      const v = evaluate(arg[i], ctx);
      if (!isNullish(v)) return v;
    }
    return evaluate(arg[arg.length - 1], ctx);
  },
  $switch: (arg, ctx) => {
    const spec = objectArg('$switch', arg);
    const branches = spec.branches;
    if (!isArray(branches))
      throw location(40061, `$switch expected an array for 'branches', found: ${typeName(branches)}`);
    for (const b of branches) {
      if (!isPlainObject(b)) throw location(40061, '$switch expected each branch to be an object');
      if (!('case' in b)) throw location(40064, "$switch requires each branch have a 'case' expression");
      if (!('then' in b)) throw location(40065, "$switch requires each branch have a 'then' expression.");
      if (isTruthy(evaluate(b.case, ctx))) return evaluate(b.then, ctx);
    }
    if (!('default' in spec)) {
      throw location(40066, '$switch could not find a matching branch for an input, and no default was specified.');
    }
    return evaluate(spec.default, ctx);
  },
  $concat: (arg, ctx) => {
    const args = operands(arg, ctx);
    let out = '';
    for (const v of args) {
      if (isNullish(v)) return null;
      if (typeof v !== 'string') throw location(16702, `$concat only supports strings, not ${typeName(v)}`);
      out += v;
    }
    return out;
  },
  $toLower: (arg, ctx) => {
    const v = unaryArg(arg, ctx, '$toLower');
    return isNullish(v) ? '' : toStringValue(v, '$toLower').toLowerCase();
  },
  $toUpper: (arg, ctx) => {
    const v = unaryArg(arg, ctx, '$toUpper');
    return isNullish(v) ? '' : toStringValue(v, '$toUpper').toUpperCase();
  },
  $substrCP: (arg, ctx) => {
    const [s, start, count] = exactArgs('$substrCP', arg, ctx, 3);
    const str = isNullish(s) ? '' : toStringValue(s, '$substrCP');
    if (numKind(start) === null)
      throw location(34450, `$substrCP: starting index must be a numeric type (is BSON type ${typeName(start)})`);
    if (numKind(count) === null)
      throw location(34452, `$substrCP: length must be a numeric type (is BSON type ${typeName(count)})`);
    const from = toDouble(start);
    const len = toDouble(count);
    if (from < 0) throw location(34455, `$substrCP: the starting index must be nonnegative integer.`);
    if (len < 0) throw location(34456, `$substrCP: length must be a nonnegative integer.`);
    return Array.from(str)
      .slice(from, from + len)
      .join('');
  },
  $strLenCP: (arg, ctx) => {
    const v = unaryArg(arg, ctx, '$strLenCP');
    if (typeof v !== 'string') throw location(34471, `$strLenCP requires a string argument, found: ${typeName(v)}`);
    return new Int32(Array.from(v).length);
  },
  $split: (arg, ctx) => {
    const [s, sep] = exactArgs('$split', arg, ctx, 2);
    if (isNullish(s)) return null;
    const str = stringArg('$split', s, 40085);
    const delim = stringArg('$split', sep, 40086);
    if (delim === '') throw location(40087, '$split requires a non-empty separator');
    return str.split(delim);
  },
  $trim: (arg, ctx) => {
    const spec = objectArg('$trim', arg);
    const v = evaluate(spec.input, ctx);
    if (isNullish(v)) return null;
    const s = stringArg('$trim', v, 50699);
    if (spec.chars === undefined) return s.trim();
    const chars = Array.from(stringArg('$trim', evaluate(spec.chars, ctx), 50700));
    const cps = Array.from(s);
    let a = 0;
    let b = cps.length;
    while (a < b && chars.includes(cps[a] as string)) a++;
    while (b > a && chars.includes(cps[b - 1] as string)) b--;
    return cps.slice(a, b).join('');
  },
  $size: (arg, ctx) => {
    const v = unaryArg(arg, ctx, '$size');
    if (!isArray(v))
      throw location(17124, `The argument to $size must be an array. Type of argument was: ${typeName(v)}`);
    return new Int32(v.length);
  },
  $arrayElemAt: (arg, ctx) => {
    const [arr, idx] = exactArgs('$arrayElemAt', arg, ctx, 2);
    if (isNullish(arr) || isNullish(idx)) return null;
    if (!isArray(arr)) throw location(28689, `$arrayElemAt's first argument must be an array, but is ${typeName(arr)}`);
    const i = toIntIndex(idx, '$arrayElemAt');
    return i < 0 ? arr[arr.length + i] : arr[i];
  },
  $first: (arg, ctx) => {
    const v = unaryArg(arg, ctx, '$first');
    if (isNullish(v)) return null;
    if (!isArray(v)) throw location(28689, `$first's argument must be an array, but is ${typeName(v)}`);
    return v[0];
  },
  $last: (arg, ctx) => {
    const v = unaryArg(arg, ctx, '$last');
    if (isNullish(v)) return null;
    if (!isArray(v)) throw location(28689, `$last's argument must be an array, but is ${typeName(v)}`);
    return v[v.length - 1];
  },
  $in: (arg, ctx) => {
    const [v, arr] = exactArgs('$in', arg, ctx, 2);
    if (!isArray(arr)) throw location(40081, `$in requires an array as a second argument, found: ${typeName(arr)}`);
    return arr.some((x) => compareExpr(x, v) === 0);
  },
  $indexOfArray: (arg, ctx) => {
    const args = operands(arg, ctx);
    const [arr, v] = args;
    if (isNullish(arr)) return null;
    if (!isArray(arr))
      throw location(40090, `$indexOfArray requires an array as a first argument, found: ${typeName(arr)}`);
    const start = args.length > 2 ? toDouble(args[2]) : 0;
    const end = args.length > 3 ? toDouble(args[3]) : arr.length;
    for (let i = start; i < Math.min(end, arr.length); i++) if (compareExpr(arr[i], v) === 0) return new Int32(i);
    return new Int32(-1);
  },
  $isArray: (arg, ctx) => isArray(unaryArg(arg, ctx, '$isArray')),
  $concatArrays: (arg, ctx) => {
    const out: unknown[] = [];
    for (const v of operands(arg, ctx)) {
      if (isNullish(v)) return null;
      if (!isArray(v)) throw location(28664, `$concatArrays only supports arrays, not ${typeName(v)}`);
      out.push(...v);
    }
    return out;
  },
  $reverseArray: (arg, ctx) => {
    const v = unaryArg(arg, ctx, '$reverseArray');
    if (isNullish(v)) return null;
    if (!isArray(v))
      throw location(34435, `The argument to $reverseArray must be an array, but was of type: ${typeName(v)}`);
    return [...v].reverse();
  },
  $slice: (arg, ctx) => {
    const args = operands(arg, ctx);
    const arr = args[0];
    if (isNullish(arr)) return null;
    if (!isArray(arr))
      throw location(28724, `First argument to $slice must be an array, but is of type: ${typeName(arr)}`);
    if (args.length === 2) {
      const n = toDouble(args[1]);
      return n >= 0 ? arr.slice(0, n) : arr.slice(Math.max(0, arr.length + n));
    }
    let pos = toDouble(args[1]);
    const n = toDouble(args[2]);
    if (n <= 0) throw location(28729, `Third argument to $slice must be positive: ${n}`);
    if (pos < 0) pos = Math.max(0, arr.length + pos);
    return arr.slice(pos, pos + n);
  },
  $map: (arg, ctx) => {
    const spec = objectArg('$map', arg);
    const input = evaluate(spec.input, ctx);
    if (isNullish(input)) return null;
    if (!isArray(input)) throw location(16883, `input to $map must be an array not ${typeName(input)}`);
    const name = typeof spec.as === 'string' ? spec.as : 'this';
    return input.map((el) => nullIfMissing(evaluate(spec.in, withVars(ctx, { [name]: el }))));
  },
  $filter: (arg, ctx) => {
    const spec = objectArg('$filter', arg);
    const input = evaluate(spec.input, ctx);
    if (isNullish(input)) return null;
    if (!isArray(input)) throw location(28651, `input to $filter must be an array not ${typeName(input)}`);
    const name = typeof spec.as === 'string' ? spec.as : 'this';
    const limit = spec.limit === undefined ? Infinity : toDouble(evaluate(spec.limit, ctx));
    const out: unknown[] = [];
    for (const el of input) {
      if (out.length >= limit) break;
      if (isTruthy(evaluate(spec.cond, withVars(ctx, { [name]: el })))) out.push(el);
    }
    return out;
  },
  $reduce: (arg, ctx) => {
    const spec = objectArg('$reduce', arg);
    const input = evaluate(spec.input, ctx);
    if (isNullish(input)) return null;
    if (!isArray(input)) throw location(40080, `$reduce requires that 'input' be an array, found: ${typeName(input)}`);
    let acc = evaluate(spec.initialValue, ctx);
    for (const el of input) acc = evaluate(spec.in, withVars(ctx, { this: el, value: acc }));
    return acc;
  },
  $let: (arg, ctx) => {
    const spec = objectArg('$let', arg);
    const varsSpec = spec.vars;
    if (!isPlainObject(varsSpec)) throw location(16874, 'invalid parameter: expected an object (vars)');
    const bindings: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(varsSpec)) bindings[k] = evaluate(v, ctx);
    return evaluate(spec.in, withVars(ctx, bindings));
  },
  $type: (arg, ctx) => typeName(unaryArg(arg, ctx, '$type')),
  $isNumber: (arg, ctx) => numKind(unaryArg(arg, ctx, '$isNumber')) !== null,
  $toString: (arg, ctx) => convertValue(unaryArg(arg, ctx, '$toString'), 'string'),
  $toInt: (arg, ctx) => convertValue(unaryArg(arg, ctx, '$toInt'), 'int'),
  $toLong: (arg, ctx) => convertValue(unaryArg(arg, ctx, '$toLong'), 'long'),
  $toDouble: (arg, ctx) => convertValue(unaryArg(arg, ctx, '$toDouble'), 'double'),
  $toDecimal: (arg, ctx) => convertValue(unaryArg(arg, ctx, '$toDecimal'), 'decimal'),
  $toBool: (arg, ctx) => convertValue(unaryArg(arg, ctx, '$toBool'), 'bool'),
  $toDate: (arg, ctx) => convertValue(unaryArg(arg, ctx, '$toDate'), 'date'),
  $toObjectId: (arg, ctx) => convertValue(unaryArg(arg, ctx, '$toObjectId'), 'objectId'),
  $convert: (arg, ctx) => {
    const spec = objectArg('$convert', arg);
    const input = evaluate(spec.input, ctx);
    let to = evaluate(spec.to, ctx);
    if (numKind(to) !== null) to = NUMERIC_TYPE_NAMES[toDouble(to)];
    if (typeof to !== 'string') throw badConvertTarget(to);
    if (isNullish(input)) return 'onNull' in spec ? evaluate(spec.onNull, ctx) : null;
    try {
      return convertValue(input, to);
    } catch (e) {
      if ('onError' in spec && e instanceof MongoServerError && e.code === 241) return evaluate(spec.onError, ctx);
      throw e;
    }
  },
  $dateToString: (arg, ctx) => {
    const spec = objectArg('$dateToString', arg);
    const date = evaluate(spec.date, ctx);
    if (isNullish(date)) return 'onNull' in spec ? evaluate(spec.onNull, ctx) : null;
    let d: Date;
    if (date instanceof Date) d = date;
    else if (rankOf(date) === Rank.objectId) d = (date as ObjectId).getTimestamp();
    else if (rankOf(date) === Rank.timestamp) d = new Date((date as { t: number }).t * 1000);
    else throw location(16006, `can't convert from BSON type ${typeName(date)} to Date`);
    const format = spec.format === undefined ? '%Y-%m-%dT%H:%M:%S.%LZ' : evaluate(spec.format, ctx);
    if (typeof format !== 'string')
      throw location(18533, `$dateToString requires that 'format' be a string, found: ${typeName(format)}`);
    return formatDate(d, format, parseTimezone(spec.timezone === undefined ? undefined : evaluate(spec.timezone, ctx)));
  },
  $mergeObjects: (arg, ctx) => {
    const out: Doc = {};
    for (const v of operands(arg, ctx)) {
      if (isNullish(v)) continue;
      if (!isPlainObject(v))
        throw location(
          40400,
          `$mergeObjects requires object inputs, but input ${JSON.stringify(v)} is of type ${typeName(v)}`,
        );
      for (const [k, x] of Object.entries(v)) out[k] = x;
    }
    return out;
  },
  $getField: (arg, ctx) => {
    let field: unknown;
    let input: unknown;
    if (isPlainObject(arg) && 'field' in arg) {
      field = arg.field;
      input = 'input' in arg ? evaluate(arg.input, ctx) : ctx.vars.get('CURRENT');
    } else {
      field = arg;
      input = ctx.vars.get('CURRENT');
    }
    if (typeof field !== 'string')
      throw location(5654602, `$getField requires 'field' to evaluate to type String, but got ${typeName(field)}`);
    if (isNullish(input)) return null;
    if (!isPlainObject(input)) return undefined;
    return input[field];
  },
  $setField: (arg, ctx) => setFieldOperator('$setField', arg, ctx),
  $meta: (arg, ctx) => {
    if (arg === 'textScore') {
      const score = ctx.textScores?.get(ctx.root as Doc);
      if (score === undefined) {
        throw location(40218, 'query requires text score metadata, but it is not available');
      }
      return new Double(score);
    }
    if (typeof arg === 'string' && META_NAMES.has(arg)) {
      throw new MongoServerError(115, 'CommandNotSupported', `$meta '${arg}' is not supported by this engine`);
    }
    throw location(17308, `Unsupported argument to $meta: ${typeof arg === 'string' ? arg : typeName(arg)}`);
  },
  $unsetField: (arg, ctx) => setFieldOperator('$unsetField', arg, ctx),
  $objectToArray: (arg, ctx) => {
    const v = unaryArg(arg, ctx, '$objectToArray');
    if (isNullish(v)) return null;
    if (!isPlainObject(v)) throw location(40390, `$objectToArray requires a document input, found: ${typeName(v)}`);
    return Object.entries(v).map(([k, x]) => ({ k, v: x }));
  },
  $arrayToObject: (arg, ctx) => {
    const v = unaryArg(arg, ctx, '$arrayToObject');
    if (isNullish(v)) return null;
    if (!isArray(v)) throw location(40386, `$arrayToObject requires an array input, found: ${typeName(v)}`);
    const out: Doc = {};
    for (const el of v) {
      if (isArray(el) && el.length === 2 && typeof el[0] === 'string') out[el[0]] = el[1];
      else if (isPlainObject(el) && typeof el.k === 'string') out[el.k] = el.v;
      else throw location(40398, 'Unrecognised input type format for $arrayToObject');
    }
    return out;
  },
  $sum: arrayAggregate(sumOf),
  $avg: arrayAggregate(avgValues),
  $max: arrayAggregate(maxValue),
  $min: arrayAggregate(minValue),
  $setUnion: (arg, ctx) => {
    const seen = new Map<string, unknown>();
    for (const v of operands(arg, ctx)) {
      if (isNullish(v)) return null;
      if (!isArray(v))
        throw location(17043, `All operands of $setUnion must be arrays. One argument is of type: ${typeName(v)}`);
      for (const el of v) if (!seen.has(canonicalKey(el))) seen.set(canonicalKey(el), el);
    }
    return [...seen.values()];
  },
  $strcasecmp: (arg, ctx) => {
    const [a, b] = exactArgs('$strcasecmp', arg, ctx, 2);
    const x = isNullish(a) ? '' : toStringValue(a, '$strcasecmp').toUpperCase();
    const y = isNullish(b) ? '' : toStringValue(b, '$strcasecmp').toUpperCase();
    return new Int32(x < y ? -1 : x > y ? 1 : 0);
  },
  $toHashedIndexKey: () => {
    throw new MongoServerError(115, 'CommandNotSupported', '$toHashedIndexKey is not supported by this engine');
  },
};
