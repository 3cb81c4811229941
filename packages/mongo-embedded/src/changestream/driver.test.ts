import { Timestamp, type ChangeStream, MongoClient, MongoServerError } from 'mongodb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient as MongoClient6 } from 'mongodb6';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedServer } from '../index.js';
import { uniqueDbName, useEngine } from '../test-support/harness.js';

type Event = Record<string, unknown>;

/** Idle polls return quickly so tests do not sit in 1 s default waits. */
const FAST = { maxAwaitTimeMS: 200 };

/** Reads exactly `n` events (each `next()` waits for the server; the test timeout bounds the whole). */
async function take(stream: ChangeStream, n: number): Promise<Event[]> {
  const out: Event[] = [];
  for (let i = 0; i < n; i++) out.push((await stream.next()) as unknown as Event);
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (e: unknown) => e,
  );
}

/** The error the stream's first `next()` fails with; the stream is closed afterwards. */
async function firstError(stream: ChangeStream): Promise<unknown> {
  try {
    return await rejection(stream.next());
  } finally {
    await stream.close();
  }
}

function numbers(events: Event[]): unknown[] {
  return events.map((e) => (e.documentKey as { _id: unknown })._id);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Counts the commands a client sends, by name (requires `monitorCommands: true`). */
function commandCounter(client: MongoClient): Map<string, number> {
  const counts = new Map<string, number>();
  client.on('commandStarted', (e) => counts.set(e.commandName, (counts.get(e.commandName) ?? 0) + 1));
  return counts;
}

/** Resolves once the client has sent a getMore (so a waiting getMore is on the server). */
function nextGetMore(client: MongoClient): Promise<void> {
  return new Promise((resolve) => {
    const onStart = (e: { commandName: string }) => {
      if (e.commandName !== 'getMore') return;
      client.off('commandStarted', onStart);
      resolve();
    };
    client.on('commandStarted', onStart);
  });
}

describe('change streams through driver 7', () => {
  const engine = useEngine('cs');
  let writer: MongoClient;

  beforeAll(async () => {
    writer = await engine.newClient();
  });

  it('sees inserts, updates, replaces and deletes made by another client, with mongod-shaped events', async () => {
    const db = uniqueDbName('cs');
    const stream = engine.client.db(db).collection('orders').watch([], FAST);
    try {
      const first = stream.tryNext(); // opens the stream (initial aggregate) before the writes
      expect(await first).toBeNull();
      const orders = writer.db(db).collection<{ _id: number; s?: string; tmp?: number; x?: number }>('orders');
      await orders.insertOne({ _id: 1, s: 'new', tmp: 1 });
      await orders.updateOne({ _id: 1 }, { $set: { s: 'paid' }, $unset: { tmp: '' } });
      await orders.replaceOne({ _id: 1 }, { x: 1 });
      await orders.deleteOne({ _id: 1 });
      const [ins, upd, rep, del] = await take(stream, 4);
      expect(ins).toMatchObject({
        operationType: 'insert',
        fullDocument: { _id: 1, s: 'new', tmp: 1 },
        ns: { db, coll: 'orders' },
        documentKey: { _id: 1 },
      });
      expect(ins!._id).toEqual({ _data: expect.stringMatching(/^[0-9A-F]+$/) as unknown });
      expect(ins!.clusterTime).toBeInstanceOf(Timestamp);
      expect(ins!.wallTime).toBeInstanceOf(Date);
      expect(upd).toMatchObject({
        operationType: 'update',
        documentKey: { _id: 1 },
        updateDescription: { updatedFields: { s: 'paid' }, removedFields: ['tmp'], truncatedArrays: [] },
      });
      expect(upd).not.toHaveProperty('fullDocument');
      expect(rep).toMatchObject({ operationType: 'replace', fullDocument: { _id: 1, x: 1 }, documentKey: { _id: 1 } });
      expect(del).toMatchObject({ operationType: 'delete', documentKey: { _id: 1 } });
      expect(del).not.toHaveProperty('fullDocument');
      const ids = [ins, upd, rep, del].map((e) => (e!._id as { _data: string })._data);
      expect([...ids].sort()).toEqual(ids);
      expect(stream.resumeToken).toEqual(del!._id);
    } finally {
      await stream.close();
    }
  });

  it('applies each fullDocument / fullDocumentBeforeChange mode when pre- and post-images are enabled', async () => {
    const db = uniqueDbName('cs');
    await writer.db(db).createCollection('c', { changeStreamPreAndPostImages: { enabled: true } });
    const coll = engine.client.db(db).collection('c');
    const streams = {
      whenAvailable: coll.watch([], {
        ...FAST,
        fullDocument: 'whenAvailable',
        fullDocumentBeforeChange: 'whenAvailable',
      }),
      required: coll.watch([], { ...FAST, fullDocument: 'required', fullDocumentBeforeChange: 'required' }),
      lookup: coll.watch([], { ...FAST, fullDocument: 'updateLookup', fullDocumentBeforeChange: 'off' }),
    };
    try {
      for (const s of Object.values(streams)) expect(await s.tryNext()).toBeNull();
      const c = writer.db(db).collection<{ _id: number; v?: number; r?: number }>('c');
      await c.insertOne({ _id: 1, v: 1 });
      await c.updateOne({ _id: 1 }, { $inc: { v: 1 } });
      await c.replaceOne({ _id: 1 }, { r: 1 });
      await c.deleteOne({ _id: 1 });
      const shape = (e: Event) => [e.operationType, e.fullDocument, e.fullDocumentBeforeChange];
      const expected = [
        ['insert', { _id: 1, v: 1 }, undefined],
        ['update', { _id: 1, v: 2 }, { _id: 1, v: 1 }],
        ['replace', { _id: 1, r: 1 }, { _id: 1, v: 2 }],
        ['delete', undefined, { _id: 1, r: 1 }],
      ];
      expect((await take(streams.whenAvailable, 4)).map(shape)).toEqual(expected);
      expect((await take(streams.required, 4)).map(shape)).toEqual(expected);
      // updateLookup reads the document when the event is returned: it was deleted by then.
      const lookup = await take(streams.lookup, 4);
      expect(lookup.map(shape)).toEqual([
        ['insert', { _id: 1, v: 1 }, undefined],
        ['update', null, undefined],
        ['replace', { _id: 1, r: 1 }, undefined],
        ['delete', undefined, undefined],
      ]);
      expect(lookup.some((e) => 'fullDocumentBeforeChange' in e)).toBe(false);
    } finally {
      for (const s of Object.values(streams)) await s.close();
    }
  });

  it('without pre-images: whenAvailable gives null, required fails with 47 at the event; collMod turns them on', async () => {
    const db = uniqueDbName('cs');
    const c = writer.db(db).collection<{ _id: number; v: number }>('c');
    await c.insertOne({ _id: 1, v: 1 });
    const lenient = engine.client
      .db(db)
      .collection('c')
      .watch([], { ...FAST, fullDocumentBeforeChange: 'whenAvailable', fullDocument: 'whenAvailable' });
    const strict = engine.client
      .db(db)
      .collection('c')
      .watch([], { ...FAST, fullDocumentBeforeChange: 'required' });
    try {
      expect(await lenient.tryNext()).toBeNull();
      expect(await strict.tryNext()).toBeNull();
      await c.updateOne({ _id: 1 }, { $set: { v: 2 } });
      const [event] = await take(lenient, 1);
      expect(event).toMatchObject({ operationType: 'update', fullDocument: null, fullDocumentBeforeChange: null });
      const error = await rejection(strict.next());
      expect(error).toBeInstanceOf(MongoServerError);
      expect((error as MongoServerError).code).toBe(47);
      expect((error as MongoServerError).codeName).toBe('NoMatchingDocument');
      expect(strict.closed).toBe(true);

      await writer.db(db).command({ collMod: 'c', changeStreamPreAndPostImages: { enabled: true } });
      await c.updateOne({ _id: 1 }, { $set: { v: 3 } });
      const [after] = await take(lenient, 1);
      expect(after).toMatchObject({ fullDocument: { _id: 1, v: 3 }, fullDocumentBeforeChange: { _id: 1, v: 2 } });
    } finally {
      await lenient.close();
      await strict.close();
    }
  });

  it('a waiting getMore returns the event written while it waits', async () => {
    const db = uniqueDbName('cs');
    const reader = await engine.newClient({ monitorCommands: true });
    const stream = reader.db(db).collection('c').watch([], { maxAwaitTimeMS: 25_000 });
    try {
      // next() opens the stream (empty first batch) and then waits in a getMore.
      const waiting = nextGetMore(reader);
      const pending = stream.next();
      await waiting;
      // Give the getMore time to reach the server and start waiting (correctness does not depend on it).
      await new Promise((resolve) => setTimeout(resolve, 100));
      await writer.db(db).collection<{ _id: string }>('c').insertOne({ _id: 'wake' });
      // With a 25 s server-side wait, this resolves only if the write wakes the waiting getMore.
      expect(await pending).toMatchObject({ operationType: 'insert', documentKey: { _id: 'wake' } });
    } finally {
      await stream.close();
    }
  });

  it('user stages after $changeStream filter and reshape events; disallowed stages and _id changes fail as in mongod', async () => {
    const db = uniqueDbName('cs');
    const coll = engine.client.db(db).collection('c');
    const stream = coll.watch(
      [
        { $match: { operationType: 'insert', 'fullDocument.keep': true } },
        { $project: { operationType: 1, 'fullDocument.n': 1 } },
        { $addFields: { seen: true } },
      ],
      FAST,
    );
    const grouped = coll.watch([{ $group: { _id: null } }], FAST);
    const noId = coll.watch([{ $project: { _id: 0 } }], FAST);
    try {
      expect(await stream.tryNext()).toBeNull();
      const groupError = await rejection(grouped.tryNext());
      expect(groupError).toMatchObject({ code: 20, message: '$group is not permitted in a $changeStream pipeline' });
      expect(await noId.tryNext()).toBeNull();
      const c = writer.db(db).collection<{ _id: number; keep: boolean; n: number }>('c');
      await c.insertMany([
        { _id: 1, keep: false, n: 1 },
        { _id: 2, keep: true, n: 2 },
      ]);
      await c.deleteOne({ _id: 2 });
      await c.insertOne({ _id: 3, keep: true, n: 3 });
      const events = await take(stream, 2);
      expect(events.map((e) => ({ ...e, _id: undefined }))).toEqual([
        { _id: undefined, operationType: 'insert', fullDocument: { n: 2 }, seen: true },
        { _id: undefined, operationType: 'insert', fullDocument: { n: 3 }, seen: true },
      ]);
      const idError = await rejection(noId.next());
      expect(idError).toMatchObject({ code: 280 });
      expect((idError as MongoServerError).hasErrorLabel('NonResumableChangeStreamError')).toBe(true);
    } finally {
      await stream.close();
      await grouped.close();
      await noId.close();
    }
  });

  /** Writes 1..n into `c` and returns once all are acknowledged. */
  async function writeNumbered(db: string, from: number, to: number): Promise<void> {
    const c = writer.db(db).collection<{ _id: number }>('c');
    for (let i = from; i <= to; i++) await c.insertOne({ _id: i });
  }

  it('resumes after another client kills the server-side cursor, losing and repeating nothing', async () => {
    const db = uniqueDbName('cs');
    const reader = await engine.newClient({ monitorCommands: true });
    const cursorIds: unknown[] = [];
    reader.on('commandSucceeded', (e) => {
      if (e.commandName === 'aggregate') cursorIds.push((e.reply as { cursor: { id: unknown } }).cursor.id);
    });
    const counts = commandCounter(reader);
    const stream = reader
      .db(db)
      .collection('c')
      .watch([], { ...FAST, batchSize: 7 });
    try {
      expect(await stream.tryNext()).toBeNull();
      await writeNumbered(db, 1, 20);
      const firstHalf = await take(stream, 20);
      // No getMore is outstanding now: the driver's buffer was drained by exactly 20 next() calls.
      const killed = await writer.db(db).command({ killCursors: 'c', cursors: [cursorIds.at(-1)] });
      expect(killed.cursorsKilled).toHaveLength(1);
      await writeNumbered(db, 21, 40);
      const secondHalf = await take(stream, 20);
      expect(numbers([...firstHalf, ...secondHalf])).toEqual(range(1, 40));
      expect(counts.get('aggregate')).toBe(2);
    } finally {
      await stream.close();
    }
  });

  for (const fault of ['errorLabels', 'closeConnection'] as const) {
    it(`resumes after a getMore ${fault === 'errorLabels' ? 'fails with ResumableChangeStreamError' : 'loses its connection'} while a writer keeps writing`, async () => {
      const db = uniqueDbName('cs');
      const reader = await engine.newClient({ monitorCommands: true });
      const counts = commandCounter(reader);
      const stream = reader.db(db).collection('c').watch([], { batchSize: 5, maxAwaitTimeMS: 500 });
      try {
        expect(await stream.tryNext()).toBeNull();
        const total = 60;
        const writing = writeNumbered(db, 1, total);
        const events = await take(stream, 10);
        await writer.db('admin').command({
          configureFailPoint: 'failCommand',
          mode: { times: 2 },
          data:
            fault === 'errorLabels'
              ? { failCommands: ['getMore'], errorCode: 91, errorLabels: ['ResumableChangeStreamError'] }
              : { failCommands: ['getMore'], closeConnection: true },
        });
        events.push(...(await take(stream, total - 10)));
        await writing;
        expect(numbers(events)).toEqual(range(1, total));
        expect(counts.get('aggregate')).toBe(3);
        // Nothing more arrives: no event was repeated at the end either.
        expect(await stream.tryNext()).toBeNull();
      } finally {
        await writer.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
        await stream.close();
      }
    });
  }

  it('does not resume after a getMore error without the resumable label (as with mongod)', async () => {
    const db = uniqueDbName('cs');
    const reader = await engine.newClient({ monitorCommands: true });
    const counts = commandCounter(reader);
    const stream = reader.db(db).collection('c').watch([], FAST);
    try {
      expect(await stream.tryNext()).toBeNull();
      await writer.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['getMore'], errorCode: 6 },
      });
      await writeNumbered(db, 1, 1);
      const error = await rejection(stream.next());
      expect(error).toBeInstanceOf(MongoServerError);
      expect((error as MongoServerError).code).toBe(6);
      expect(counts.get('aggregate')).toBe(1);
    } finally {
      await writer.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
      await stream.close();
    }
  });

  it('resumeAfter, startAfter and startAtOperationTime start where asked', async () => {
    const db = uniqueDbName('cs');
    const coll = engine.client.db(db).collection('c');
    const stream = coll.watch([], FAST);
    try {
      expect(await stream.tryNext()).toBeNull();
      await writeNumbered(db, 1, 5);
      const events = await take(stream, 5);
      const third = events[2]!;

      const resumed = coll.watch([], { ...FAST, resumeAfter: third._id });
      expect(numbers(await take(resumed, 2))).toEqual([4, 5]);
      await resumed.close();

      const started = coll.watch([], { ...FAST, startAfter: third._id });
      expect(numbers(await take(started, 2))).toEqual([4, 5]);
      await started.close();

      const atTime = coll.watch([], { ...FAST, startAtOperationTime: third.clusterTime as Timestamp });
      expect(numbers(await take(atTime, 3))).toEqual([3, 4, 5]);
      await atTime.close();

      // The cached resume token after an idle poll is the server's high-water mark: resuming from it
      // delivers only later writes.
      expect(await stream.tryNext()).toBeNull();
      const fromHwm = coll.watch([], { ...FAST, resumeAfter: stream.resumeToken });
      expect(await fromHwm.tryNext()).toBeNull();
      await writeNumbered(db, 6, 6);
      expect(numbers(await take(fromHwm, 1))).toEqual([6]);
      await fromHwm.close();
    } finally {
      await stream.close();
    }
  });

  it('drop and rename invalidate a collection stream; startAfter the invalidate starts a new stream', async () => {
    const db = uniqueDbName('cs');
    const coll = engine.client.db(db).collection('c');
    const stream = coll.watch([], FAST);
    try {
      expect(await stream.tryNext()).toBeNull();
      await writeNumbered(db, 1, 1);
      await writer.db(db).collection('c').drop();
      const [ins, drop, invalidate] = await take(stream, 3);
      expect(ins).toMatchObject({ operationType: 'insert' });
      expect(drop).toMatchObject({ operationType: 'drop', ns: { db, coll: 'c' } });
      expect(invalidate).toMatchObject({ operationType: 'invalidate' });
      expect(stream.closed).toBe(true);

      const resumeError = await firstError(coll.watch([], { resumeAfter: invalidate!._id }));
      expect(resumeError).toMatchObject({ code: 260 });

      const after = coll.watch([], { ...FAST, startAfter: invalidate!._id });
      await writeNumbered(db, 2, 2);
      await writer.db(db).collection('c').rename('d');
      const renamed = await take(after, 3);
      expect(renamed.map((e) => e.operationType)).toEqual(['insert', 'rename', 'invalidate']);
      expect(renamed[1]).toMatchObject({ ns: { db, coll: 'c' }, to: { db, coll: 'd' } });
      expect(after.closed).toBe(true);
    } finally {
      await stream.close();
    }
  });

  it('db.watch() sees every collection of the database and ends at dropDatabase', async () => {
    const db = uniqueDbName('cs');
    const stream = engine.client.db(db).watch([], FAST);
    const other = writer.db(uniqueDbName('cs'));
    try {
      expect(await stream.tryNext()).toBeNull();
      await writer.db(db).collection<{ _id: number }>('a').insertOne({ _id: 1 });
      await other.collection<{ _id: number }>('a').insertOne({ _id: 99 });
      await writer.db(db).collection<{ _id: number }>('b').insertOne({ _id: 2 });
      await writer.db(db).dropDatabase();
      const events = await take(stream, 6);
      expect(events.map((e) => [e.operationType, (e.ns as { coll?: string } | undefined)?.coll])).toEqual([
        ['insert', 'a'],
        ['insert', 'b'],
        ['drop', 'a'],
        ['drop', 'b'],
        ['dropDatabase', undefined],
        ['invalidate', undefined],
      ]);
      expect(stream.closed).toBe(true);
    } finally {
      await stream.close();
      await other.dropDatabase();
    }
  });
});

