import { Binary, BSONRegExp, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'bson';
import { describe, expect, it } from 'vitest';
import { bsonTypeName, canonicalKey, compareValues, valuesEqual } from './index.js';

describe('compareValues', () => {
  it('orders values of different types in BSON type order', () => {
    const ordered = [
      new MinKey(),
      null,
      new Int32(5),
      'a string',
      { a: 1 },
      [1],
      new Binary(Buffer.from('x')),
      new ObjectId('000000000000000000000001'),
      false,
      new Date(0),
      new Timestamp({ t: 1, i: 0 }),
      new BSONRegExp('a', ''),
      new MaxKey(),
    ];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        expect(Math.sign(compareValues(ordered[i], ordered[j])), `${i} vs ${j}`).toBe(Math.sign(i - j));
      }
    }
  });

  it('compares numbers by value across int32, int64, double and decimal128', () => {
    expect(compareValues(new Int32(1), new Double(1))).toBe(0);
    expect(compareValues(Long.fromNumber(1), Decimal128.fromString('1.000'))).toBe(0);
    expect(compareValues(new Double(1.5), Decimal128.fromString('1.5'))).toBe(0);
    expect(compareValues(new Int32(2), new Double(1.5))).toBe(1);
    expect(compareValues(Decimal128.fromString('0.1'), new Double(0.1))).not.toBe(0);
    expect(compareValues(5, 5n)).toBe(0);
  });

  it('compares int64 values beyond 2^53 exactly against doubles', () => {
    const big = Long.fromString('9007199254740993'); // 2^53 + 1, not representable as a double
    expect(compareValues(big, new Double(9007199254740992))).toBe(1);
    expect(compareValues(Long.fromString('9007199254740992'), new Double(9007199254740992))).toBe(0);
  });

  it('sorts NaN below every other number and equal to itself', () => {
    expect(compareValues(new Double(NaN), new Double(-Infinity))).toBe(-1);
    expect(compareValues(new Double(NaN), Decimal128.fromString('NaN'))).toBe(0);
    expect(compareValues(new Double(NaN), null)).toBe(1);
  });

  it('compares documents field by field (order sensitive) and arrays element by element', () => {
    expect(compareValues({ a: 1, b: 2 }, { a: 1, b: 2 })).toBe(0);
    expect(compareValues({ a: 1, b: 2 }, { b: 2, a: 1 })).not.toBe(0);
    expect(compareValues({ a: 1 }, { a: 1, b: 0 })).toBe(-1);
    expect(compareValues([1, 2], [1, 3])).toBe(-1);
    expect(compareValues([1, 2], [1])).toBe(1);
    expect(compareValues([[1]], [[1]])).toBe(0);
  });

  it('compares strings by UTF-8 byte order', () => {
    expect(compareValues('B', 'a')).toBe(-1);
    // U+1F600 (a surrogate pair in UTF-16) sorts after U+FFFD in UTF-8.
    expect(compareValues('\u{1F600}', '\uFFFD')).toBe(1);
  });

  it('treats timestamps as unsigned (t, i) pairs', () => {
    expect(compareValues(new Timestamp({ t: 1, i: 5 }), new Timestamp({ t: 2, i: 0 }))).toBe(-1);
    expect(compareValues(new Timestamp({ t: 2, i: 1 }), new Timestamp({ t: 2, i: 0 }))).toBe(1);
  });
});

describe('canonicalKey', () => {
  it('gives equal numbers of different types the same key, as a unique index does', () => {
    const keys = new Set([
      canonicalKey(new Int32(1)),
      canonicalKey(new Double(1)),
      canonicalKey(Long.fromNumber(1)),
      canonicalKey(Decimal128.fromString('1')),
      canonicalKey(Decimal128.fromString('1.00')),
      canonicalKey(1),
    ]);
    expect(keys.size).toBe(1);
    expect(canonicalKey(new Double(0.5))).toBe(canonicalKey(Decimal128.fromString('0.5')));
    expect(canonicalKey(new Double(-0))).toBe(canonicalKey(new Int32(0)));
  });

  it('gives different values different keys', () => {
    const values = [
      new Int32(1),
      new Double(1.5),
      Decimal128.fromString('0.1'),
      new Double(0.1),
      '1',
      true,
      null,
      new Date(1),
      new ObjectId('000000000000000000000001'),
      { a: 1, b: 2 },
      { b: 2, a: 1 },
      [1, 2],
      [[1, 2]],
      new Timestamp({ t: 1, i: 1 }),
      Long.fromString('9007199254740993'),
      new Double(9007199254740992),
      new Double(1e-7),
      Decimal128.fromString('1E-7'),
    ];
    const keys = values.map(canonicalKey);
    expect(new Set(keys).size).toBe(values.length);
  });

  it('keeps documents equal when their numbers differ only in type', () => {
    expect(canonicalKey({ a: new Int32(2), b: [Long.fromNumber(3)] })).toBe(
      canonicalKey({ a: new Double(2), b: [new Double(3)] }),
    );
    expect(valuesEqual({ a: new Int32(2) }, { a: new Double(2) })).toBe(true);
  });
});

describe('bsonTypeName', () => {
  it('names BSON types as $type does', () => {
    expect(bsonTypeName(new Int32(1))).toBe('int');
    expect(bsonTypeName(new Double(1))).toBe('double');
    expect(bsonTypeName(Long.fromNumber(1))).toBe('long');
    expect(bsonTypeName(Decimal128.fromString('1'))).toBe('decimal');
    expect(bsonTypeName(1)).toBe('int');
    expect(bsonTypeName(1.5)).toBe('double');
    expect(bsonTypeName([])).toBe('array');
    expect(bsonTypeName({})).toBe('object');
    expect(bsonTypeName(null)).toBe('null');
    expect(bsonTypeName(undefined)).toBe('missing');
    expect(bsonTypeName(new ObjectId())).toBe('objectId');
    expect(bsonTypeName(new Date())).toBe('date');
    expect(bsonTypeName(new BSONRegExp('a', ''))).toBe('regex');
  });
});
