import { BSONRegExp, Decimal128, Double, Int32, Long, MaxKey, MinKey } from 'bson';
import { describe, expect, it } from 'vitest';
import { serverErrorThrownBy } from '../test-support/thrown.js';
import { compileFilter, fieldBounds, regexPrefix, upsertSeed, type Doc } from './index.js';

function matches(filter: Doc, doc: Doc): boolean {
  return compileFilter(filter)(doc);
}

function which(filter: Doc, docs: Doc[]): unknown[] {
  const pred = compileFilter(filter);
  return docs.filter(pred).map((d) => d._id);
}

describe('equality', () => {
  const docs = [
    { _id: 1, a: new Int32(1) },
    { _id: 2, a: new Double(1) },
    { _id: 3, a: [new Int32(5), new Int32(1)] },
    { _id: 4, a: [[new Int32(1)]] },
    { _id: 5, a: null },
    { _id: 6 },
    { _id: 7, a: '1' },
  ];

  it('matches numbers by value across types and array elements', () => {
    expect(which({ a: new Long(1) }, docs)).toEqual([1, 2, 3]);
    expect(which({ a: { $eq: Decimal128.fromString('1.0') } }, docs)).toEqual([1, 2, 3]);
  });

  it('matches a whole array or an array element that is itself an array', () => {
    expect(which({ a: [new Int32(5), new Int32(1)] }, docs)).toEqual([3]);
    expect(which({ a: [new Int32(1)] }, docs)).toEqual([4]);
    expect(which({ a: [new Int32(1), new Int32(5)] }, docs)).toEqual([]);
  });

  it('matches null against null and missing fields', () => {
    expect(which({ a: null }, docs)).toEqual([5, 6]);
    expect(which({ a: { $ne: null } }, docs)).toEqual([1, 2, 3, 4, 7]);
    expect(which({ a: { $exists: false } }, docs)).toEqual([6]);
    expect(which({ a: { $exists: true } }, docs)).toEqual([1, 2, 3, 4, 5, 7]);
  });

  it('compares documents with field order', () => {
    expect(matches({ a: { x: 1, y: 2 } }, { a: { x: 1, y: 2 } })).toBe(true);
    expect(matches({ a: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } })).toBe(false);
  });
});

describe('dotted paths', () => {
  it('traverses arrays of documents', () => {
    const doc = { a: [{ b: 1 }, { b: [2, 3] }, { c: 1 }] };
    expect(matches({ 'a.b': 3 }, doc)).toBe(true);
    expect(matches({ 'a.b': [2, 3] }, doc)).toBe(true);
    expect(matches({ 'a.b': 4 }, doc)).toBe(false);
    // The element without `b` makes `a.b: null` true.
    expect(matches({ 'a.b': null }, doc)).toBe(true);
    expect(matches({ 'a.b': null }, { a: [{ b: 1 }] })).toBe(false);
  });

  it('indexes into arrays with numeric components', () => {
    const doc = { a: [{ b: 'x' }, { b: 'y' }], n: [10, 20] };
    expect(matches({ 'a.1.b': 'y' }, doc)).toBe(true);
    expect(matches({ 'a.0.b': 'y' }, doc)).toBe(false);
    expect(matches({ 'n.1': 20 }, doc)).toBe(true);
    expect(matches({ 'n.1': { $gt: 15 } }, doc)).toBe(true);
    expect(matches({ 'n.5': { $exists: true } }, doc)).toBe(false);
  });

  it('does not implicitly traverse nested arrays', () => {
    expect(matches({ 'a.b': 1 }, { a: [[{ b: 1 }]] })).toBe(false);
    expect(matches({ 'a.b': 1 }, { a: { b: 1 } })).toBe(true);
  });

  it('treats a path through a scalar as missing', () => {
    expect(matches({ 'a.b': null }, { a: 5 })).toBe(true);
    expect(matches({ 'a.b': { $exists: false } }, { a: [1, 2] })).toBe(true);
  });
});