describe('change-stream history limits through driver 7', () => {
  const engine = useEngine('history', { changeHistoryMaxRecords: 5 });

  it('answers 286 ChangeStreamHistoryLost when resuming from before the retained history', async () => {
    const coll = engine.client.db('h').collection<{ _id: number }>('c');
    const stream = coll.watch([], FAST);
    expect(await stream.tryNext()).toBeNull();
    await coll.insertOne({ _id: 0 });
    const [first] = await take(stream, 1);
    await stream.close();
    for (let i = 1; i <= 10; i++) await coll.insertOne({ _id: i });
    for (const options of [{ resumeAfter: first!._id }, { startAtOperationTime: first!.clusterTime as Timestamp }]) {
      const error = await firstError(coll.watch([], options));
      expect(error).toBeInstanceOf(MongoServerError);
      expect((error as MongoServerError).code).toBe(286);
      expect((error as MongoServerError).hasErrorLabel('NonResumableChangeStreamError')).toBe(true);
    }
  });
});

describe('change-stream history byte budget through driver 7', () => {
  // Room for a few hundred small records but only a handful of 20 kB post-images.
  const engine = useEngine('history', { changeHistoryMaxBytes: 100_000 });

  it('drops the oldest large records beyond the budget: resuming before them answers 286, within them resumes', async () => {
    const coll = engine.client.db('hb').collection<{ _id: number; blob: string }>('c');
    const stream = coll.watch([], FAST);
    expect(await stream.tryNext()).toBeNull();
    await coll.insertOne({ _id: 0, blob: 'x'.repeat(20_000) });
    const [first] = await take(stream, 1);
    const events: Event[] = [];
    for (let i = 1; i <= 10; i++) {
      await coll.insertOne({ _id: i, blob: 'x'.repeat(20_000) });
      events.push(...(await take(stream, 1)));
    }
    await stream.close();
    const error = await firstError(coll.watch([], { resumeAfter: first!._id }));
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(286);
    // The newest records are still retained: resuming after the 9th insert delivers the 10th.
    const resumed = coll.watch([], { ...FAST, resumeAfter: events[8]!._id });
    try {
      expect(numbers(await take(resumed, 1))).toEqual([10]);
    } finally {
      await resumed.close();
    }
  });
});

