import { Decimal128, Double, Int32, Long } from 'bson';
import { describe, expect, it } from 'vitest';
import { serverErrorThrownBy } from '../test-support/thrown.js';
import { bsonTypeName, compileProjection, compileSort, evaluateExpression, runPipeline, type Doc } from './index.js';

describe('compileProjection', () => {
  const doc = { _id: 1, a: 1, b: { c: 2, d: 3 }, arr: [{ x: 1, y: 2 }, 5, { x: 3 }], tags: [1, 2, 3, 4] };

  it('includes fields with _id by default, in document order', () => {
    expect(compileProjection({ b: 1, a: 1 })(doc)).toEqual({ _id: 1, a: 1, b: { c: 2, d: 3 } });
    expect(Object.keys(compileProjection({ b: 1, a: 1 })(doc))).toEqual(['_id', 'a', 'b']);
    expect(compileProjection({ a: 1, _id: 0 })(doc)).toEqual({ a: 1 });
  });

  it('excludes fields, including dotted paths through arrays', () => {
    expect(compileProjection({ b: 0, tags: 0, 'arr.x': 0 })(doc)).toEqual({ _id: 1, a: 1, arr: [{ y: 2 }, 5, {}] });
    expect(compileProjection({ _id: 0 })(doc)).toEqual({ a: 1, b: doc.b, arr: doc.arr, tags: doc.tags });
  });

  it('includes dotted paths, dropping scalars inside arrays', () => {
    expect(compileProjection({ 'b.c': 1, 'arr.x': 1 })(doc)).toEqual({
      _id: 1,
      b: { c: 2 },
      arr: [{ x: 1 }, { x: 3 }],
    });
  });

  it('rejects mixing inclusion and exclusion', () => {
    const e = serverErrorThrownBy(() => compileProjection({ a: 1, b: 0 }));
    expect(e.code).toBe(31254);
    expect(e.message).toBe('Cannot do exclusion on field b in inclusion projection');
    expect(serverErrorThrownBy(() => compileProjection({ b: 0, a: 1 })).code).toBe(31253);
  });

  it('supports $slice and $elemMatch', () => {
    expect(compileProjection({ tags: { $slice: 2 } })(doc)).toEqual({ ...doc, tags: [1, 2] });
    expect(compileProjection({ tags: { $slice: -1 }, a: 1 })(doc)).toEqual({ _id: 1, a: 1, tags: [4] });
    expect(compileProjection({ tags: { $slice: [1, 2] } })(doc).tags).toEqual([2, 3]);
    expect(compileProjection({ arr: { $elemMatch: { x: { $gt: 1 } } } })(doc)).toEqual({ _id: 1, arr: [{ x: 3 }] });
    expect(compileProjection({ arr: { $elemMatch: { x: 99 } } })(doc)).toEqual({ _id: 1 });
  });

  it('computes expression fields', () => {
    expect(compileProjection({ total: { $add: ['$a', '$b.c'] }, _id: 0 })(doc)).toEqual({ total: new Int32(3) });
  });
});

describe('compileSort', () => {
  it('sorts by several keys with missing as null', () => {
    const docs: Doc[] = [
      { _id: 1, a: 2, b: 'x' },
      { _id: 2, a: 1, b: 'y' },
      { _id: 3, b: 'z' },
      { _id: 4, a: 2, b: 'a' },
      { _id: 5, a: null, b: 'q' },
    ];
    expect([...docs].sort(compileSort({ a: 1, b: -1 })).map((d) => d._id)).toEqual([3, 5, 2, 1, 4]);
    expect([...docs].sort(compileSort({ a: -1, b: 1 })).map((d) => d._id)).toEqual([4, 1, 2, 5, 3]);
  });

  it('sorts arrays by their smallest element ascending and largest descending', () => {
    const docs: Doc[] = [
      { _id: 1, v: [3, 10] },
      { _id: 2, v: 5 },
      { _id: 3, v: [1, 4] },
    ];
    expect([...docs].sort(compileSort({ v: 1 })).map((d) => d._id)).toEqual([3, 1, 2]);
    expect([...docs].sort(compileSort({ v: -1 })).map((d) => d._id)).toEqual([1, 2, 3]);
  });

  it('sorts across types in BSON order and numbers across types by value', () => {
    const docs: Doc[] = [
      { _id: 1, v: 'a' },
      { _id: 2, v: new Double(2.5) },
      { _id: 3, v: Long.fromNumber(2) },
      { _id: 4, v: Decimal128.fromString('3') },
    ];
    expect([...docs].sort(compileSort({ v: 1 })).map((d) => d._id)).toEqual([3, 2, 4, 1]);
  });

  it('rejects bad directions', () => {
    expect(serverErrorThrownBy(() => compileSort({ a: 2 })).code).toBe(15975);
  });
});

