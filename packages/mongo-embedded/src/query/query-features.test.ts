import { Int32 } from 'bson';
import { describe, expect, it } from 'vitest';
import { serverErrorThrownBy } from '../test-support/thrown.js';
import {
  compileFilter,
  compileProjection,
  compileSort,
  evaluateExpression,
  normaliseTextIndexSpec,
  parseCollation,
  runPipeline,
  textIndexOf,
  type Doc,
} from './index.js';

const customers: Doc[] = [
  { _id: 1, name: 'Ada' },
  { _id: 2, name: 'Grace' },
];
const orders: Doc[] = [
  { _id: 10, c: 1, tags: ['x'] },
  { _id: 11, c: [1, 2] },
  { _id: 12 },
  { _id: 13, c: [] },
  { _id: 14, c: null },
];
const resolveCollection = (name: string): Doc[] => (name === 'orders' ? orders : []);

describe('$lookup', () => {
  it('matches array local values element-wise and a missing local value against missing foreign fields', () => {
    const out = runPipeline(
      customers,
      [{ $lookup: { from: 'orders', localField: '_id', foreignField: 'c', as: 'o' } }],
      {
        resolveCollection,
      },
    );
    expect(out.map((d) => (d.o as Doc[]).map((o) => o._id))).toEqual([[10, 11], [11]]);
    const missing = runPipeline(
      [{ _id: 3 }],
      [{ $lookup: { from: 'orders', localField: 'nope', foreignField: 'c', as: 'o' } }],
      {
        resolveCollection,
      },
    );
    expect((missing[0]?.o as Doc[]).map((o) => o._id)).toEqual([12, 14]);
  });

  it('refuses malformed specifications with mongod codes', () => {
    const cases: [unknown, number][] = [
      ['orders', 40319],
      [{ from: 'orders', as: 'o', localField: 'a', foreignField: 'b', extra: 1 }, 5858400],
      [{ from: 1, as: 'o', localField: 'a', foreignField: 'b' }, 9],
      [{ from: 'orders', localField: 'a', foreignField: 'b' }, 9],
      [{ from: 'orders', as: 'o', localField: 'a' }, 9],
      [{ from: 'orders', as: 'o' }, 9],
      [{ from: 'orders', as: 'o', pipeline: 'x' }, 9],
      [{ from: 'orders', as: 'o', let: 'x', pipeline: [] }, 9],
      [{ from: 'orders', as: 'o', let: { Bad: 1 }, pipeline: [] }, 16867],
      [{ from: 'orders', as: 'o', pipeline: [{ $out: 'x' }] }, 51047],
      [{ from: { db: 'other', coll: 'orders' }, as: 'o', pipeline: [] }, 115],
    ];
    for (const [spec, code] of cases) {
      expect(serverErrorThrownBy(() => runPipeline(customers, [{ $lookup: spec }], { resolveCollection })).code).toBe(
        code,
      );
    }
  });
});

describe('$facet, $documents, $out/$merge placement, unsupported stages', () => {
  it('refuses what mongod refuses', () => {
    const cases: [Doc[], number][] = [
      [[{ $facet: {} }], 15947],
      [[{ $facet: { a: 'x' } }], 40170],
      [[{ $facet: { a: [] } }], 40171],
      [[{ $facet: { a: [{ $facet: { b: [{ $limit: 1 }] } }] } }], 40600],
      [[{ $match: {} }, { $documents: [] }], 40602],
      [[{ $out: 'x' }, { $limit: 1 }], 40601],
      [[{ $merge: 'x' }, { $limit: 1 }], 40601],
      [[{ $unionWith: 'x' }], 115],
      [[{ $match: {} }, { $match: { $text: { $search: 'x' } } }], 17313],
    ];
    for (const [pipeline, code] of cases)
      expect(serverErrorThrownBy(() => runPipeline(customers, pipeline)).code).toBe(code);
  });
});

describe('$setField, $unsetField and $meta', () => {
  it('sets, replaces in place, and removes with $$REMOVE', () => {
    const doc = { a: 1, 'x.y': 2 };
    expect(evaluateExpression({ $setField: { field: 'x.y', input: '$$ROOT', value: 3 } }, doc)).toEqual({
      a: 1,
      'x.y': 3,
    });
    expect(evaluateExpression({ $setField: { field: 'a', input: '$$ROOT', value: '$$REMOVE' } }, doc)).toEqual({
      'x.y': 2,
    });
    expect(evaluateExpression({ $unsetField: { field: 'x.y', input: '$$ROOT' } }, doc)).toEqual({ a: 1 });
    expect(evaluateExpression({ $setField: { field: 'n', input: null, value: 1 } }, doc)).toBeNull();
  });

  it('refuses bad arguments with mongod codes', () => {
    const cases: [unknown, number][] = [
      [{ $setField: 'x' }, 4161100],
      [{ $setField: { field: 'a', input: {}, value: 1, more: 1 } }, 4161101],
      [{ $setField: { field: 'a', input: {} } }, 4161102],
      [{ $setField: { field: 1, input: {}, value: 1 } }, 4161106],
      [{ $setField: { field: '$a', input: {}, value: 1 } }, 4161108],
      [{ $setField: { field: 'a', input: 5, value: 1 } }, 4161105],
      [{ $meta: 'textScore' }, 40218],
      [{ $meta: 'searchScore' }, 115],
      [{ $meta: 'nonsense' }, 17308],
    ];
    for (const [expr, code] of cases)
      expect(serverErrorThrownBy(() => evaluateExpression(expr, { a: 1 })).code).toBe(code);
  });
});

