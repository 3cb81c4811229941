import {
  MongoServerError,
  Timestamp,
  type ChangeStreamDocument,
  type Collection,
  type Db,
  type Document,
} from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { useDataDirs } from './test-support/data-dir.js';
import { runCommand, startHarness, uniqueDbName, type Harness } from './test-support/harness.js';

// Written so it would also pass against mongod started with `--setParameter ttlMonitorSleepSecs=1`.
const WAIT = { timeout: 15_000, interval: 100 };
const HOUR = 3600 * 1000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ttlMonitorSleepSecs: 1 });
});
afterAll(async () => {
  await h.close();
});

function freshDb(): Db {
  return h.client.db(uniqueDbName('ttl'));
}

interface TtlMetrics {
  deletedDocuments: number;
  passes: number;
}

async function ttlMetrics(): Promise<TtlMetrics> {
  const status = await runCommand<{ metrics: { ttl: { deletedDocuments: unknown; passes: unknown } } }>(
    h.client.db('admin'),
    { serverStatus: 1 },
  );
  return { deletedDocuments: Number(status.metrics.ttl.deletedDocuments), passes: Number(status.metrics.ttl.passes) };
}

/** Waits until the monitor has completed at least `n` whole passes after this call. */
async function passesComplete(n: number): Promise<void> {
  const start = (await ttlMetrics()).passes;
  await vi.waitFor(async () => {
    expect((await ttlMetrics()).passes).toBeGreaterThanOrEqual(start + n + 1);
  }, WAIT);
}

/** The `expireAfterSeconds` of each index, by name (absent: not a TTL index). */
async function ttlOf<T extends Document>(coll: Collection<T>): Promise<Record<string, unknown>> {
  const specs = (await coll.listIndexes().toArray()) as { name: string; expireAfterSeconds?: unknown }[];
  return Object.fromEntries(specs.map((s) => [s.name, s.expireAfterSeconds]));
}

async function ids(db: Db, coll: string): Promise<string[]> {
  const docs = await db
    .collection<{ _id: string }>(coll)
    .find({}, { sort: { _id: 1 } })
    .toArray();
  return docs.map((d) => d._id);
}

describe('TTL expiry', () => {
  it('deletes documents whose indexed date is older than expireAfterSeconds, and nothing else', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: string; at?: unknown }>('history');
    await coll.createIndex({ at: 1 }, { expireAfterSeconds: 3600 }, undefined);
    const now = Date.now();
    const before = await ttlMetrics();
    await coll.insertMany([
      { _id: 'old', at: new Date(now - 2 * HOUR) },
      { _id: 'recent', at: new Date(now - HOUR / 2) },
      { _id: 'array-with-old', at: [new Date(now + HOUR), new Date(now - 3 * HOUR)] },
      { _id: 'array-recent', at: [new Date(now), new Date(now + HOUR)] },
      { _id: 'string', at: new Date(now - 2 * HOUR).toISOString() },
      { _id: 'number', at: now - 2 * HOUR },
      { _id: 'timestamp', at: new Timestamp({ t: Math.floor((now - 2 * HOUR) / 1000), i: 1 }) },
      { _id: 'missing' },
      { _id: 'null', at: null },
    ]);
    await vi.waitFor(async () => {
      expect(await coll.countDocuments({ _id: { $in: ['old', 'array-with-old'] } })).toBe(0);
    }, WAIT);
    // Later passes leave the rest alone.
    await passesComplete(2);
    expect(await ids(db, 'history')).toEqual([
      'array-recent',
      'missing',
      'null',
      'number',
      'recent',
      'string',
      'timestamp',
    ]);
    const after = await ttlMetrics();
    expect(after.deletedDocuments).toBeGreaterThanOrEqual(before.deletedDocuments + 2);
    expect(after.passes).toBeGreaterThan(before.passes);
  });

  it('expires only the documents a partial TTL index covers', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: string; at: Date; status: string }>('orders');
    await coll.createIndex(
      { at: 1 },
      { expireAfterSeconds: 0, partialFilterExpression: { status: 'closed' } },
      undefined,
    );
    const past = new Date(Date.now() - HOUR);
    await coll.insertMany([
      { _id: 'closed', at: past, status: 'closed' },
      { _id: 'open', at: past, status: 'open' },
    ]);
    await vi.waitFor(async () => {
      expect(await ids(db, 'orders')).toEqual(['open']);
    }, WAIT);
    await passesComplete(1);
    expect(await ids(db, 'orders')).toEqual(['open']);
  });

  it('reports expiries to change streams as ordinary delete events', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: string; at: Date }>('watched');
    await coll.createIndex({ at: 1 }, { expireAfterSeconds: 60 }, undefined);
    const stream = coll.watch();
    try {
      const events: ChangeStreamDocument[] = [];
      // The first tryNext opens the stream, so it sees every write after it.
      expect(await stream.tryNext()).toBeNull();
      await coll.insertOne({ _id: 'gone', at: new Date(Date.now() - HOUR) });
      await vi.waitFor(async () => {
        const e = await stream.tryNext();
        if (e) events.push(e);
        expect(events.map((x) => x.operationType)).toEqual(['insert', 'delete']);
      }, WAIT);
      expect(events[1]).toMatchObject({
        operationType: 'delete',
        ns: { db: db.databaseName, coll: 'watched' },
        documentKey: { _id: 'gone' },
      });
    } finally {
      await stream.close();
    }
  });
});