describe('runPipeline', () => {
  const orders: Doc[] = [
    { _id: 1, cust: 'ann', qty: new Int32(2), price: new Double(1.5), tags: ['a', 'b'] },
    { _id: 2, cust: 'bob', qty: new Int32(1), price: new Double(10), tags: ['b'] },
    { _id: 3, cust: 'ann', qty: new Int32(5), price: new Double(2), tags: [] },
  ];

  it('$match, $sort, $skip, $limit, $project', () => {
    const out = runPipeline(orders, [
      { $match: { cust: 'ann' } },
      { $sort: { qty: -1 } },
      { $limit: 1 },
      { $project: { _id: 0, qty: 1 } },
    ]);
    expect(out).toEqual([{ qty: new Int32(5) }]);
    expect(runPipeline(orders, [{ $skip: 2 }]).map((d) => d._id)).toEqual([3]);
  });

  it('$group with accumulators and type-preserving sums', () => {
    const out = runPipeline(orders, [
      {
        $group: {
          _id: '$cust',
          qty: { $sum: '$qty' },
          n: { $count: {} },
          avg: { $avg: '$qty' },
          max: { $max: '$price' },
          min: { $min: '$price' },
          first: { $first: '$_id' },
          last: { $last: '$_id' },
          ids: { $push: '$_id' },
          tags: { $addToSet: { $size: '$tags' } },
          revenue: { $sum: { $multiply: ['$qty', '$price'] } },
        },
      },
      { $sort: { _id: 1 } },
    ]);
    expect(out[0]).toEqual({
      _id: 'ann',
      qty: new Int32(7),
      n: new Int32(2),
      avg: new Double(3.5),
      max: new Double(2),
      min: new Double(1.5),
      first: 1,
      last: 3,
      ids: [1, 3],
      tags: [new Int32(2), new Int32(0)],
      revenue: new Double(13),
    });
    expect(bsonTypeName(out[0]?.qty)).toBe('int');
  });

  it('$addFields/$set, $unset, $replaceRoot, $replaceWith, $count, $unwind', () => {
    expect(
      runPipeline(
        [orders[0] as Doc],
        [{ $set: { 'meta.total': { $multiply: ['$qty', '$price'] } } }, { $unset: ['tags', 'price'] }],
      ),
    ).toEqual([{ _id: 1, cust: 'ann', qty: new Int32(2), meta: { total: new Double(3) } }]);
    expect(runPipeline(orders, [{ $replaceWith: { c: '$cust' } }, { $limit: 1 }])).toEqual([{ c: 'ann' }]);
    expect(
      runPipeline(orders, [
        { $replaceRoot: { newRoot: { $mergeObjects: [{ x: 1 }, { id: '$_id' }] } } },
        { $limit: 1 },
      ]),
    ).toEqual([{ x: 1, id: 1 }]);
    expect(runPipeline(orders, [{ $count: 'n' }])).toEqual([{ n: new Int32(3) }]);
    expect(runPipeline(orders, [{ $match: { cust: 'nobody' } }, { $count: 'n' }])).toEqual([]);
    expect(runPipeline(orders, [{ $unwind: '$tags' }]).map((d) => [d._id, d.tags])).toEqual([
      [1, 'a'],
      [1, 'b'],
      [2, 'b'],
    ]);
    expect(serverErrorThrownBy(() => runPipeline(orders, [{ $replaceWith: '$cust' }])).code).toBe(40228);
  });

  it('rejects unknown stages with 40324', () => {
    const e = serverErrorThrownBy(() => runPipeline(orders, [{ $foo: {} }]));
    expect(e.code).toBe(40324);
    expect(e.codeName).toBe('Location40324');
    expect(e.message).toBe("Unrecognized pipeline stage name: '$foo'");
    expect(serverErrorThrownBy(() => runPipeline(orders, [{ $group: { total: { $sum: 1 } } }])).code).toBe(15955);
  });
});

