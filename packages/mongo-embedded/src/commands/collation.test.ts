import { type Db } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { errorOf, runCommand, useEngine } from '../test-support/harness.js';

const engine = useEngine('collation');
const { freshDb } = engine;

interface Name {
  _id: number;
  name: string;
}

async function names(db: Db) {
  const coll = db.collection<Name>('names');
  await coll.insertMany([
    { _id: 1, name: 'cafe' },
    { _id: 2, name: 'Café' },
    { _id: 3, name: 'CAFE' },
    { _id: 4, name: 'apple' },
    { _id: 5, name: 'Banana' },
  ]);
  return coll;
}

const ids = (docs: Name[]): number[] => docs.map((d) => d._id);

describe('collation en', () => {
  it('strength 1 ignores case and accents, 2 ignores case only, 3 (default) neither', async () => {
    const coll = await names(freshDb());
    const at = async (strength: number) =>
      ids(
        await coll
          .find({ name: 'cafe' }, { collation: { locale: 'en', strength } })
          .sort({ _id: 1 })
          .toArray(),
      );
    expect(await at(1)).toEqual([1, 2, 3]);
    expect(await at(2)).toEqual([1, 3]);
    expect(await at(3)).toEqual([1]);
    expect(ids(await coll.find({ name: 'cafe' }).toArray())).toEqual([1]);
    const range = await coll
      .find({ name: { $gte: 'b', $lt: 'c' } }, { collation: { locale: 'en', strength: 2 } })
      .toArray();
    expect(ids(range)).toEqual([5]);
  });

  it('sorts alphabetically, and numerically with numericOrdering', async () => {
    const db = freshDb();
    const coll = await names(db);
    const sorted = await coll.find().sort({ name: 1 }).collation({ locale: 'en' }).toArray();
    expect(sorted.map((d) => d.name)).toEqual(['apple', 'Banana', 'cafe', 'CAFE', 'Café']);
    const binary = await coll.find().sort({ name: 1 }).toArray();
    expect(binary.map((d) => d.name)[0]).toBe('Banana');
    const files = db.collection<{ _id: number; f: string }>('files');
    await files.insertMany([
      { _id: 1, f: 'v10' },
      { _id: 2, f: 'v9' },
      { _id: 3, f: 'v100' },
    ]);
    const numeric = await files.find().sort({ f: 1 }).collation({ locale: 'en', numericOrdering: true }).toArray();
    expect(numeric.map((d) => d.f)).toEqual(['v9', 'v10', 'v100']);
  });

  it('applies to count, distinct, update, delete and aggregate', async () => {
    const coll = await names(freshDb());
    const ci = { locale: 'en', strength: 2 };
    expect(await coll.countDocuments({ name: 'CAFE' }, { collation: ci })).toBe(2);
    expect(await coll.distinct('name', {}, { collation: { locale: 'en', strength: 1 } })).toEqual([
      'cafe',
      'apple',
      'Banana',
    ]);
    const groups = await coll
      .aggregate<{ _id: string; n: number }>([{ $group: { _id: '$name', n: { $sum: 1 } } }, { $sort: { _id: 1 } }], {
        collation: { locale: 'en', strength: 1 },
      })
      .toArray();
    expect(groups).toEqual([
      { _id: 'apple', n: 1 },
      { _id: 'Banana', n: 1 },
      { _id: 'cafe', n: 3 },
    ]);
    const updated = await coll.updateMany({ name: 'cafe' }, { $set: { tagged: true } }, { collation: ci });
    expect(updated.modifiedCount).toBe(2);
    const agg = await coll.aggregate([{ $match: { name: 'BANANA' } }], { collation: ci }).toArray();
    expect(ids(agg as Name[])).toEqual([5]);
    const deleted = await coll.deleteMany({ name: 'CAFÉ' }, { collation: ci });
    expect(deleted.deletedCount).toBe(1);
    expect(await coll.countDocuments()).toBe(4);
  });

  it('an index with a collation serves only queries with the same collation, and its uniqueness follows it', async () => {
    const db = freshDb();
    const coll = await names(db);
    await coll.deleteMany({ _id: { $in: [2, 3] } });
    await coll.createIndexes([
      { key: { name: 1 }, name: 'name_ci', collation: { locale: 'en', strength: 2 }, unique: true },
    ]);
    const spec = (await coll.indexes()).find((i) => i.name === 'name_ci');
    expect(spec?.collation).toMatchObject({ locale: 'en', strength: 2, numericOrdering: false });
    const plan = async (collation?: { locale: string; strength: number }) => {
      const reply = await runCommand<{ queryPlanner: { winningPlan: { stage: string } } }>(db, {
        explain: { find: 'names', filter: { name: 'APPLE' }, ...(collation ? { collation } : {}) },
      });
      return reply.queryPlanner.winningPlan.stage;
    };
    expect(await plan({ locale: 'en', strength: 2 })).toBe('FETCH');
    expect(await plan()).toBe('COLLSCAN');
    expect(await coll.countDocuments({ name: 'APPLE' }, { collation: { locale: 'en', strength: 2 } })).toBe(1);
    expect(await coll.countDocuments({ name: 'APPLE' })).toBe(0);
    const dup = await errorOf(coll.insertOne({ _id: 9, name: 'CAFE' }));
    expect(dup.code).toBe(11000);
  });

  it('refuses malformed and unsupported collations with mongod codes', async () => {
    const coll = await names(freshDb());
    const cases: [Record<string, unknown>, number, string][] = [
      [{ strength: 2 }, 40414, "BSON field 'locale' is missing but a required field"],
      [{ locale: 'en', colour: 1 }, 40415, "BSON field 'collation.colour' is an unknown field."],
      [{ locale: 'en', strength: 9 }, 2, "Field 'strength' must be an integer 1 through 5"],
      [{ locale: 'xx_nope' }, 2, "Field 'locale' is invalid"],
      [{ locale: 'fr' }, 2, "Collation option 'locale' is not supported by this engine"],
      [{ locale: 'en', strength: 4 }, 2, "Collation option 'strength' is not supported by this engine"],
      [{ locale: 'en', caseFirst: 'upper' }, 2, "Collation option 'caseFirst' is not supported by this engine"],
    ];
    for (const [collation, code, message] of cases) {
      const err = await errorOf(coll.find({}, { collation: collation as { locale: string } }).toArray());
      expect([err.code, err.message]).toEqual([code, expect.stringContaining(message)]);
    }
    expect(await coll.countDocuments({ name: 'cafe' }, { collation: { locale: 'simple' } })).toBe(1);
  });
});