describe('collMod index expireAfterSeconds', () => {
  it('changes how old documents must be to expire', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: string; at: Date }>('c');
    await coll.createIndex({ at: 1 }, { name: 'at_ttl', expireAfterSeconds: 3600 }, undefined);
    await coll.insertOne({ _id: 'ten-minutes', at: new Date(Date.now() - 10 * 60 * 1000) });
    await passesComplete(1);
    expect(await ids(db, 'c')).toEqual(['ten-minutes']);
    const reply = await runCommand<Record<string, unknown>>(db, {
      collMod: 'c',
      index: { name: 'at_ttl', expireAfterSeconds: 60 },
    });
    expect(reply).toMatchObject({ expireAfterSeconds_old: 3600, expireAfterSeconds_new: 60 });
    expect((await ttlOf(coll)).at_ttl).toBe(60);
    await vi.waitFor(async () => {
      expect(await ids(db, 'c')).toEqual([]);
    }, WAIT);
  });

  it('turns a single-field index into a TTL index by key pattern', async () => {
    const db = freshDb();
    const coll = db.collection<{ _id: string; at: Date }>('plain');
    await coll.createIndex({ at: 1 }, {}, undefined);
    await coll.insertOne({ _id: 'old', at: new Date(Date.now() - HOUR) });
    const reply = await runCommand<Record<string, unknown>>(db, {
      collMod: 'plain',
      index: { keyPattern: { at: 1 }, expireAfterSeconds: 1800 },
    });
    expect(reply).toMatchObject({ expireAfterSeconds_new: 1800 });
    await vi.waitFor(async () => {
      expect(await ids(db, 'plain')).toEqual([]);
    }, WAIT);
  });

  it('rejects an unknown index, a compound index and a bad value, changing nothing', async () => {
    const db = freshDb();
    const coll = db.collection('e');
    await coll.createIndex({ at: 1 }, { name: 'ttl', expireAfterSeconds: 100 }, undefined);
    await coll.createIndex({ a: 1, b: 1 }, { name: 'compound' }, undefined);
    await expect(
      runCommand(db, { collMod: 'e', index: { name: 'nope', expireAfterSeconds: 5 } }),
    ).rejects.toMatchObject({ code: 27, codeName: 'IndexNotFound' });
    await expect(
      runCommand(db, { collMod: 'e', index: { keyPattern: { nope: 1 }, expireAfterSeconds: 5 } }),
    ).rejects.toMatchObject({ code: 27 });
    await expect(
      runCommand(db, { collMod: 'e', index: { name: 'compound', expireAfterSeconds: 5 } }),
    ).rejects.toBeInstanceOf(MongoServerError);
    await expect(
      runCommand(db, { collMod: 'e', index: { name: 'ttl', expireAfterSeconds: 'soon' } }),
    ).rejects.toBeInstanceOf(MongoServerError);
    await expect(
      runCommand(db, { collMod: 'e', index: { name: 'ttl', expireAfterSeconds: -1 } }),
    ).rejects.toBeInstanceOf(MongoServerError);
    await expect(runCommand(db, { collMod: 'e', index: { expireAfterSeconds: 5 } })).rejects.toBeInstanceOf(
      MongoServerError,
    );
    expect(await ttlOf(coll)).toEqual({ _id_: undefined, ttl: 100, compound: undefined });
  });
});

