import { Int32 } from 'bson';
import { describe, expect, it } from 'vitest';
import { useDataDirs } from '../test-support/data-dir.js';
import { pendingWrites } from '../test-support/pending-writes.js';
import { Journal } from './journal.js';
import { Store } from './store.js';

const { tempDir } = useDataDirs();

async function openStore(dir: string, compactThresholdBytes: number): Promise<{ store: Store; journal: Journal }> {
  const { journal, recovered } = await Journal.open({ dir });
  const store = new Store({ changeHistoryMaxRecords: 50, journal, compactThresholdBytes });
  store.recover(recovered);
  return { store, journal };
}

describe('Store with a journal', () => {
  it('compacts so disk use tracks live data, and recovers the same state and history from the snapshot', async () => {
    const dir = tempDir();
    const { store, journal } = await openStore(dir, 16 * 1024);
    const { track, settled } = pendingWrites();
    store.write(
      undefined,
      (b) => {
        const coll = store.ensureCollection(b, 'app', 'c');
        for (let i = 0; i < 10; i++)
          store.insert(b, coll, { _id: new Int32(i), v: new Int32(0), pad: 'x'.repeat(100) });
      },
      track,
    );
    // Rewrite the same ten documents many times: the journal grows, the live data does not.
    for (let round = 1; round <= 200; round++) {
      store.write(
        undefined,
        (b) => {
          const coll = store.getCollection('app', 'c')!;
          for (let i = 0; i < 10; i++) {
            const before = coll.getById(i)!;
            store.replace(b, coll, before, { ...before, v: new Int32(round) }, 'replace');
          }
        },
        track,
      );
      await settled();
    }
    await store.compactNow();
    const bytesAfterCompaction = journal.journalBytes + journal.snapshotBytes;
    expect(bytesAfterCompaction).toBeLessThan(200 * 10 * 100);
    const lastSeq = store.changeLog.lastSeq;
    const oldest = store.changeLog.oldestSeq;
    await store.close();

    const reopened = await openStore(dir, 16 * 1024);
    try {
      const coll = reopened.store.getCollection('app', 'c');
      expect(coll?.docs.size).toBe(10);
      expect(coll?.getById(3)).toMatchObject({ _id: new Int32(3), v: new Int32(200) });
      expect(reopened.store.changeLog.lastSeq).toBe(lastSeq);
      expect(reopened.store.changeLog.oldestSeq).toBe(oldest);
      const tail = reopened.store.changeLog.readFrom(lastSeq - 2n, 10);
      expect(tail.map((r) => r.seq)).toEqual([lastSeq - 1n, lastSeq]);
      // New writes continue the sequence rather than reusing numbers.
      reopened.store.write(undefined, (b) => reopened.store.insert(b, coll!, { _id: 'new' }), track);
      await settled();
      expect(reopened.store.changeLog.lastSeq).toBe(lastSeq + 1n);
    } finally {
      await reopened.store.close();
    }
  });

  it('recovers a journal of many more writes than the history keeps: the newest ones, and every document', async () => {
    const dir = tempDir();
    // No compaction: every write is replayed from the journal on reopen.
    const { store } = await openStore(dir, 1024 * 1024 * 1024);
    const pending: Promise<void>[] = [];
    const track = (p: Promise<void>): void => {
      pending.push(p);
    };
    for (let i = 0; i < 260; i++) {
      store.write(
        undefined,
        (b) => store.insert(b, store.ensureCollection(b, 'app', 'c'), { _id: new Int32(i), n: new Int32(i % 7) }),
        track,
      );
    }
    await Promise.all(pending.splice(0));
    const lastSeq = store.changeLog.lastSeq;
    await store.close();

    const reopened = await openStore(dir, 1024 * 1024 * 1024);
    try {
      const coll = reopened.store.getCollection('app', 'c');
      expect(coll?.docs.size).toBe(260);
      expect(reopened.store.changeLog.lastSeq).toBe(lastSeq);
      // The history holds its 50 newest records, in order, ending with the last write.
      expect(reopened.store.changeLog.oldestSeq).toBe(lastSeq - 49n);
      const tail = reopened.store.changeLog.readFrom(lastSeq - 50n, 100);
      expect(tail.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => lastSeq - 49n + BigInt(i)));
      expect(tail.at(-1)?.postImage).toMatchObject({ _id: new Int32(259) });
      const plan = reopened.store.plan(coll, { _id: { $gte: new Int32(250) } });
      expect(plan.indexName).toBe('_id_');
      expect(plan.candidates.map((d) => d._id)).toEqual(Array.from({ length: 10 }, (_, i) => new Int32(250 + i)));
    } finally {
      await reopened.store.close();
    }
  });

  it('makes change records visible only after their journal record is durable', async () => {
    const dir = tempDir();
    const { store } = await openStore(dir, 1 << 30);
    try {
      let notified = 0;
      const unsubscribe = store.changeLog.onAppend(() => notified++);
      let durable: Promise<void> = Promise.resolve();
      store.write(
        undefined,
        (b) => store.insert(b, store.ensureCollection(b, 'app', 'c'), { _id: 1 }),
        (p) => {
          durable = p;
        },
      );
      expect(store.changeLog.lastSeq).toBe(0n);
      expect(store.changeLog.readFrom(0n, 10)).toEqual([]);
      await durable;
      await new Promise((resolve) => setImmediate(resolve));
      // The implicit creation of the collection is a change too (reported to expanded change streams).
      expect(store.changeLog.lastSeq).toBe(2n);
      expect(store.changeLog.readFrom(0n, 10).map((r) => r.op)).toEqual(['create', 'insert']);
      expect(notified).toBe(1);
      unsubscribe();
    } finally {
      await store.close();
    }
  });
});