describe('evaluateExpression', () => {
  const doc = {
    _id: 1,
    a: new Int32(7),
    b: new Int32(2),
    s: 'Hello',
    items: [{ p: 1 }, { p: 2 }],
    d: new Date('2024-03-05T06:07:08.009Z'),
  };

  it('evaluates field paths, system variables and literals', () => {
    expect(evaluateExpression('$items.p', doc)).toEqual([1, 2]);
    expect(evaluateExpression('$$ROOT._id', doc)).toBe(1);
    expect(evaluateExpression('$nope', doc)).toBeUndefined();
    expect(evaluateExpression({ $literal: '$a' }, doc)).toBe('$a');
  });

  it('does arithmetic with MongoDB result types', () => {
    expect(evaluateExpression({ $add: ['$a', '$b'] }, doc)).toEqual(new Int32(9));
    expect(evaluateExpression({ $add: [new Int32(2147483647), new Int32(1)] }, doc)).toEqual(
      Long.fromNumber(2147483648),
    );
    expect(evaluateExpression({ $divide: ['$a', '$b'] }, doc)).toEqual(new Double(3.5));
    expect(evaluateExpression({ $mod: ['$a', '$b'] }, doc)).toEqual(new Int32(1));
    expect(evaluateExpression({ $subtract: ['$a', new Double(0.5)] }, doc)).toEqual(new Double(6.5));
    expect(evaluateExpression({ $add: ['$a', null] }, doc)).toBeNull();
    expect(serverErrorThrownBy(() => evaluateExpression({ $divide: ['$a', 0] }, doc)).code).toBe(16608);
    expect(serverErrorThrownBy(() => evaluateExpression({ $add: ['$s', 1] }, doc)).code).toBe(16554);
  });

  it('compares, branches and tests booleans', () => {
    expect(evaluateExpression({ $gt: ['$a', '$b'] }, doc)).toBe(true);
    expect(evaluateExpression({ $cmp: ['$b', '$a'] }, doc)).toEqual(new Int32(-1));
    expect(evaluateExpression({ $eq: ['$missing', null] }, doc)).toBe(false);
    expect(evaluateExpression({ $cond: [{ $and: ['$a', { $not: [0] }] }, 'yes', 'no'] }, doc)).toBe('yes');
    expect(evaluateExpression({ $ifNull: ['$missing', 'dflt'] }, doc)).toBe('dflt');
    expect(
      evaluateExpression({ $switch: { branches: [{ case: { $lt: ['$a', 5] }, then: 'small' }], default: 'big' } }, doc),
    ).toBe('big');
    expect(serverErrorThrownBy(() => evaluateExpression({ $switch: { branches: [] } }, doc)).code).toBe(40066);
  });

  it('strings, arrays, types and conversions', () => {
    expect(evaluateExpression({ $concat: ['$s', ' ', { $toUpper: 'w' }] }, doc)).toBe('Hello W');
    expect(evaluateExpression({ $substrCP: ['$s', 1, 3] }, doc)).toBe('ell');
    expect(evaluateExpression({ $strLenCP: 'héllo' }, doc)).toEqual(new Int32(5));
    expect(evaluateExpression({ $size: '$items' }, doc)).toEqual(new Int32(2));
    expect(evaluateExpression({ $arrayElemAt: ['$items.p', -1] }, doc)).toBe(2);
    expect(evaluateExpression({ $in: [2, '$items.p'] }, doc)).toBe(true);
    expect(evaluateExpression({ $isArray: '$items' }, doc)).toBe(true);
    expect(evaluateExpression({ $type: '$a' }, doc)).toBe('int');
    expect(evaluateExpression({ $type: '$zz' }, doc)).toBe('missing');
    expect(evaluateExpression({ $toString: '$a' }, doc)).toBe('7');
    expect(evaluateExpression({ $toInt: '42' }, doc)).toEqual(new Int32(42));
    expect(evaluateExpression({ $toLong: '$a' }, doc)).toEqual(Long.fromNumber(7));
    expect(evaluateExpression({ $toDouble: '$a' }, doc)).toEqual(new Double(7));
    expect(evaluateExpression({ $dateToString: { date: '$d', format: '%Y-%m-%d %H:%M:%S.%L' } }, doc)).toBe(
      '2024-03-05 06:07:08.009',
    );
    expect(evaluateExpression({ $getField: 'a' }, doc)).toEqual(new Int32(7));
    expect(evaluateExpression({ $let: { vars: { x: '$a' }, in: { $multiply: ['$$x', 2] } } }, doc)).toEqual(
      new Int32(14),
    );
    expect(serverErrorThrownBy(() => evaluateExpression({ $size: '$s' }, doc)).code).toBe(17124);
  });
});
