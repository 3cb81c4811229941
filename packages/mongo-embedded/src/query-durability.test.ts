import { MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { useDataDirs } from './test-support/data-dir.js';

const { tempDir, open } = useDataDirs();

interface Person {
  _id: number;
  name: string;
  bio?: string;
}

describe('query features after a restart from the data directory', () => {
  it('keeps views, collated unique indexes, collection default collations and text indexes working', async () => {
    const dir = tempDir();
    const first = await open(dir);
    const db = first.client.db('app');
    await db.createCollection('people', { collation: { locale: 'en', strength: 2 } });
    const people = db.collection<Person>('people');
    await people.createIndexes([
      { key: { name: 1 }, name: 'name_ci', unique: true },
      { key: { bio: 'text' }, name: 'bio_text' },
    ]);
    await people.insertMany([
      { _id: 1, name: 'Ada', bio: 'analytical engines' },
      { _id: 2, name: 'Grace', bio: 'compilers' },
    ]);
    await db.createCollection('withBio', { viewOn: 'people', pipeline: [{ $match: { bio: { $exists: true } } }] });
    await first.client.close();
    await first.server.close();

    const second = await open(dir);
    const again = second.client.db('app');
    const reopened = again.collection<Person>('people');
    // The collection's default collation (case-insensitive) still applies, and so does the index's.
    expect((await reopened.findOne({ name: 'ADA' }))?._id).toBe(1);
    const dup = await reopened.insertOne({ _id: 3, name: 'grace' }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(MongoServerError);
    expect((dup as MongoServerError).code).toBe(11000);
    expect((await reopened.find({ $text: { $search: 'compiler' } }).toArray()).map((p) => p._id)).toEqual([2]);
    const view = again.collection<Person>('withBio');
    expect(await view.countDocuments()).toBe(2);
    const info = await again.listCollections({ name: 'withBio' }).toArray();
    expect(info[0]?.type).toBe('view');
    const write = await view.insertOne({ _id: 9, name: 'x' }).catch((e: unknown) => e);
    expect((write as MongoServerError).code).toBe(166);
  });
});
