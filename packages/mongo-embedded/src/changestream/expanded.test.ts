import type { ChangeStream, ChangeStreamDocument, Document } from 'mongodb';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { uniqueDbName, useEngine } from '../test-support/harness.js';

const engine = useEngine('stream');

const streams: ChangeStream[] = [];

afterAll(async () => {
  await Promise.all(streams.splice(0).map((s) => s.close()));
});

/** Opens the stream on the server (its first getMore), so that later writes are in it. */
async function opened<T extends Document>(stream: ChangeStream<T>): Promise<ChangeStream<T>> {
  streams.push(stream);
  expect(await stream.tryNext()).toBeNull();
  return stream;
}

/** Reads events until `count` have arrived (bounded by vi.waitFor's timeout). */
async function take<T extends Document>(stream: ChangeStream<T>, count: number): Promise<ChangeStreamDocument<T>[]> {
  const events: ChangeStreamDocument<T>[] = [];
  await vi.waitFor(
    async () => {
      const next = await stream.tryNext();
      if (next) events.push(next);
      expect(events.length).toBeGreaterThanOrEqual(count);
    },
    { timeout: 5000, interval: 1 },
  );
  return events;
}

describe('client.watch() (allChangesForCluster)', () => {
  it('sees writes to every database but the internal ones, in commit order', async () => {
    const stream = await opened(engine.client.watch([], { maxAwaitTimeMS: 50 }));
    const first = engine.client.db(uniqueDbName('cluster'));
    const second = engine.client.db(uniqueDbName('cluster'));
    await first.collection('a').insertOne({ _id: 1 } as Document);
    await engine.client
      .db('admin')
      .collection('ignored')
      .insertOne({ _id: 'internal' } as Document);
    await second.collection('b').insertOne({ _id: 2 } as Document);
    await first.collection<{ _id: number }>('a').deleteOne({ _id: 1 });
    const events = await take(stream, 3);
    expect(
      events.map((e) => ('ns' in e ? [e.operationType, e.ns.db, 'coll' in e.ns ? e.ns.coll : undefined] : [])),
    ).toEqual([
      ['insert', first.databaseName, 'a'],
      ['insert', second.databaseName, 'b'],
      ['delete', first.databaseName, 'a'],
    ]);
  });

  it('refuses allChangesForCluster outside admin', async () => {
    const db = engine.client.db(uniqueDbName('cluster'));
    await expect(
      db.command({ aggregate: 1, pipeline: [{ $changeStream: { allChangesForCluster: true } }], cursor: {} }),
    ).rejects.toMatchObject({ code: 72 });
  });
});

describe('showExpandedEvents', () => {
  it('reports DDL events with collectionUUID; a stream without the option sees only the document writes', async () => {
    const db = engine.client.db(uniqueDbName('ddl'));
    const expanded = await opened(db.watch([], { showExpandedEvents: true, maxAwaitTimeMS: 50 }));
    const plain = await opened(db.watch([], { maxAwaitTimeMS: 50 }));
    await db.createCollection('orders');
    const orders = db.collection('orders');
    await orders.createIndex({ sku: 1 });
    await orders.insertOne({ _id: 1, sku: 'a' } as Document);
    await orders.dropIndex('sku_1');
    await db.renameCollection('orders', 'archive');
    await db.collection('archive').drop();
    const events = (await take(expanded, 6)) as (ChangeStreamDocument & {
      collectionUUID?: unknown;
      operationDescription?: Document;
    })[];
    expect(events.map((e) => e.operationType)).toEqual([
      'create',
      'createIndexes',
      'insert',
      'dropIndexes',
      'rename',
      'drop',
    ]);
    const uuid = events[0]?.collectionUUID;
    expect(uuid).toBeDefined();
    for (const e of events) expect(e.collectionUUID).toEqual(uuid);
    expect(events[0]?.operationDescription).toMatchObject({ idIndex: { key: { _id: 1 }, name: '_id_' } });
    expect(events[1]?.operationDescription).toEqual({ indexes: [{ v: 2, key: { sku: 1 }, name: 'sku_1' }] });
    expect(events[3]?.operationDescription).toEqual({ indexes: [{ v: 2, key: { sku: 1 }, name: 'sku_1' }] });
    expect(events[4]?.operationDescription).toEqual({ to: { db: db.databaseName, coll: 'archive' } });

    const plainEvents = await take(plain, 3);
    expect(plainEvents.map((e) => e.operationType)).toEqual(['insert', 'rename', 'drop']);
    expect(plainEvents[0]).not.toHaveProperty('collectionUUID');
  });

  it('updateDescription.disambiguatedPaths tells array indexes from numeric field names', async () => {
    const db = engine.client.db(uniqueDbName('paths'));
    const coll = db.collection<{
      _id: number;
      arr: { x: number }[];
      obj: Record<string, { x: number }>;
      plain: number;
    }>('c');
    await coll.insertOne({ _id: 1, arr: [{ x: 1 }], obj: { '0': { x: 1 } }, plain: 0 });
    const expanded = await opened(coll.watch([], { showExpandedEvents: true, maxAwaitTimeMS: 50 }));
    const plain = await opened(coll.watch([], { maxAwaitTimeMS: 50 }));
    await coll.updateOne({ _id: 1 }, { $set: { 'arr.0.x': 2, 'obj.0.x': 2, plain: 1 } });
    const [event] = await take(expanded, 1);
    expect(event?.operationType).toBe('update');
    const description = (event as { updateDescription: Document }).updateDescription;
    expect(description.updatedFields).toEqual({ 'arr.0.x': 2, 'obj.0.x': 2, plain: 1 });
    expect(description.disambiguatedPaths).toEqual({ 'arr.0.x': ['arr', 0, 'x'], 'obj.0.x': ['obj', '0', 'x'] });
    const [plainEvent] = await take(plain, 1);
    expect((plainEvent as { updateDescription: Document }).updateDescription).not.toHaveProperty('disambiguatedPaths');
  });
});
