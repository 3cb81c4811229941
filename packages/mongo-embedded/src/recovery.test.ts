import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChangeStreamDocument, Collection, ResumeToken } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { startEmbeddedServer } from './index.js';
import { journalFileName } from './storage/journal-format.js';
import { Journal, JournalCorruptError, type JournalFs, nodeJournalFs } from './storage/journal.js';
import { Store } from './storage/store.js';
import { directoryDigest, flipByte, useDataDirs, type DiskEngine } from './test-support/data-dir.js';
import { indexNames, type TestDoc } from './test-support/harness.js';

const { tempDir, open } = useDataDirs();

/** About 1 KiB per order, so a few thousand of them make files several of recovery's 1 MiB reads long. */
const PAD = 'x'.repeat(1000);
const STATUSES = ['new', 'paid', 'shipped'] as const;

interface Order extends TestDoc {
  orderNo: string;
  status: string;
  pad: string;
}

function orders(engine: DiskEngine): Collection<Order> {
  return engine.client.db('app').collection<Order>('orders');
}

async function shut(engine: DiskEngine): Promise<void> {
  await engine.client.close();
  await engine.server.close();
}

async function insertOrders(coll: Collection<Order>, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += 500) {
    const docs = Array.from({ length: Math.min(500, to - start) }, (_, k) => {
      const i = start + k;
      return { _id: i, orderNo: `N${i}`, status: STATUSES[i % STATUSES.length] ?? 'new', pad: PAD };
    });
    await coll.insertMany(docs);
  }
}

/** What a user sees of the orders: every document, the indexes, and the per-status counts an index answers. */
async function observe(coll: Collection<Order>) {
  return {
    docs: await coll.find({}).sort({ _id: 1 }).toArray(),
    indexes: await indexNames(coll),
    byStatus: await Promise.all(STATUSES.map((status) => coll.countDocuments({ status }, { hint: 'status_1' }))),
    newestByOrderNo: await coll
      .find({}, { projection: { _id: 1 } })
      .sort({ orderNo: -1 })
      .limit(3)
      .toArray(),
  };
}

/** The next `count` change events after `token`, as a resuming client receives them. */
async function eventsAfter(
  coll: Collection<Order>,
  token: ResumeToken,
  count: number,
): Promise<Array<Pick<ChangeStreamDocument<Order>, '_id' | 'operationType'>>> {
  const stream = coll.watch([], { resumeAfter: token, maxAwaitTimeMS: 100 });
  try {
    const events: Array<Pick<ChangeStreamDocument<Order>, '_id' | 'operationType'>> = [];
    for (let i = 0; i < count; i++) {
      const { _id, operationType } = await stream.next();
      events.push({ _id, operationType });
    }
    return events;
  } finally {
    await stream.close();
  }
}

/** For each token, whether a change stream can still resume after it (false: 286, history no longer reaches back). */
async function resumable(coll: Collection<Order>, tokens: ResumeToken[]): Promise<boolean[]> {
  const answers: boolean[] = [];
  for (const token of tokens) {
    const stream = coll.watch([], { resumeAfter: token, maxAwaitTimeMS: 10 });
    try {
      await stream.tryNext();
      answers.push(true);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 286) throw error;
      answers.push(false);
    } finally {
      await stream.close();
    }
  }
  return answers;
}

/**
 * Compacts a closed data directory the way the running engine does once its journal is large: the snapshot then
 * holds everything so far. With `interrupt`, the snapshot's rename fails, as when the engine dies mid-compaction:
 * the old files stay and a new journal generation follows the old one.
 */
async function compactDirectory(dir: string, interrupt = false): Promise<void> {
  const fs: JournalFs = interrupt
    ? {
        ...nodeJournalFs,
        rename: (from, to) =>
          from.endsWith('snapshot.bson.tmp')
            ? Promise.reject(new Error('interrupted'))
            : nodeJournalFs.rename(from, to),
      }
    : nodeJournalFs;
  const { journal, recovered } = await Journal.open({ dir, fs });
  const store = new Store({ changeHistoryMaxRecords: 100_000, journal });
  store.recover(recovered);
  if (interrupt) await expect(store.compactNow()).rejects.toThrow('interrupted');
  else await store.compactNow();
  await store.close();
}

/**
 * A directory as an interrupted compaction leaves it: a snapshot with orders 0..1999, journal 2 with 2000..2999 and
 * journal 3 with 3000..3999.
 */
async function interruptedDirectory(): Promise<string> {
  const dir = tempDir();
  const first = await open(dir);
  await orders(first).createIndex({ status: 1 });
  await insertOrders(orders(first), 0, 2000);
  await shut(first);
  await compactDirectory(dir);
  const second = await open(dir);
  await insertOrders(orders(second), 2000, 3000);
  await shut(second);
  await compactDirectory(dir, true);
  const third = await open(dir);
  await insertOrders(orders(third), 3000, 4000);
  await shut(third);
  expect([...directoryDigest(dir).keys()]).toEqual([journalFileName(2), journalFileName(3), 'snapshot.bson']);
  return dir;
}