describe('change streams across a restart from the data directory', () => {
  it('keeps resume tokens valid: event tokens and high-water marks resume after the restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-restart-'));
    try {
      let server = await startEmbeddedServer({ port: 0, dbPath: dir });
      let client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
      let events: Event[];
      let idleToken: unknown;
      try {
        const coll = client.db('r').collection<{ _id: number }>('c');
        const stream = coll.watch([], FAST);
        expect(await stream.tryNext()).toBeNull();
        for (let i = 1; i <= 3; i++) await coll.insertOne({ _id: i });
        events = await take(stream, 3);
        expect(await stream.tryNext()).toBeNull();
        idleToken = stream.resumeToken;
        await stream.close();
      } finally {
        await client.close();
        await server.close();
      }

      server = await startEmbeddedServer({ port: 0, dbPath: dir });
      client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
      try {
        const coll = client.db('r').collection<{ _id: number }>('c');
        await coll.insertOne({ _id: 4 });
        const fromEvent = coll.watch([], { ...FAST, resumeAfter: events[0]!._id });
        expect(numbers(await take(fromEvent, 3))).toEqual([2, 3, 4]);
        await fromEvent.close();
        const fromIdle = coll.watch([], { ...FAST, resumeAfter: idleToken });
        expect(numbers(await take(fromIdle, 1))).toEqual([4]);
        await fromIdle.close();
      } finally {
        await client.close();
        await server.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('change streams through driver 6.22', () => {
  const engine = useEngine('cs6');
  let client6: MongoClient6;
  let writer6: MongoClient6;

  beforeAll(async () => {
    client6 = new MongoClient6(engine.server.uri, { serverSelectionTimeoutMS: 5000, monitorCommands: true });
    writer6 = new MongoClient6(engine.server.uri, { serverSelectionTimeoutMS: 5000 });
    await client6.connect();
    await writer6.connect();
  });
  afterAll(async () => {
    await client6.close();
    await writer6.close();
  });

  it('sees another client’s writes with images, and resumes after a dropped connection without loss or repeats', async () => {
    const db = uniqueDbName('cs6');
    await writer6.db(db).createCollection('c', { changeStreamPreAndPostImages: { enabled: true } });
    let aggregates = 0;
    client6.on('commandStarted', (e) => {
      if (e.commandName === 'aggregate') aggregates += 1;
    });
    const stream = client6.db(db).collection('c').watch([], {
      fullDocument: 'updateLookup',
      fullDocumentBeforeChange: 'whenAvailable',
      maxAwaitTimeMS: 500,
    });
    try {
      expect(await stream.tryNext()).toBeNull();
      const c = writer6.db(db).collection<{ _id: number; v?: number }>('c');
      await c.insertOne({ _id: 0, v: 1 });
      await c.updateOne({ _id: 0 }, { $set: { v: 2 } });
      const first = [(await stream.next()) as unknown as Event, (await stream.next()) as unknown as Event];
      expect(first.map((e) => [e.operationType, e.fullDocument, e.fullDocumentBeforeChange])).toEqual([
        ['insert', { _id: 0, v: 1 }, undefined],
        ['update', { _id: 0, v: 2 }, { _id: 0, v: 1 }],
      ]);

      await writer6.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['getMore'], closeConnection: true },
      });
      const writing = (async () => {
        for (let i = 1; i <= 30; i++) await c.insertOne({ _id: i });
      })();
      const seen: unknown[] = [];
      for (let i = 0; i < 30; i++)
        seen.push(((await stream.next()) as unknown as { documentKey: { _id: unknown } }).documentKey._id);
      await writing;
      expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(aggregates).toBe(2);
    } finally {
      await writer6.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
      await stream.close();
    }
  });

  it('reports drop then invalidate and closes the stream', async () => {
    const db = uniqueDbName('cs6');
    const stream = client6.db(db).collection('c').watch([], FAST);
    try {
      expect(await stream.tryNext()).toBeNull();
      await writer6.db(db).collection<{ _id: number }>('c').insertOne({ _id: 1 });
      await writer6.db(db).collection('c').drop();
      const types: unknown[] = [];
      for (let i = 0; i < 3; i++) types.push(((await stream.next()) as unknown as Event).operationType);
      expect(types).toEqual(['insert', 'drop', 'invalidate']);
      expect(stream.closed).toBe(true);
    } finally {
      await stream.close();
    }
  });
});
