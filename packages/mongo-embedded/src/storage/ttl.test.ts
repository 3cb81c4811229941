import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Doc } from '../query/index.js';
import { Store, type JournalLike } from './store.js';
import { TtlMonitor } from './ttl.js';

/** A journal whose appends can be held back, to see what waits for durability. */
class HeldJournal implements JournalLike {
  readonly journalBytes = 0;
  readonly snapshotBytes = 0;
  private held: (() => void)[] = [];
  holding = false;

  append(): Promise<void> {
    if (!this.holding) return Promise.resolve();
    return new Promise((resolve) => this.held.push(resolve));
  }

  release(): void {
    this.holding = false;
    for (const resolve of this.held.splice(0)) resolve();
  }

  compact(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const NOW = new Date('2026-06-01T12:00:00Z');
const minutesAgo = (m: number): Date => new Date(NOW.getTime() - m * 60_000);

function storeWith(journal: JournalLike, docs: Doc[], index: Doc = { expireAfterSeconds: 600 }): Store {
  const store = new Store({ changeHistoryMaxRecords: 1000, journal });
  store.write(
    undefined,
    (batch) => {
      const coll = store.ensureCollection(batch, 'app', 'history');
      store.createIndexes(batch, coll, [{ v: 2, key: { at: 1 }, name: 'at_1', ...index }]);
      for (const doc of docs) store.insert(batch, coll, doc);
    },
    () => undefined,
  );
  return store;
}

function remaining(store: Store): unknown[] {
  return [...(store.getCollection('app', 'history')?.docs.values() ?? [])].map((d) => d._id);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('TtlMonitor pass', () => {
  it('deletes by the earliest date up to now minus expireAfterSeconds, and counts what it did', async () => {
    const store = storeWith(new HeldJournal(), [
      { _id: 'expired', at: minutesAgo(11) },
      { _id: 'at-the-cutoff', at: minutesAgo(10) },
      { _id: 'fresh', at: minutesAgo(9) },
      { _id: 'array', at: [minutesAgo(-60), minutesAgo(30)] },
      { _id: 'text', at: 'yesterday' },
      { _id: 'nothing' },
    ]);
    const ttl = new TtlMonitor(store);
    await ttl.pass(NOW);
    expect(remaining(store)).toEqual(['fresh', 'text', 'nothing']);
    expect(ttl.stats).toEqual({ deletedDocuments: 3, passes: 1 });
    const deletes = store.changeLog.readFrom(0n, 100).filter((r) => r.op === 'delete');
    // In index order, oldest first, as mongod's scan of the TTL index.
    expect(deletes.map((r) => r.documentKey)).toEqual([{ _id: 'array' }, { _id: 'expired' }, { _id: 'at-the-cutoff' }]);
  });

  it('ignores indexes without expireAfterSeconds and compound indexes', async () => {
    const old = [{ _id: 1, at: minutesAgo(1000), b: 1 }];
    const plain = storeWith(new HeldJournal(), old, {});
    const compound = new Store({ changeHistoryMaxRecords: 10 });
    compound.write(
      undefined,
      (batch) => {
        const coll = compound.ensureCollection(batch, 'app', 'history');
        compound.createIndexes(batch, coll, [{ v: 2, key: { at: 1, b: 1 }, name: 'c', expireAfterSeconds: 0 }]);
        compound.insert(batch, coll, { ...old[0] });
      },
      () => undefined,
    );
    for (const store of [plain, compound]) {
      const ttl = new TtlMonitor(store);
      await ttl.pass(NOW);
      expect(remaining(store)).toEqual([1]);
      expect(ttl.stats.deletedDocuments).toBe(0);
    }
  });

  it('does nothing while disabled', async () => {
    const store = storeWith(new HeldJournal(), [{ _id: 1, at: minutesAgo(100) }]);
    const ttl = new TtlMonitor(store);
    ttl.setEnabled(false);
    await ttl.pass(NOW);
    expect(remaining(store)).toEqual([1]);
    expect(ttl.stats.passes).toBe(0);
  });
});

describe('TtlMonitor schedule', () => {
  it('never starts a pass while the previous one waits for durability, and stop waits for it', async () => {
    vi.useFakeTimers({ now: NOW });
    const journal = new HeldJournal();
    const store = storeWith(journal, [{ _id: 1, at: minutesAgo(100) }]);
    const ttl = new TtlMonitor(store, { sleepSecs: 1 });
    ttl.start();
    journal.holding = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(ttl.stats.passes).toBe(1);
    // Its delete is not durable yet: however long that takes, no second pass starts.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ttl.stats.passes).toBe(1);
    const order: string[] = [];
    const stopped = ttl.stop().then(() => order.push('stopped'));
    await vi.advanceTimersByTimeAsync(0);
    order.push('released');
    journal.release();
    await stopped;
    expect(order).toEqual(['released', 'stopped']);
    // Stopped: no more passes.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ttl.stats.passes).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('arms the next pass at the new interval when ttlMonitorSleepSecs changes', async () => {
    vi.useFakeTimers({ now: NOW });
    const store = storeWith(new HeldJournal(), []);
    const ttl = new TtlMonitor(store);
    ttl.start();
    await vi.advanceTimersByTimeAsync(5000);
    expect(ttl.stats.passes).toBe(0);
    ttl.setSleepSeconds(1);
    await vi.advanceTimersByTimeAsync(3000);
    expect(ttl.stats.passes).toBe(3);
    await ttl.stop();
  });
});
