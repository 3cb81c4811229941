import { describe, expect, it } from 'vitest';
import { indexNames, runCommand, useEngine, type TestDoc } from '../test-support/harness.js';

const engine = useEngine('ddl');
const { freshDb } = engine;

interface CollectionInfo {
  name: string;
  type: string;
  options?: Record<string, unknown>;
  info?: { readOnly: boolean; uuid: unknown };
  idIndex?: unknown;
}

describe('collections', () => {
  it('creates collections with options and refuses to create one twice', async () => {
    const db = freshDb();
    await db.createCollection('plain');
    await db.createCollection('images', { changeStreamPreAndPostImages: { enabled: true } });
    await expect(db.createCollection('plain')).rejects.toMatchObject({ code: 48, codeName: 'NamespaceExists' });
    const infos = (await db.listCollections().toArray()) as CollectionInfo[];
    expect(infos.map((c) => c.name)).toEqual(['images', 'plain']);
    const images = infos.find((c) => c.name === 'images');
    expect(images).toMatchObject({
      type: 'collection',
      options: { changeStreamPreAndPostImages: { enabled: true } },
      idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
    });
    expect(images?.info?.readOnly).toBe(false);
    const named = (await db.listCollections({ name: 'plain' }, { nameOnly: true }).toArray()) as CollectionInfo[];
    expect(named).toEqual([{ name: 'plain', type: 'collection' }]);
  });

  it('enforces a validator on insert and update', async () => {
    const db = freshDb();
    await db.createCollection('v', { validator: { qty: { $gte: 0 } } });
    const coll = db.collection('v');
    await coll.insertOne({ qty: 1 });
    await expect(coll.insertOne({ qty: -1 })).rejects.toMatchObject({
      code: 121,
      errInfo: { failingDocumentId: expect.anything() as unknown, details: {} },
    });
    await expect(coll.updateOne({ qty: 1 }, { $set: { qty: -5 } })).rejects.toMatchObject({ code: 121 });
    expect(await coll.countDocuments({ qty: 1 })).toBe(1);
  });

  it('drops collections, including missing ones', async () => {
    const db = freshDb();
    await db.collection('c').insertOne({ a: 1 });
    expect(await db.collection('c').drop()).toBe(true);
    expect(await db.collection('c').drop()).toBe(true);
    expect(await db.collection('never').drop()).toBe(true);
    expect(await db.listCollections().toArray()).toEqual([]);
    expect(await db.collection('c').countDocuments()).toBe(0);
  });

  it('renames collections with their documents and indexes', async () => {
    const db = freshDb();
    await db.collection<TestDoc>('a').insertMany([{ _id: 1 }, { _id: 2 }]);
    await db.collection('a').createIndex({ x: 1 });
    await db.collection<TestDoc<string>>('b').insertOne({ _id: 'b' });
    await expect(db.renameCollection('a', 'b')).rejects.toMatchObject({ code: 48 });
    await expect(db.renameCollection('missing', 'z')).rejects.toMatchObject({ code: 26 });
    await db.renameCollection('a', 'b', { dropTarget: true });
    expect((await db.collection('b').find().sort({ _id: 1 }).toArray()).map((d) => d._id as unknown)).toEqual([1, 2]);
    expect(await indexNames(db.collection('b'))).toEqual(['_id_', 'x_1']);
    expect((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)).toEqual(['b']);
  });

  it('collMod toggles pre- and post-images', async () => {
    const db = freshDb();
    await db.createCollection('c');
    await db.command({ collMod: 'c', changeStreamPreAndPostImages: { enabled: true } });
    const [info] = (await db.listCollections({ name: 'c' }).toArray()) as CollectionInfo[];
    expect(info?.options).toEqual({ changeStreamPreAndPostImages: { enabled: true } });
    await db.command({ collMod: 'c', changeStreamPreAndPostImages: { enabled: false } });
    const [after] = (await db.listCollections({ name: 'c' }).toArray()) as CollectionInfo[];
    expect(after?.options).toEqual({});
    await expect(
      db.command({ collMod: 'missing', changeStreamPreAndPostImages: { enabled: true } }),
    ).rejects.toMatchObject({ code: 26 });
  });
});

describe('databases', () => {
  it('lists and drops databases', async () => {
    const db = freshDb();
    await db.collection('c').insertOne({ a: 1 });
    const listed = await engine.client.db('admin').admin().listDatabases();
    const entry = listed.databases.find((d) => d.name === db.databaseName);
    expect(entry).toMatchObject({ name: db.databaseName, empty: false });
    expect(typeof entry?.sizeOnDisk).toBe('number');
    const names = await runCommand<{ databases: { name: string }[] }>(engine.client.db('admin'), {
      listDatabases: 1,
      nameOnly: true,
    });
    expect(names.databases.map((d) => d.name)).toContain(db.databaseName);
    expect(await db.dropDatabase()).toBe(true);
    const after = await engine.client.db('admin').admin().listDatabases();
    expect(after.databases.map((d) => d.name)).not.toContain(db.databaseName);
    expect(await db.collection('c').countDocuments()).toBe(0);
  });

  it('reports dbStats and collStats', async () => {
    const db = freshDb();
    await db.collection('c').insertMany([{ a: 1 }, { a: 2 }]);
    const stats = await db.stats();
    expect(stats).toMatchObject({ db: db.databaseName, collections: 1, objects: 2 });
    const cs = await runCommand<{ count: number; nindexes: number; ns: string }>(db, { collStats: 'c' });
    expect(cs).toMatchObject({ count: 2, nindexes: 1, ns: `${db.databaseName}.c` });
  });
});