describe('restart from a data directory larger than one read', () => {
  it('gives the same documents, indexes, counts and change-stream resume tokens as before the restart', async () => {
    const dir = tempDir();
    const first = await open(dir);
    const coll = orders(first);
    await coll.createIndex({ status: 1 });
    await coll.createIndex({ orderNo: 1 }, { unique: true }, undefined);
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    await stream.tryNext();
    await coll.insertOne({ _id: -1, orderNo: 'first', status: 'new', pad: '' });
    await stream.next();
    const token = stream.resumeToken;
    await stream.close();
    await insertOrders(coll, 0, 3000);
    await shut(first);
    // Half of the book in a snapshot, the rest (and its updates and deletes) in the journal after it.
    await compactDirectory(dir);
    const second = await open(dir);
    await insertOrders(orders(second), 3000, 6000);
    await orders(second).updateMany({ _id: { $gte: 2900, $lt: 3100 } }, { $set: { status: 'cancelled' } });
    await orders(second).deleteMany({ _id: { $gte: 5900 } });
    const seen = await observe(orders(second));
    const events = await eventsAfter(orders(second), token, 6000 + 200 + 100);
    await shut(second);
    expect(statSync(join(dir, 'snapshot.bson')).size).toBeGreaterThan(2 * 1024 * 1024);
    expect(statSync(join(dir, journalFileName(2))).size).toBeGreaterThan(2 * 1024 * 1024);

    const third = await open(dir);
    const reopened = orders(third);
    expect(await observe(reopened)).toEqual(seen);
    expect(seen.docs).toHaveLength(1 + 5900);
    expect(seen.indexes).toEqual(['_id_', 'status_1', 'orderNo_1']);
    expect(seen.byStatus).toEqual([1901, 1901, 1899]);
    await expect(reopened.insertOne({ orderNo: 'N42', status: 'new', pad: '' })).rejects.toMatchObject({
      code: 11000,
    });
    expect(await eventsAfter(reopened, token, events.length)).toEqual(events);
    expect(events.map((e) => e.operationType).slice(-101)).toEqual([
      'update',
      ...Array.from({ length: 100 }, () => 'delete'),
    ]);
  });

  it('keeps the same change-history window when the byte bound trims it during replay', async () => {
    const dir = tempDir();
    const limits = { changeHistoryMaxBytes: 64 * 1024 };
    const first = await open(dir, limits);
    const coll = orders(first);
    await insertOrders(coll, 0, 920);
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    const tokens: ResumeToken[] = [];
    try {
      await stream.tryNext();
      // One at a time: a stream reading behind a window this small would itself fall out of it.
      for (let i = 920; i < 1000; i++) {
        await insertOrders(coll, i, i + 1);
        tokens.push((await stream.next())._id);
      }
    } finally {
      await stream.close();
    }
    const before = await resumable(coll, tokens);
    // About 50 records of 1 KiB fit in 64 KiB: the window's edge lies among these 80 tokens.
    expect(before).toContain(false);
    expect(before.at(-1)).toBe(true);
    await shut(first);

    const second = await open(dir, limits);
    expect(await resumable(orders(second), tokens)).toEqual(before);
  });

  it('refuses a missing journal generation without serving, leaves the directory as it was, and opens once fixed', async () => {
    const dir = await interruptedDirectory();
    const missing = join(dir, journalFileName(2));
    const saved = readFileSync(missing);
    rmSync(missing);
    const before = directoryDigest(dir);

    await expect(startEmbeddedServer({ port: 0, dbPath: dir })).rejects.toThrow(/journal-000000000002\.log.*missing/);
    expect(directoryDigest(dir)).toEqual(before);

    writeFileSync(missing, saved);
    const fixed = await open(dir);
    expect(await orders(fixed).countDocuments()).toBe(4000);
    expect(await orders(fixed).countDocuments({ status: 'paid' }, { hint: 'status_1' })).toBe(1333);
  });

  it('refuses a damaged later journal found after replaying the earlier ones, and opens once fixed', async () => {
    const dir = await interruptedDirectory();
    const later = join(dir, journalFileName(3));
    const saved = flipByte(later, 20);
    const before = directoryDigest(dir);

    const refused = startEmbeddedServer({ port: 0, dbPath: dir });
    await expect(refused).rejects.toBeInstanceOf(JournalCorruptError);
    await expect(refused).rejects.toThrow(/journal-000000000003\.log.*header checksum/);
    expect(directoryDigest(dir)).toEqual(before);

    // The refused start released the directory: a fixed copy opens with every order, none twice.
    writeFileSync(later, saved);
    const fixed = await open(dir);
    const ids = (
      await orders(fixed)
        .find({}, { projection: { _id: 1 } })
        .sort({ _id: 1 })
        .toArray()
    ).map((d) => d._id);
    expect(ids).toEqual(Array.from({ length: 4000 }, (_, i) => i));
  });
});
