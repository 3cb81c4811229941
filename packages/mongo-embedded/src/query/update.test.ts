import { Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'bson';
import { describe, expect, it } from 'vitest';
import { serverErrorThrownBy } from '../test-support/thrown.js';
import { applyUpdate, bsonTypeName, isReplacement, type Doc, type UpdateOptions } from './index.js';

const now = new Date('2024-05-01T12:00:00.000Z');
const clusterTime = new Timestamp({ t: 1714564800, i: 3 });
const opts: UpdateOptions = { isUpsertInsert: false, now, clusterTime };

function update(doc: Doc, u: Doc | Doc[], o: UpdateOptions = opts) {
  return applyUpdate(doc, u, o);
}

describe('$set and $unset', () => {
  it('keeps the types of untouched fields and never mutates the input', () => {
    const doc = { _id: 1, n: new Int32(1), d: new Double(2), nested: { x: new Int32(3) } };
    const frozen = structuredClone(doc);
    const r = update(doc, { $set: { s: 'v' } });
    expect(bsonTypeName(r.doc.n)).toBe('int');
    expect(bsonTypeName(r.doc.d)).toBe('double');
    expect(r.doc).toEqual({ ...doc, s: 'v' });
    expect(doc).toEqual(frozen);
    expect(r.updateDescription).toEqual({ updatedFields: { s: 'v' }, removedFields: [], truncatedArrays: [] });
  });

  it('creates intermediate documents and reports the created top-most field', () => {
    const r = update({ _id: 1, a: { keep: 1 } }, { $set: { 'a.b.c': 1, 'x.y': 2 } });
    expect(r.doc).toEqual({ _id: 1, a: { keep: 1, b: { c: 1 } }, x: { y: 2 } });
    expect(r.updateDescription.updatedFields).toEqual({ 'a.b': { c: 1 }, x: { y: 2 } });
  });

  it('adds new fields in lexicographic order, as MongoDB 5.0+', () => {
    const r = update({ _id: 1 }, { $set: { b: 1, a: 1 }, $inc: { c: 1 } });
    expect(Object.keys(r.doc)).toEqual(['_id', 'a', 'b', 'c']);
  });

  it('sets array elements by index, padding with null', () => {
    const r = update({ _id: 1, arr: [1] }, { $set: { 'arr.3': 4 } });
    expect(r.doc.arr).toEqual([1, null, null, 4]);
    expect(r.updateDescription.updatedFields).toEqual({ 'arr.3': 4 });
  });

  it('is a no-op when the value is identical, but not when only the type differs', () => {
    const doc = { _id: 1, n: new Int32(1) };
    const same = update(doc, { $set: { n: new Int32(1) } });
    expect(same.modified).toBe(false);
    expect(same.updateDescription).toEqual({ updatedFields: {}, removedFields: [], truncatedArrays: [] });
    const retyped = update(doc, { $set: { n: new Double(1) } });
    expect(retyped.modified).toBe(true);
    expect(bsonTypeName(retyped.doc.n)).toBe('double');
  });

  it('$unset removes fields, nulls array elements, ignores missing paths', () => {
    const r = update(
      { _id: 1, a: 1, b: { c: 1, d: 2 }, arr: [1, 2] },
      { $unset: { a: '', 'b.c': 1, 'arr.0': 1, zz: 1 } },
    );
    expect(r.doc).toEqual({ _id: 1, b: { d: 2 }, arr: [null, 2] });
    expect(r.updateDescription.removedFields).toEqual(['a', 'b.c']);
    expect(r.updateDescription.updatedFields).toEqual({ 'arr.0': null });
    expect(update({ _id: 1 }, { $unset: { a: 1 } }).modified).toBe(false);
  });

  it('refuses to create a field inside a scalar', () => {
    const e = serverErrorThrownBy(() => update({ _id: 1, a: 5 }, { $set: { 'a.b': 1 } }));
    expect(e.code).toBe(28);
    expect(e.codeName).toBe('PathNotViable');
  });
});

describe('$inc and $mul arithmetic types', () => {
  it('int32 + int32 stays int32', () => {
    const r = update({ _id: 1, n: new Int32(1) }, { $inc: { n: new Int32(2) } });
    expect(r.doc.n).toEqual(new Int32(3));
  });

  it('int32 + double gives double', () => {
    const r = update({ _id: 1, n: new Int32(1) }, { $inc: { n: new Double(0.5) } });
    expect(bsonTypeName(r.doc.n)).toBe('double');
    expect((r.doc.n as Double).value).toBe(1.5);
  });

  it('int32 overflow becomes int64', () => {
    const r = update({ _id: 1, n: new Int32(2147483647) }, { $inc: { n: new Int32(1) } });
    expect(bsonTypeName(r.doc.n)).toBe('long');
    expect((r.doc.n as Long).toString()).toBe('2147483648');
  });

  it('int64 stays int64 and its overflow is an error', () => {
    const r = update({ _id: 1, n: Long.fromNumber(5) }, { $inc: { n: new Int32(1) } });
    expect(bsonTypeName(r.doc.n)).toBe('long');
    const e = serverErrorThrownBy(() => update({ _id: 1, n: Long.MAX_VALUE }, { $inc: { n: new Int32(1) } }));
    expect(e.code).toBe(2);
  });

  it('decimal arithmetic stays decimal and exact', () => {
    const r = update({ _id: 1, n: Decimal128.fromString('0.1') }, { $inc: { n: Decimal128.fromString('0.2') } });
    expect(bsonTypeName(r.doc.n)).toBe('decimal');
    expect((r.doc.n as Decimal128).toString()).toBe('0.3');
  });

  it('creates missing fields: $inc with the increment, $mul with a zero of its type', () => {
    const r = update({ _id: 1 }, { $inc: { a: Long.fromNumber(4) }, $mul: { b: new Double(3) } });
    expect(bsonTypeName(r.doc.a)).toBe('long');
    expect(r.doc.b).toEqual(new Double(0));
  });

  it('reports TypeMismatch for non-numeric fields and arguments', () => {
    const e = serverErrorThrownBy(() => update({ _id: 1, s: 'x' }, { $inc: { s: new Int32(1) } }));
    expect(e.code).toBe(14);
    expect(e.codeName).toBe('TypeMismatch');
    expect(e.message).toBe(
      "Cannot apply $inc to a value of non-numeric type. {_id: 1} has the field 's' of non-numeric type string",
    );
    const e2 = serverErrorThrownBy(() => update({ _id: 1, n: new Int32(1) }, { $inc: { n: 'x' } }));
    expect(e2.code).toBe(14);
    expect(e2.message).toBe('Cannot increment with non-numeric argument: {n: "x"}');
  });

  it('$inc by zero of the same type is a no-op', () => {
    expect(update({ _id: 1, n: new Int32(4) }, { $inc: { n: new Int32(0) } }).modified).toBe(false);
  });
});

describe('$min, $max, $rename, $currentDate, $setOnInsert', () => {
  it('$min and $max compare in BSON order', () => {
    const doc = { _id: 1, lo: new Int32(5), hi: new Int32(5) };
    const r = update(doc, { $min: { lo: new Double(2.5) }, $max: { hi: new Int32(3), fresh: 'x' } });
    expect(r.doc).toEqual({ _id: 1, lo: new Double(2.5), hi: new Int32(5), fresh: 'x' });
  });

  it('$rename moves a value and reports removal and update', () => {
    const r = update({ _id: 1, a: { b: 1 }, c: 2 }, { $rename: { 'a.b': 'z', missing: 'q' } });
    expect(r.doc).toEqual({ _id: 1, a: {}, c: 2, z: 1 });
    expect(r.updateDescription).toEqual({ updatedFields: { z: 1 }, removedFields: ['a.b'], truncatedArrays: [] });
    expect(serverErrorThrownBy(() => update({ _id: 1, a: 1 }, { $rename: { a: 'a' } })).code).toBe(2);
  });

  it('$currentDate sets a date or the cluster timestamp', () => {
    const r = update({ _id: 1 }, { $currentDate: { d: true, t: { $type: 'timestamp' }, e: { $type: 'date' } } });
    expect(r.doc).toEqual({ _id: 1, d: now, e: now, t: clusterTime });
    expect(serverErrorThrownBy(() => update({ _id: 1 }, { $currentDate: { d: { $type: 'x' } } })).code).toBe(2);
  });

  it('$setOnInsert applies only on upsert inserts', () => {
    expect(update({ _id: 1 }, { $setOnInsert: { a: 1 } }).modified).toBe(false);
    expect(update({ _id: 1 }, { $setOnInsert: { a: 1 } }, { ...opts, isUpsertInsert: true }).doc).toEqual({
      _id: 1,
      a: 1,
    });
  });
});

describe('array operators', () => {
  it('$push appends and reports the new element positions', () => {
    const r = update({ _id: 1, arr: [1, 2] }, { $push: { arr: 3 } });
    expect(r.doc.arr).toEqual([1, 2, 3]);
    expect(r.updateDescription.updatedFields).toEqual({ 'arr.2': 3 });
  });

  it('$push with $each, $position, $sort and $slice', () => {
    const r = update({ _id: 1, arr: [5, 1] }, { $push: { arr: { $each: [4, 2], $sort: 1, $slice: 3 } } });
    expect(r.doc.arr).toEqual([1, 2, 4]);
    expect(r.updateDescription.updatedFields).toEqual({ arr: [1, 2, 4] });
    const p = update({ _id: 1, arr: ['b'] }, { $push: { arr: { $each: ['a'], $position: 0 } } });
    expect(p.doc.arr).toEqual(['a', 'b']);
    const s = update(
      { _id: 1, arr: [{ n: 2 }, { n: 1 }] },
      { $push: { arr: { $each: [{ n: 3 }], $sort: { n: -1 }, $slice: -2 } } },
    );
    expect(s.doc.arr).toEqual([{ n: 2 }, { n: 1 }]);
  });

  it('$push creates a missing array and refuses non-arrays', () => {
    expect(update({ _id: 1 }, { $push: { arr: 1 } }).doc).toEqual({ _id: 1, arr: [1] });
    const e = serverErrorThrownBy(() => update({ _id: 1, arr: 1 }, { $push: { arr: 1 } }));
    expect(e.code).toBe(2);
    expect(e.message).toBe("The field 'arr' must be an array but is of type int in document {_id: 1}");
  });

  it('$addToSet adds only missing values, comparing numbers by value', () => {
    const r = update(
      { _id: 1, s: [new Int32(1)] },
      { $addToSet: { s: { $each: [new Double(1), new Int32(2), new Int32(2)] } } },
    );
    expect(r.doc.s).toEqual([new Int32(1), new Int32(2)]);
    expect(update({ _id: 1, s: ['a'] }, { $addToSet: { s: 'a' } }).modified).toBe(false);
  });

  it('$pull by value and by condition, $pullAll, $pop', () => {
    const doc = {
      _id: 1,
      n: [1, 5, 7, 5],
      o: [
        { k: 1, v: 'a' },
        { k: 2, v: 'b' },
      ],
    };
    expect(update(doc, { $pull: { n: 5 } }).doc.n).toEqual([1, 7]);
    expect(update(doc, { $pull: { n: { $gte: 5 } } }).doc.n).toEqual([1]);
    expect(update(doc, { $pull: { o: { k: 2 } } }).doc.o).toEqual([{ k: 1, v: 'a' }]);
    expect(update(doc, { $pullAll: { n: [1, 7] } }).doc.n).toEqual([5, 5]);
    expect(update(doc, { $pop: { n: 1 } }).doc.n).toEqual([1, 5, 7]);
    expect(update(doc, { $pop: { n: -1 } }).doc.n).toEqual([5, 7, 5]);
    expect(update(doc, { $pull: { n: 99 } }).modified).toBe(false);
    expect(serverErrorThrownBy(() => update(doc, { $pop: { n: 2 } })).code).toBe(9);
    expect(serverErrorThrownBy(() => update({ _id: 1, n: 1 }, { $pull: { n: 1 } })).code).toBe(2);
  });
});

describe('update validation', () => {
  it('rejects two operators on the same or overlapping paths with 40', () => {
    const e = serverErrorThrownBy(() => update({ _id: 1 }, { $set: { a: 1 }, $inc: { a: 1 } }));
    expect(e.code).toBe(40);
    expect(e.codeName).toBe('ConflictingUpdateOperators');
    expect(e.message).toBe("Updating the path 'a' would create a conflict at 'a'");
    expect(serverErrorThrownBy(() => update({ _id: 1 }, { $set: { 'a.b': 1 }, $unset: { a: 1 } })).message).toBe(
      "Updating the path 'a.b' would create a conflict at 'a'",
    );
  });

  it('refuses to change _id with 66', () => {
    const e = serverErrorThrownBy(() => update({ _id: 1 }, { $set: { _id: 2 } }));
    expect(e.code).toBe(66);
    expect(e.codeName).toBe('ImmutableField');
    expect(serverErrorThrownBy(() => update({ _id: 1 }, { $unset: { _id: 1 } })).code).toBe(66);
    expect(update({ _id: 1 }, { $set: { _id: 1 } }).modified).toBe(false);
  });

  it('rejects unknown modifiers and mixing operators with fields with 9', () => {
    const e = serverErrorThrownBy(() => update({ _id: 1 }, { $foo: { a: 1 } }));
    expect(e.code).toBe(9);
    expect(e.codeName).toBe('FailedToParse');
    expect(serverErrorThrownBy(() => update({ _id: 1 }, { $set: { a: 1 }, b: 2 })).code).toBe(9);
    expect(serverErrorThrownBy(() => update({ _id: 1 }, { $set: 5 })).code).toBe(9);
  });

  it('rejects empty paths', () => {
    expect(serverErrorThrownBy(() => update({ _id: 1 }, { $set: { '': 1 } })).code).toBe(56);
  });
});

describe('replacement and pipeline updates', () => {
  it('detects replacements', () => {
    expect(isReplacement({ a: 1 })).toBe(true);
    expect(isReplacement({})).toBe(true);
    expect(isReplacement({ $set: { a: 1 } })).toBe(false);
    expect(isReplacement([{ $set: { a: 1 } }])).toBe(false);
  });

  it('a replacement keeps _id first and refuses a different _id', () => {
    const id = new ObjectId();
    const r = update({ _id: id, a: 1 }, { b: 2 });
    expect(r.doc).toEqual({ _id: id, b: 2 });
    expect(Object.keys(r.doc)).toEqual(['_id', 'b']);
    expect(update({ _id: id, a: 1 }, { a: 1 }).modified).toBe(false);
    expect(serverErrorThrownBy(() => update({ _id: id }, { _id: new ObjectId(), a: 1 })).code).toBe(66);
    expect(serverErrorThrownBy(() => update({ _id: id }, { a: 1, $set: { b: 1 } })).code).toBe(52);
  });

  it('pipeline updates compute values from the document and report a diff', () => {
    const r = update({ _id: 1, a: new Int32(2), b: new Int32(3), old: 1, arr: [1, 2, 3] }, [
      { $set: { sum: { $add: ['$a', '$b'] }, arr: { $slice: ['$arr', 2] } } },
      { $unset: 'old' },
    ]);
    expect(r.doc).toEqual({ _id: 1, a: new Int32(2), b: new Int32(3), arr: [1, 2], sum: new Int32(5) });
    expect(r.updateDescription).toEqual({
      updatedFields: { sum: new Int32(5) },
      removedFields: ['old'],
      truncatedArrays: [{ field: 'arr', newSize: 2 }],
    });
  });

  it('pipeline updates reject stages MongoDB does not allow and _id changes', () => {
    expect(serverErrorThrownBy(() => update({ _id: 1 }, [{ $group: { _id: null } }])).code).toBe(72);
    expect(serverErrorThrownBy(() => update({ _id: 1 }, [{ $set: { _id: 2 } }])).code).toBe(66);
    expect(update({ _id: 1, a: 1 }, [{ $set: { a: 1 } }]).modified).toBe(false);
  });
});
