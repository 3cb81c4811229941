import { Timestamp } from 'bson';
import { describe, expect, it } from 'vitest';
import { serverErrorThrownBy } from '../test-support/thrown.js';
import { applyUpdate, validateArrayFilters, type Doc, type UpdateOptions } from './index.js';

const base: UpdateOptions = {
  isUpsertInsert: false,
  now: new Date('2024-05-01T12:00:00.000Z'),
  clusterTime: new Timestamp({ t: 1714564800, i: 1 }),
};

/** Numbers as plain JS numbers (arithmetic yields Int32/Double wrappers), for readable expectations. */
function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

const order: Doc = {
  _id: 1,
  items: [
    { sku: 'a', qty: 1 },
    { sku: 'b', qty: 5 },
    { sku: 'c', qty: 9 },
  ],
};

describe('the positional $ operator', () => {
  it('updates the first element the query matched and reports its concrete path', () => {
    const r = applyUpdate(order, { $inc: { 'items.$.qty': 10 } }, { ...base, query: { 'items.sku': 'b' } });
    expect(plain(r.doc.items)).toEqual([
      { sku: 'a', qty: 1 },
      { sku: 'b', qty: 15 },
      { sku: 'c', qty: 9 },
    ]);
    expect(plain(r.updateDescription.updatedFields)).toEqual({ 'items.1.qty': 15 });
  });

  it('follows $elemMatch and range conditions on the array', () => {
    const q = { items: { $elemMatch: { qty: { $gt: 4 } } } };
    expect(applyUpdate(order, { $set: { 'items.$.sku': 'x' } }, { ...base, query: q }).doc.items).toEqual([
      { sku: 'a', qty: 1 },
      { sku: 'x', qty: 5 },
      { sku: 'c', qty: 9 },
    ]);
    const scalars = applyUpdate(
      { _id: 2, tags: ['p', 'q'] },
      { $set: { 'tags.$': 'Q' } },
      { ...base, query: { tags: 'q' } },
    );
    expect(scalars.doc.tags).toEqual(['p', 'Q']);
  });

  it('fails with 2 when the query did not match inside the array, or with two $ in one path', () => {
    const e = serverErrorThrownBy(() =>
      applyUpdate(order, { $set: { 'items.$.qty': 0 } }, { ...base, query: { _id: 1 } }),
    );
    expect([e.code, e.message]).toEqual([2, 'The positional operator did not find the match needed from the query.']);
    const twice = serverErrorThrownBy(() =>
      applyUpdate(order, { $set: { 'items.$.x.$': 0 } }, { ...base, query: { 'items.sku': 'a' } }),
    );
    expect(twice.code).toBe(2);
    expect(twice.message).toContain('Too many positional');
  });
});

describe('$[] and $[identifier] with arrayFilters', () => {
  it('$[] updates every element', () => {
    const r = applyUpdate(order, { $mul: { 'items.$[].qty': 2 } }, base);
    expect(plain((r.doc.items as Doc[]).map((i) => i.qty))).toEqual([2, 10, 18]);
    expect(Object.keys(r.updateDescription.updatedFields)).toEqual(['items.0.qty', 'items.1.qty', 'items.2.qty']);
  });

  it('$[c] updates the elements its filter matches, nested filters included', () => {
    const r = applyUpdate(
      order,
      { $set: { 'items.$[big].flag': true } },
      { ...base, arrayFilters: [{ 'big.qty': { $gte: 5 } }] },
    );
    expect(r.doc.items).toEqual([
      { sku: 'a', qty: 1 },
      { sku: 'b', qty: 5, flag: true },
      { sku: 'c', qty: 9, flag: true },
    ]);
    const nested = applyUpdate(
      { _id: 3, grid: [[1, 5], [7]] },
      { $inc: { 'grid.$[].$[n]': 100 } },
      { ...base, arrayFilters: [{ n: { $gt: 4 } }] },
    );
    expect(plain(nested.doc.grid)).toEqual([[1, 105], [107]]);
  });

  it('refuses what mongod refuses, with its codes', () => {
    const cases: [Doc, Doc[] | undefined, number, string][] = [
      [
        { $set: { 'items.$[c].qty': 0 } },
        undefined,
        2,
        "No array filter found for identifier 'c' in path 'items.$[c].qty'",
      ],
      [{ $set: { 'items.$[c].qty': 0 } }, [{ c: 1 }, { d: 1 }], 9, "The array filter for identifier 'd' was not used"],
      [
        { $set: { 'items.$[c].qty': 0 } },
        [{ c: 1, d: 1 }],
        9,
        'Each array filter must use a single top-level field name',
      ],
      [
        { $set: { 'items.$[c].qty': 0 } },
        [{ c: 1 }, { c: 2 }],
        9,
        'Found multiple array filters with the same top-level field name c',
      ],
      [
        { $set: { 'items.$[C].qty': 0 } },
        [{ C: 1 }],
        2,
        'must be an alphanumeric string beginning with a lowercase letter',
      ],
      [{ $rename: { 'items.$[].qty': 'n' } }, undefined, 2, 'The source field for $rename may not be dynamic'],
    ];
    for (const [u, arrayFilters, code, message] of cases) {
      const e = serverErrorThrownBy(() =>
        applyUpdate(order, u, { ...base, ...(arrayFilters ? { arrayFilters } : {}) }),
      );
      expect([e.code, e.message]).toEqual([code, expect.stringContaining(message)]);
    }
    const missing = serverErrorThrownBy(() => applyUpdate({ _id: 4 }, { $set: { 'list.$[].x': 1 } }, base));
    expect(missing.message).toBe("The path 'list' must exist in the document in order to apply array updates.");
    const scalar = serverErrorThrownBy(() => applyUpdate({ _id: 4, list: 3 }, { $set: { 'list.$[].x': 1 } }, base));
    expect(scalar.code).toBe(2);
    expect(scalar.message).toContain('Cannot apply array updates to non-array element list');
  });

  it('validates filters without a document, and never for pipelines', () => {
    const e = serverErrorThrownBy(() => validateArrayFilters({ $set: { a: 1 } }, [{ i: 0 }]));
    expect([e.code, e.message]).toEqual([
      9,
      "The array filter for identifier 'i' was not used in the update { $set: { a: 1 } }",
    ]);
    expect(serverErrorThrownBy(() => validateArrayFilters([{ $set: { a: 1 } }], [{ i: 0 }])).code).toBe(9);
    expect(() => validateArrayFilters({ $set: { 'a.$[i]': 1 } }, [{ i: 0 }])).not.toThrow();
  });
});