describe('let variables in filters and projections', () => {
  it('binds $$name in $expr and computed projection fields', () => {
    const pred = compileFilter({ $expr: { $gt: ['$n', '$$min'] } }, { vars: { min: 2 } });
    expect([{ n: 1 }, { n: 3 }].map((d) => pred(d))).toEqual([false, true]);
    expect(compileProjection({ twice: { $multiply: ['$n', '$$k'] } }, { vars: { k: 2 } })({ _id: 1, n: 4 })).toEqual({
      _id: 1,
      twice: new Int32(8),
    });
  });
});

describe('collation parsing', () => {
  it('refuses wrong types and contradictory simple collations', () => {
    const cases: [unknown, number][] = [
      ['en', 14],
      [{ locale: 1 }, 14],
      [{ locale: 'en', strength: 'two' }, 14],
      [{ locale: 'en', numericOrdering: 1 }, 14],
      [{ locale: 'simple', strength: 2 }, 2],
    ];
    for (const [spec, code] of cases) expect(serverErrorThrownBy(() => parseCollation(spec)).code).toBe(code);
    expect(parseCollation({ locale: 'simple' })).toBeNull();
    expect(parseCollation({ locale: 'en_US', strength: 1 })?.strength).toBe(1);
  });

  it('sorts nested strings and $in lists under the collation', () => {
    const en2 = parseCollation({ locale: 'en', strength: 2 });
    const docs = [{ a: { s: 'b' } }, { a: { s: 'A' } }];
    expect([...docs].sort(compileSort({ 'a.s': 1 }, en2)).map((d) => d.a.s)).toEqual(['A', 'b']);
    const many = Array.from({ length: 12 }, (_, i) => `V${i}`);
    const pred = compileFilter({ v: { $in: many } }, { collation: en2 });
    expect(pred({ v: 'v11' })).toBe(true);
    expect(compileFilter({ v: { $in: many } })({ v: 'v11' })).toBe(false);
  });
});

describe('$text', () => {
  const index = textIndexOf(normaliseTextIndexSpec({ key: { t: 'text' }, name: 't_text' }))!;

  it('requires a text index and a single $text with a string $search', () => {
    expect(serverErrorThrownBy(() => compileFilter({ $text: { $search: 'x' } })).code).toBe(27);
    const text = { index, scores: new WeakMap() };
    expect(serverErrorThrownBy(() => compileFilter({ $text: {} }, { text })).code).toBe(2);
    expect(serverErrorThrownBy(() => compileFilter({ $text: { $search: 'x', $foo: 1 } }, { text })).code).toBe(2);
    expect(
      serverErrorThrownBy(() =>
        compileFilter({ $and: [{ $text: { $search: 'x' } }, { $text: { $search: 'y' } }] }, { text }),
      ).message,
    ).toBe('Too many text expressions');
  });

  it('honours $caseSensitive and $diacriticSensitive, and only negations match nothing', () => {
    const text = { index, scores: new WeakMap() };
    const doc = { t: 'Crème Brûlée' };
    expect(compileFilter({ $text: { $search: 'creme' } }, { text })(doc)).toBe(true);
    expect(compileFilter({ $text: { $search: 'creme', $diacriticSensitive: true } }, { text })(doc)).toBe(false);
    expect(compileFilter({ $text: { $search: 'crème', $caseSensitive: true } }, { text })(doc)).toBe(false);
    expect(compileFilter({ $text: { $search: '-tea' } }, { text })(doc)).toBe(false);
  });

  it('refuses compound text indexes and unsupported default languages', () => {
    expect(serverErrorThrownBy(() => normaliseTextIndexSpec({ key: { t: 'text', n: 1 }, name: 'x' })).code).toBe(67);
    expect(
      serverErrorThrownBy(() => normaliseTextIndexSpec({ key: { t: 'text' }, name: 'x', default_language: 'fr' })).code,
    ).toBe(17262);
  });
});
