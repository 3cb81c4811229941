import { Long, UUID } from 'bson';
import { describe, expect, it } from 'vitest';
import { MongoServerError, type Doc } from '../query/index.js';
import { normaliseIndexSpec, Store, type JournalLike, type WriteSession } from './store.js';
import { pendingWrites, type PendingWrites } from '../test-support/pending-writes.js';
import { TransactionView } from './transaction-view.js';

/** A journal that keeps its records in memory, as the recovery of a store reads them back. */
function memoryJournal(): JournalLike & { records: Doc[] } {
  const records: Doc[] = [];
  return {
    records,
    append(record) {
      records.push(record);
      return Promise.resolve();
    },
    compact: () => Promise.resolve(),
    journalBytes: 0,
    snapshotBytes: 0,
    close: () => Promise.resolve(),
  };
}

const SESSION: WriteSession = { lsid: { id: new UUID() }, txnNumber: Long.fromNumber(1), inTransaction: true };
const NO_GUARD = { check: () => undefined, wrote: () => undefined };

/** Waits for the tracked journal writes, then one more turn for what they scheduled. */
async function settle(pending: PendingWrites): Promise<void> {
  await pending.settled();
  await new Promise((resolve) => setImmediate(resolve));
}

describe('a transaction commit in the store', () => {
  it('is one journal record: recovery finds all of its writes or, without that record, none', async () => {
    const journal = memoryJournal();
    const store = new Store({ changeHistoryMaxRecords: 100, journal });
    const pending = pendingWrites();
    store.write(
      undefined,
      (b) => store.insert(b, store.ensureCollection(b, 'app', 'c'), { _id: 'kept', n: 0 }),
      pending.track,
    );
    await settle(pending);
    const before = journal.records.length;

    const view = new TransactionView(store, new Map(), NO_GUARD);
    view.write(undefined, (b) => {
      const coll = view.ensureCollection(b, 'app', 'c');
      view.insert(b, coll, { _id: 'a', n: 1 });
      view.insert(b, coll, { _id: 'b', n: 2 });
      const kept = coll.getById('kept');
      if (kept) view.replace(b, coll, kept, { _id: 'kept', n: 10 }, 'replace');
    });
    store.applyTransaction(SESSION, view.entries, pending.track);
    await settle(pending);
    expect(journal.records.length).toBe(before + 1);
    const history = store.changeLog.readFrom(0n, 100).filter((r) => r.txnOpIndex !== undefined);
    expect(history.map((r) => [r.op, r.txnOpIndex])).toEqual([
      ['insert', 0],
      ['insert', 1],
      ['replace', 2],
    ]);

    const recovered = new Store({ changeHistoryMaxRecords: 100 });
    recovered.recover({ snapshot: null, records: journal.records });
    expect([...(recovered.getCollection('app', 'c')?.docs.values() ?? [])]).toEqual([
      { _id: 'kept', n: 10 },
      { _id: 'a', n: 1 },
      { _id: 'b', n: 2 },
    ]);
    // A crash before the commit's record reached the disk: nothing of the transaction.
    const torn = new Store({ changeHistoryMaxRecords: 100 });
    torn.recover({ snapshot: null, records: journal.records.slice(0, before) });
    expect([...(torn.getCollection('app', 'c')?.docs.values() ?? [])]).toEqual([{ _id: 'kept', n: 0 }]);
  });

  it('undoes every applied write and journals nothing when one write cannot be applied', async () => {
    const journal = memoryJournal();
    const store = new Store({ changeHistoryMaxRecords: 100, journal });
    const pending = pendingWrites();
    const { track } = pending;
    store.write(
      undefined,
      (b) => {
        const coll = store.ensureCollection(b, 'app', 'c');
        store.createIndexes(b, coll, [normaliseIndexSpec({ key: { k: 1 }, unique: true })]);
        store.insert(b, coll, { _id: 1, k: 'one' });
      },
      track,
    );
    await settle(pending);
    const view = new TransactionView(store, new Map(), NO_GUARD);
    view.write(undefined, (b) => {
      const coll = view.ensureCollection(b, 'app', 'c');
      const one = coll.getById(1);
      if (one) view.replace(b, coll, one, { _id: 1, k: 'uno' }, 'replace');
      view.insert(b, coll, { _id: 2, k: 'two' });
    });
    // Meanwhile, outside the transaction, another document takes the key the transaction inserts.
    store.write(undefined, (b) => store.insert(b, store.ensureCollection(b, 'app', 'c'), { _id: 3, k: 'two' }), track);
    await settle(pending);
    const records = journal.records.length;
    const seq = store.changes.lastAllocatedSeq;

    let caught: unknown = null;
    try {
      store.applyTransaction(SESSION, view.entries, track);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MongoServerError);
    expect((caught as MongoServerError).code).toBe(11000);
    const coll = store.getCollection('app', 'c');
    expect([...(coll?.docs.values() ?? [])]).toEqual([
      { _id: 1, k: 'one' },
      { _id: 3, k: 'two' },
    ]);
    // The undone write left its index entries as they were: 'one' is still taken, 'uno' is free.
    expect(() => store.write(undefined, (b) => store.insert(b, coll!, { _id: 4, k: 'one' }), track)).toThrow(
      MongoServerError,
    );
    store.write(undefined, (b) => store.insert(b, coll!, { _id: 5, k: 'uno' }), track);
    await settle(pending);
    expect(journal.records.length).toBe(records + 1);
    expect(store.changes.lastAllocatedSeq).toBe(seq + 1n);
  });

  it('answers WriteConflict for writes to a collection dropped since the transaction read it', () => {
    const store = new Store({ changeHistoryMaxRecords: 100 });
    const track = (): void => undefined;
    store.write(undefined, (b) => store.insert(b, store.ensureCollection(b, 'app', 'c'), { _id: 1 }), track);
    const view = new TransactionView(store, new Map(), NO_GUARD);
    view.write(undefined, (b) => view.insert(b, view.ensureCollection(b, 'app', 'c'), { _id: 2 }));
    store.write(undefined, (b) => store.dropCollection(b, 'app', 'c'), track);
    let caught: unknown = null;
    try {
      store.applyTransaction(SESSION, view.entries, track);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 112, codeName: 'WriteConflict' });
    expect(store.getCollection('app', 'c')).toBeUndefined();
  });
});
