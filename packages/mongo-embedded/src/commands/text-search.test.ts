import { type Db } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { errorOf, useEngine } from '../test-support/harness.js';

const engine = useEngine('text');
const { freshDb } = engine;

interface Article {
  _id: number;
  title: string;
  body: string;
}

async function articles(db: Db) {
  const coll = db.collection<Article>('articles');
  await coll.insertMany([
    { _id: 1, title: 'Coffee shops', body: 'The best coffee in town' },
    { _id: 2, title: 'Tea', body: 'Green tea and a little coffee' },
    { _id: 3, title: 'Crème brûlée', body: 'A dessert recipe' },
    { _id: 4, title: 'Coffee, coffee, coffee', body: 'Coffee everywhere' },
  ]);
  await coll.createIndexes([{ key: { title: 'text', body: 'text' }, weights: { title: 10 } }]);
  return coll;
}

describe('$text', () => {
  it('matches any term, case- and diacritic-insensitively, with light English stemming', async () => {
    const coll = await articles(freshDb());
    const ids = async (search: string) =>
      (await coll.find({ $text: { $search: search } }).toArray()).map((d) => d._id).sort((a, b) => a - b);
    expect(await ids('COFFEE')).toEqual([1, 2, 4]);
    expect(await ids('creme brulee')).toEqual([3]);
    expect(await ids('shop')).toEqual([1]);
    expect(await ids('dessert tea')).toEqual([2, 3]);
    expect(await ids('the')).toEqual([]);
  });

  it('phrases must all appear; negated terms exclude', async () => {
    const coll = await articles(freshDb());
    const ids = async (search: string) =>
      (await coll.find({ $text: { $search: search } }).toArray()).map((d) => d._id).sort((a, b) => a - b);
    expect(await ids('"green tea"')).toEqual([2]);
    expect(await ids('coffee -tea')).toEqual([1, 4]);
    expect(await ids('coffee "best coffee"')).toEqual([1]);
  });

  it('projects and sorts by { $meta: "textScore" }, title weight counting', async () => {
    const coll = await articles(freshDb());
    const ranked = await coll
      .find<{ _id: number; title: string; score: number }>(
        { $text: { $search: 'coffee' } },
        { projection: { score: { $meta: 'textScore' }, title: 1 } },
      )
      .sort({ score: { $meta: 'textScore' } })
      .toArray();
    expect(ranked.map((d) => d._id)).toEqual([4, 1, 2]);
    const scores = ranked.map((d) => d.score);
    expect(scores[0]).toBeGreaterThan(scores[1]!);
    expect(scores[1]).toBeGreaterThan(scores[2]!);
    expect(Object.keys(ranked[0]!)).toEqual(['_id', 'title', 'score']);
    const agg = await coll
      .aggregate([{ $match: { $text: { $search: 'tea' } } }, { $project: { _id: 1, s: { $meta: 'textScore' } } }])
      .toArray();
    expect(agg).toHaveLength(1);
    expect(agg[0]?.s).toBeGreaterThan(0);
  });

  it('fails with 27 without a text index, and refuses $text after the first stage and a textScore without $text', async () => {
    const db = freshDb();
    await db.collection<{ _id: number; t: string }>('plain').insertOne({ _id: 1, t: 'coffee' });
    const noIndex = await errorOf(
      db
        .collection('plain')
        .find({ $text: { $search: 'coffee' } })
        .toArray(),
    );
    expect([noIndex.code, noIndex.message]).toEqual([27, 'text index required for $text query']);
    const coll = await articles(db);
    const late = await errorOf(
      coll.aggregate([{ $project: { title: 1 } }, { $match: { $text: { $search: 'x' } } }]).toArray(),
    );
    expect(late.code).toBe(17313);
    const noScore = await errorOf(
      coll
        .find({})
        .sort({ s: { $meta: 'textScore' } })
        .toArray(),
    );
    expect(noScore.code).toBe(40218);
    const lang = await errorOf(coll.find({ $text: { $search: 'x', $language: 'klingon' } }).toArray());
    expect(lang.code).toBe(2);
    const second = await errorOf(coll.createIndexes([{ key: { body: 'text' } }]));
    expect(second.code).toBe(85);
    expect(await coll.createIndexes([{ key: { title: 'text', body: 'text' }, weights: { title: 10 } }])).toEqual([
      'title_text_body_text',
    ]);
    const indexes = await coll.indexes();
    expect(indexes.find((i) => i.name === 'title_text_body_text')).toMatchObject({
      key: { _fts: 'text', _ftsx: 1 },
      weights: { title: 10, body: 1 },
    });
  });
});
