import { Decimal128, Double, Int32, Long } from 'bson';
import { numKind, parseDecimalString, pow10, toBigIntExact, toDouble, type NumKind } from './values.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function makeInt(n: number): Int32 {
  return new Int32(n);
}
export function makeDouble(n: number): Double {
  return new Double(n);
}
export function makeLong(n: bigint): Long {
  return Long.fromBigInt(n);
}

/** A number of the smallest of int32/int64 that holds `n`, else null. */
export function integerResult(n: bigint): Int32 | Long | null {
  if (n >= -2147483648n && n <= 2147483647n) return new Int32(Number(n));
  if (n >= INT64_MIN && n <= INT64_MAX) return Long.fromBigInt(n);
  return null;
}

export function fitsInt64(n: bigint): boolean {
  return n >= INT64_MIN && n <= INT64_MAX;
}

interface DecimalValue {
  special?: 'nan' | 'inf' | '-inf';
  coeff: bigint;
  exp: number;
}

/** Converts any number value to decimal form; doubles go through 15 significant digits, as the server does. */
function toDecimalValue(v: unknown, kind: NumKind): DecimalValue {
  if (kind === 'decimal') {
    const p = parseDecimalString((v as Decimal128).toString());
    if (p.kind === 'nan') return { special: 'nan', coeff: 0n, exp: 0 };
    if (p.kind === 'inf') return { special: p.sign > 0 ? 'inf' : '-inf', coeff: 0n, exp: 0 };
    return { coeff: p.coeff, exp: p.exp };
  }
  if (kind === 'double') {
    const d = toDouble(v);
    if (Number.isNaN(d)) return { special: 'nan', coeff: 0n, exp: 0 };
    if (!Number.isFinite(d)) return { special: d > 0 ? 'inf' : '-inf', coeff: 0n, exp: 0 };
    const p = parseDecimalString(d.toPrecision(15));
    if (p.kind !== 'finite') return { special: 'nan', coeff: 0n, exp: 0 };
    return { coeff: p.coeff, exp: p.exp };
  }
  return { coeff: toBigIntExact(v) ?? 0n, exp: 0 };
}

function decimalOf(d: DecimalValue): Decimal128 {
  if (d.special === 'nan') return Decimal128.fromString('NaN');
  if (d.special === 'inf') return Decimal128.fromString('Infinity');
  if (d.special === '-inf') return Decimal128.fromString('-Infinity');
  return Decimal128.fromStringWithRounding(`${d.coeff}E${d.exp}`);
}

function decimalToDouble(d: DecimalValue): number {
  if (d.special === 'nan') return NaN;
  if (d.special === 'inf') return Infinity;
  if (d.special === '-inf') return -Infinity;
  return Number(`${d.coeff}e${d.exp}`);
}

function decimalArith(op: ArithOp, a: DecimalValue, b: DecimalValue): DecimalValue {
  if (a.special || b.special) {
    // Special values follow IEEE semantics; doubles give the same answers.
    const r = doubleArith(op, decimalToDouble(a), decimalToDouble(b));
    if (Number.isNaN(r)) return { special: 'nan', coeff: 0n, exp: 0 };
    if (!Number.isFinite(r)) return { special: r > 0 ? 'inf' : '-inf', coeff: 0n, exp: 0 };
    const p = parseDecimalString(String(r));
    return p.kind === 'finite' ? { coeff: p.coeff, exp: p.exp } : { special: 'nan', coeff: 0n, exp: 0 };
  }
  switch (op) {
    case 'add':
    case 'subtract': {
      const e = Math.min(a.exp, b.exp);
      const x = a.coeff * pow10(a.exp - e);
      const y = b.coeff * pow10(b.exp - e);
      return { coeff: op === 'add' ? x + y : x - y, exp: e };
    }
    case 'multiply':
      return { coeff: a.coeff * b.coeff, exp: a.exp + b.exp };
    case 'divide': {
      if (b.coeff === 0n) {
        if (a.coeff === 0n) return { special: 'nan', coeff: 0n, exp: 0 };
        // A zero divisor carries no sign here, so the dividend's sign decides (IEEE with +0).
        return { special: a.coeff > 0n ? 'inf' : '-inf', coeff: 0n, exp: 0 };
      }
      // 40 extra digits, then Decimal128 rounds to 34 significant digits.
      const scale = 40 + Math.max(0, String(b.coeff).length - String(a.coeff).length);
      let q = (a.coeff * pow10(scale)) / b.coeff;
      let exp = a.exp - b.exp - scale;
      while (q !== 0n && q % 10n === 0n && exp < 0) {
        q /= 10n;
        exp++;
      }
      return { coeff: q, exp };
    }
    case 'mod': {
      if (b.coeff === 0n) return { special: 'nan', coeff: 0n, exp: 0 };
      const e = Math.min(a.exp, b.exp);
      const x = a.coeff * pow10(a.exp - e);
      const y = b.coeff * pow10(b.exp - e);
      return { coeff: x % y, exp: e };
    }
  }
}

export type ArithOp = 'add' | 'subtract' | 'multiply' | 'divide' | 'mod';

function doubleArith(op: ArithOp, x: number, y: number): number {
  switch (op) {
    case 'add':
      return x + y;
    case 'subtract':
      return x - y;
    case 'multiply':
      return x * y;
    case 'divide':
      return x / y;
    case 'mod':
      return x % y;
  }
}

function bigArith(op: ArithOp, x: bigint, y: bigint): bigint {
  switch (op) {
    case 'add':
      return x + y;
    case 'subtract':
      return x - y;
    case 'multiply':
      return x * y;
    case 'divide':
      return x / y;
    case 'mod':
      return x % y;
  }
}

/**
 * Arithmetic with MongoDB's result types: decimal if either is decimal, else double if either is double, else
 * long if either is long, else int; an int result that overflows becomes a long. A long result that overflows is
 * a double when `longOverflow` is 'double' (aggregation) or null when 'fail' (update operators, which then error).
 * `divide` of integers gives a double, as `$divide` does.
 */
export function arith(op: ArithOp, a: unknown, b: unknown, longOverflow: 'double' | 'fail' = 'double'): unknown {
  const ka = numKind(a);
  const kb = numKind(b);
  if (ka === null || kb === null) throw new Error('arith on non-number');
  if (ka === 'decimal' || kb === 'decimal')
    return decimalOf(decimalArith(op, toDecimalValue(a, ka), toDecimalValue(b, kb)));
  if (ka === 'double' || kb === 'double' || op === 'divide')
    return new Double(doubleArith(op, toDouble(a), toDouble(b)));
  const x = toBigIntExact(a) ?? 0n;
  const y = toBigIntExact(b) ?? 0n;
  const r = bigArith(op, x, y);
  if (ka === 'long' || kb === 'long') {
    if (fitsInt64(r)) return Long.fromBigInt(r);
    return longOverflow === 'fail' ? null : new Double(doubleArith(op, Number(x), Number(y)));
  }
  if (r >= -2147483648n && r <= 2147483647n) return new Int32(Number(r));
  if (fitsInt64(r)) return Long.fromBigInt(r);
  return longOverflow === 'fail' ? null : new Double(Number(r));
}

/** A zero of the same numeric type as `v` (what `$mul` creates on a missing field). */
export function zeroLike(v: unknown): unknown {
  switch (numKind(v)) {
    case 'long':
      return Long.fromBigInt(0n);
    case 'double':
      return new Double(0);
    case 'decimal':
      return Decimal128.fromString('0');
    default:
      return new Int32(0);
  }
}