describe('TTL monitor parameters', () => {
  it('reports and sets ttlMonitorSleepSecs, answering with the previous value', async () => {
    const admin = h.client.db('admin');
    expect(await runCommand(admin, { getParameter: 1, ttlMonitorSleepSecs: 1 })).toMatchObject({
      ttlMonitorSleepSecs: 1,
    });
    expect(await runCommand(admin, { setParameter: 1, ttlMonitorSleepSecs: 2 })).toMatchObject({ was: 1 });
    expect(await runCommand(admin, { getParameter: 1, ttlMonitorSleepSecs: 1 })).toMatchObject({
      ttlMonitorSleepSecs: 2,
    });
    expect(await runCommand(admin, { setParameter: 1, ttlMonitorSleepSecs: 1 })).toMatchObject({ was: 2 });
  });

  it('rejects unknown parameters and bad values', async () => {
    const admin = h.client.db('admin');
    await expect(runCommand(admin, { setParameter: 1, noSuchParameter: 1 })).rejects.toThrow(/unrecognized parameter/);
    await expect(runCommand(admin, { setParameter: 1, ttlMonitorSleepSecs: 0 })).rejects.toBeInstanceOf(
      MongoServerError,
    );
    await expect(runCommand(admin, { setParameter: 1, ttlMonitorSleepSecs: 'often' })).rejects.toBeInstanceOf(
      MongoServerError,
    );
    await expect(runCommand(admin, { setParameter: 1, ttlMonitorEnabled: 'yes' })).rejects.toBeInstanceOf(
      MongoServerError,
    );
    expect(await runCommand(admin, { getParameter: 1, ttlMonitorSleepSecs: 1, ttlMonitorEnabled: 1 })).toMatchObject({
      ttlMonitorSleepSecs: 1,
      ttlMonitorEnabled: true,
    });
  });

  it('expires nothing while ttlMonitorEnabled is false, and catches up once enabled', async () => {
    const admin = h.client.db('admin');
    const db = freshDb();
    const coll = db.collection<{ _id: string; at: Date }>('paused');
    await coll.createIndex({ at: 1 }, { expireAfterSeconds: 0 }, undefined);
    expect(await runCommand(admin, { setParameter: 1, ttlMonitorEnabled: false })).toMatchObject({ was: true });
    try {
      await coll.insertOne({ _id: 'kept', at: new Date(Date.now() - HOUR) });
      // Longer than two monitor intervals: a running monitor would have deleted it by now.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(await ids(db, 'paused')).toEqual(['kept']);
    } finally {
      await runCommand(admin, { setParameter: 1, ttlMonitorEnabled: true });
    }
    await vi.waitFor(async () => {
      expect(await ids(db, 'paused')).toEqual([]);
    }, WAIT);
  });
});

describe('TTL deletes are durable', () => {
  const data = useDataDirs();

  it('keeps expired documents deleted after a restart', async () => {
    const dir = data.tempDir();
    const first = await data.open(dir, { ttlMonitorSleepSecs: 1 });
    const coll = first.client.db('app').collection<{ _id: string; at: Date }>('history');
    await coll.createIndex({ at: 1 }, { expireAfterSeconds: 60 }, undefined);
    await coll.insertMany([
      { _id: 'expired', at: new Date(Date.now() - HOUR) },
      { _id: 'live', at: new Date(Date.now() + HOUR) },
    ]);
    await vi.waitFor(async () => {
      expect(await coll.countDocuments({ _id: 'expired' })).toBe(0);
    }, WAIT);
    await first.client.close();
    await first.server.close();
    // The restarted engine's first TTL pass is a minute away, so a missing document was deleted durably before.
    const second = await data.open(dir);
    expect(await ids(second.client.db('app'), 'history')).toEqual(['live']);
    expect((await ttlOf(second.client.db('app').collection('history'))).at_1).toBe(60);
  });
});