describe('comparison operators', () => {
  const docs = [
    { _id: 1, v: new Int32(5) },
    { _id: 2, v: new Double(7.5) },
    { _id: 3, v: 'ten' },
    { _id: 4, v: [new Int32(1), new Int32(20)] },
    { _id: 5, v: null },
    { _id: 6 },
    { _id: 7, v: new Double(NaN) },
  ];

  it('applies type bracketing: numbers only compare with numbers', () => {
    expect(which({ v: { $gt: new Int32(6) } }, docs)).toEqual([2, 4]);
    expect(which({ v: { $lt: new Int32(6) } }, docs)).toEqual([1, 4]);
    expect(which({ v: { $gte: 'a' } }, docs)).toEqual([3]);
  });

  it('lets different array elements satisfy different bounds', () => {
    expect(which({ v: { $gt: new Int32(10), $lt: new Int32(3) } }, docs)).toEqual([4]);
    expect(which({ v: { $elemMatch: { $gt: new Int32(10), $lt: new Int32(3) } } }, docs)).toEqual([]);
  });

  it('matches null and missing with $gte/$lte null only', () => {
    expect(which({ v: { $gte: null } }, docs)).toEqual([5, 6]);
    expect(which({ v: { $lt: null } }, docs)).toEqual([]);
  });

  it('matches NaN only with equality-inclusive operators on NaN', () => {
    expect(which({ v: { $lt: new Int32(100) } }, docs)).toEqual([1, 2, 4]);
    expect(which({ v: new Double(NaN) }, docs)).toEqual([7]);
    expect(which({ v: { $gte: new Double(NaN) } }, docs)).toEqual([7]);
    expect(which({ v: { $gt: new Double(NaN) } }, docs)).toEqual([]);
  });

  it('uses MinKey and MaxKey as bounds across all types', () => {
    expect(which({ v: { $gt: new MinKey() } }, docs)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(which({ v: { $gte: new MaxKey() } }, docs)).toEqual([]);
  });

  it('$in and $nin, including null and regexes', () => {
    expect(which({ v: { $in: [new Int32(5), 'ten'] } }, docs)).toEqual([1, 3]);
    expect(which({ v: { $in: [null] } }, docs)).toEqual([5, 6]);
    expect(which({ v: { $in: [/^t/] } }, docs)).toEqual([3]);
    expect(which({ v: { $nin: [new Int32(5), null, new Int32(20)] } }, docs)).toEqual([2, 3, 7]);
    const many = Array.from({ length: 20 }, (_, i) => new Int32(i + 100));
    expect(which({ v: { $in: [...many, new Double(5)] } }, docs)).toEqual([1]);
  });
});

describe('logical operators', () => {
  const docs = [
    { _id: 1, a: 1, b: 1 },
    { _id: 2, a: 1, b: 2 },
    { _id: 3, a: 2, b: 2 },
  ];
  it('$and, $or, $nor, $not', () => {
    expect(which({ $and: [{ a: 1 }, { b: 2 }] }, docs)).toEqual([2]);
    expect(which({ $or: [{ a: 2 }, { b: 1 }] }, docs)).toEqual([1, 3]);
    expect(which({ $nor: [{ a: 2 }, { b: 1 }] }, docs)).toEqual([2]);
    expect(which({ b: { $not: { $gt: 1 } } }, docs)).toEqual([1]);
    expect(which({ c: { $not: { $gt: 1 } } }, docs)).toEqual([1, 2, 3]);
  });

  it('rejects malformed logical operators', () => {
    expect(serverErrorThrownBy(() => compileFilter({ $or: [] })).code).toBe(2);
    expect(serverErrorThrownBy(() => compileFilter({ $and: {} })).code).toBe(2);
    expect(serverErrorThrownBy(() => compileFilter({ $or: [1] })).message).toBe(
      '$or/$and/$nor entries need to be full objects',
    );
    expect(serverErrorThrownBy(() => compileFilter({ a: { $not: 5 } })).message).toBe(
      '$not needs a regex or a document',
    );
  });
});

describe('element and array operators', () => {
  it('$type by name, number, array of types and "number"', () => {
    const docs = [
      { _id: 1, v: new Int32(1) },
      { _id: 2, v: new Double(1) },
      { _id: 3, v: Long.fromNumber(1) },
      { _id: 4, v: Decimal128.fromString('1') },
      { _id: 5, v: 'x' },
      { _id: 6, v: ['x', new Int32(2)] },
      { _id: 7, v: [] },
    ];
    expect(which({ v: { $type: 'int' } }, docs)).toEqual([1, 6]);
    expect(which({ v: { $type: 1 } }, docs)).toEqual([2]);
    expect(which({ v: { $type: 'number' } }, docs)).toEqual([1, 2, 3, 4, 6]);
    expect(which({ v: { $type: ['long', 'decimal'] } }, docs)).toEqual([3, 4]);
    expect(which({ v: { $type: 'array' } }, docs)).toEqual([6, 7]);
    expect(serverErrorThrownBy(() => compileFilter({ v: { $type: 'nope' } })).message).toBe(
      'Unknown type name alias: nope',
    );
  });

  it('$regex with $options, RegExp and BSONRegExp values', () => {
    const docs = [
      { _id: 1, s: 'Apple' },
      { _id: 2, s: 'apricot' },
      { _id: 3, s: ['banana', 'avocado'] },
      { _id: 4, s: new BSONRegExp('^a', 'i') },
      { _id: 5, s: 42 },
    ];
    expect(which({ s: { $regex: '^a' } }, docs)).toEqual([2, 3]);
    expect(which({ s: { $regex: '^a', $options: 'i' } }, docs)).toEqual([1, 2, 3, 4]);
    // A stored regex matches only the identical regex.
    expect(which({ s: /^A/i }, docs)).toEqual([1, 2, 3]);
    expect(which({ s: new BSONRegExp('p  p # comment', 'x') }, docs)).toEqual([1]);
    expect(which({ s: { $not: /^a/ } }, docs)).toEqual([1, 4, 5]);
    expect(serverErrorThrownBy(() => compileFilter({ s: { $options: 'i' } })).message).toBe('$options needs a $regex');
  });

  it('$size, $all and $elemMatch in both forms', () => {
    const docs = [
      {
        _id: 1,
        t: ['a', 'b'],
        r: [
          { k: 1, v: 'x' },
          { k: 2, v: 'y' },
        ],
      },
      { _id: 2, t: ['a'], r: [{ k: 1, v: 'y' }] },
      { _id: 3, t: 'a', r: [] },
    ];
    expect(which({ t: { $size: 2 } }, docs)).toEqual([1]);
    expect(which({ t: { $size: 0 } }, docs)).toEqual([]);
    expect(which({ t: { $all: ['a', 'b'] } }, docs)).toEqual([1]);
    expect(which({ t: { $all: ['a'] } }, docs)).toEqual([1, 2, 3]);
    expect(which({ t: { $all: [] } }, docs)).toEqual([]);
    expect(which({ r: { $elemMatch: { k: 1, v: 'y' } } }, docs)).toEqual([2]);
    expect(which({ 'r.k': 1, 'r.v': 'y' }, docs)).toEqual([1, 2]);
    expect(which({ r: { $all: [{ $elemMatch: { k: 2 } }, { $elemMatch: { v: 'x' } }] } }, docs)).toEqual([1]);
    expect(serverErrorThrownBy(() => compileFilter({ t: { $size: -1 } })).code).toBe(2);
  });

  it('$mod truncates and matches numbers only', () => {
    const docs = [
      { _id: 1, n: new Int32(7) },
      { _id: 2, n: new Double(7.9) },
      { _id: 3, n: Long.fromNumber(-7) },
      { _id: 4, n: '7' },
    ];
    expect(which({ n: { $mod: [3, 1] } }, docs)).toEqual([1, 2]);
    expect(which({ n: { $mod: [3, -1] } }, docs)).toEqual([3]);
    expect(serverErrorThrownBy(() => compileFilter({ n: { $mod: [0, 1] } })).message).toBe('divisor cannot be 0');
    expect(serverErrorThrownBy(() => compileFilter({ n: { $mod: [1] } })).message).toBe(
      'malformed mod, not enough elements',
    );
  });

  it('$expr evaluates aggregation expressions against the document', () => {
    const docs = [
      { _id: 1, spent: new Int32(120), budget: new Int32(100) },
      { _id: 2, spent: new Int32(50), budget: new Double(100) },
    ];
    expect(which({ $expr: { $gt: ['$spent', '$budget'] } }, docs)).toEqual([1]);
    expect(serverErrorThrownBy(() => compileFilter({ $expr: { $nope: 1 } })).code).toBe(168);
  });
});

describe('errors', () => {
  it('rejects unknown operators with BadValue', () => {
    const e = serverErrorThrownBy(() => compileFilter({ a: { $foo: 1 } }));
    expect(e.code).toBe(2);
    expect(e.codeName).toBe('BadValue');
    expect(e.message).toBe('unknown operator: $foo');
    expect(serverErrorThrownBy(() => compileFilter({ $foo: 1 })).message).toMatch(/^unknown top level operator: \$foo/);
    expect(serverErrorThrownBy(() => compileFilter({ a: { $in: 5 } })).message).toBe('$in needs an array');
  });
});

describe('upsertSeed', () => {
  it('collects equality fields, building nested documents for dotted paths', () => {
    expect(upsertSeed({ _id: 7, 'a.b': 1, c: { $eq: 2 }, d: { $gt: 3 }, $and: [{ e: 4 }], f: { $in: [5] } })).toEqual({
      _id: 7,
      a: { b: 1 },
      c: 2,
      e: 4,
      f: 5,
    });
  });
});

describe('regexPrefix', () => {
  it('reads the literal characters after ^ until the first metacharacter', () => {
    expect(regexPrefix('^glo', '')).toBe('glo');
    expect(regexPrefix('^a\\.b*c', '')).toBe('a.');
    expect(regexPrefix('^ab?', '')).toBe('a');
    expect(regexPrefix('^ab+c', '')).toBe('ab');
    expect(regexPrefix('^ab{2}', '')).toBe('a');
    expect(regexPrefix('^a\\dx', '')).toBe('a');
    expect(regexPrefix('^(a|b)', '')).toBe('');
    expect(regexPrefix('^a b', 'x')).toBe('ab');
    // An optional astral character is no part of the prefix, whichever half the quantifier applies to.
    expect(regexPrefix('^a\u{1F600}?', 'u')).toBe('a');
    expect(regexPrefix('^a\u{1F600}b', '')).toBe('a\u{1F600}b');
  });

  it('has no prefix when ^ does not anchor the start of every match', () => {
    expect(regexPrefix('glo', '')).toBeNull();
    expect(regexPrefix('^glo', 'i')).toBeNull();
    expect(regexPrefix('^glo', 'm')).toBeNull();
    expect(regexPrefix('^glo|red', '')).toBeNull();
    expect(regexPrefix('(?i)^glo', '')).toBeNull();
  });
});

describe('fieldBounds', () => {
  it('extracts equality and $in values', () => {
    expect(fieldBounds({ a: 5, b: 1 }, 'a')).toEqual({ eq: [5] });
    expect(fieldBounds({ a: { $in: [1, 2] } }, 'a')).toEqual({ eq: [1, 2] });
    expect(fieldBounds({ $and: [{ a: { $eq: 'x' } }] }, 'a')).toEqual({ eq: ['x'] });
  });

  it('returns null when the filter does not usably constrain the field', () => {
    expect(fieldBounds({ b: 1 }, 'a')).toBeNull();
    expect(fieldBounds({ $or: [{ a: 1 }, { a: 2 }] }, 'a')).toBeNull();
    expect(fieldBounds({ a: { $ne: 1 } }, 'a')).toBeNull();
    expect(fieldBounds({ a: { $not: { $gt: 1 } } }, 'a')).toBeNull();
    expect(fieldBounds({ a: /x/ }, 'a')).toBeNull();
    expect(fieldBounds({ a: /^x/i }, 'a')).toBeNull();
    expect(fieldBounds({ a: [1, 2] }, 'a')).toBeNull();
    expect(fieldBounds({ a: { $exists: true } }, 'a')).toBeNull();
  });

  it('bounds null, a missing field and a regex prefix', () => {
    const nullPoint = { eq: [null] };
    expect(fieldBounds({ a: null }, 'a')).toEqual(nullPoint);
    expect(fieldBounds({ a: { $exists: false } }, 'a')).toEqual(nullPoint);
    const glo = fieldBounds({ a: /^glo/ }, 'a');
    expect(glo?.ranges?.[0]).toEqual({
      min: { value: 'glo', inclusive: true },
      max: { value: 'glp', inclusive: false },
    });
    // Both sides even on a multikey field, and the regex value itself is a point of its own.
    expect(glo?.ranges?.[1]?.min?.value).toEqual(new BSONRegExp('^glo', ''));
    expect(fieldBounds({ a: { $in: [/^ab/, 'x'] } }, 'a')).toMatchObject({ eq: ['x'], ranges: [{}, {}] });
    expect(fieldBounds({ a: { $in: [/^ab/, /b/] } }, 'a')).toBeNull();
  });

  it('returns one side of a range unless the field is known not to hold arrays', () => {
    const filter = { a: { $gte: 1, $lt: 10 }, $or: [{ b: 1 }] };
    expect(fieldBounds(filter, 'a')).toEqual({ min: { value: 1, inclusive: true } });
    expect(fieldBounds(filter, 'a', { multikey: false })).toEqual({
      min: { value: 1, inclusive: true },
      max: { value: 10, inclusive: false },
    });
    // The multikey answer never excludes a document the filter matches.
    const doc = { a: [0, 20] };
    expect(compileFilter(filter)({ ...doc, b: 1 })).toBe(true);
  });

  it('intersects conditions for non-multikey fields', () => {
    expect(
      fieldBounds({ $and: [{ a: { $gt: 1 } }, { a: { $gt: 5 } }, { a: { $lte: 9 } }] }, 'a', { multikey: false }),
    ).toEqual({
      min: { value: 5, inclusive: false },
      max: { value: 9, inclusive: true },
    });
    expect(fieldBounds({ $and: [{ a: { $in: [1, 5, 9] } }, { a: { $gt: 4 } }] }, 'a', { multikey: false })).toEqual({
      eq: [5, 9],
    });
  });
});
