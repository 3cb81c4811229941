import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Order } from '@orders/contracts';
import type { HistoryDocument } from '../src/history/entry.js';
import { HistoryWriter, type HistoryStore } from '../src/history/writer.js';
import type { ChangeCursor, RawChange } from '../src/realtime/change-mapping.js';
import { ChangeFeed, type FeedSink, type PositionStore } from '../src/realtime/feed.js';
import { created, deleted, order, pos, silentLog, updated } from './support/realtime-fakes.js';

/** A store whose writes fail while `down` is set, recording what it stored. */
class MemoryStore implements HistoryStore {
  readonly stored = new Map<string, HistoryDocument>();
  down = false;
  attempts = 0;
  lookups: number[] = [];
  async insertMissing(documents: readonly HistoryDocument[]): Promise<void> {
    this.attempts += 1;
    await Promise.resolve();
    if (this.down) throw new Error('database down');
    for (const document of documents) if (!this.stored.has(document._id)) this.stored.set(document._id, document);
  }
  async orderBefore(id: number, position: string): Promise<Order | null> {
    this.lookups.push(id);
    await Promise.resolve();
    const before = [...this.stored.values()]
      .filter((document) => document.order_id === id && document._id < position)
      .sort((a, b) => (a._id < b._id ? 1 : -1));
    return before[0]?.order ?? null;
  }
}

const writers: HistoryWriter[] = [];
const feeds: ChangeFeed[] = [];
afterEach(async () => {
  for (const feed of feeds.splice(0)) await feed.close();
  for (const writer of writers.splice(0)) await writer.drain();
});

function writer(store: HistoryStore, options: { maxHeld?: number; batchSize?: number } = {}): HistoryWriter {
  const made = new HistoryWriter({ store, log: silentLog, ...options });
  writers.push(made);
  return made;
}

/** A position store that starts the feed after position 4 and records every position it is asked to save. */
function positionStore(saves: string[]): PositionStore {
  return {
    load: () => Promise.resolve(pos(4)),
    save: (at) => {
      saves.push(at);
      return Promise.resolve();
    },
  };
}

describe('history writer', () => {
  it('reports as stored only what the store has acknowledged, in order', async () => {
    const store = new MemoryStore();
    store.down = true;
    const history = writer(store);
    history.advance(pos(1));
    history.publish(created(2));
    history.publish(updated(3, order(2, { status: 'shipped', version: 2 })));
    history.advance(pos(4));
    expect(history.storedThrough()).toBe(pos(1));
    await vi.waitFor(() => expect(store.attempts).toBeGreaterThanOrEqual(2));
    expect(history.storedThrough()).toBe(pos(1));
    expect(history.pending).toBe(2);
    store.down = false;
    await vi.waitFor(() => expect(history.storedThrough()).toBe(pos(4)), { timeout: 10_000 });
    expect([...store.stored.keys()]).toEqual([pos(2), pos(3)]);
  });

  it('diffs against the previous state when a change has no pre-image: held changes first, then the store', async () => {
    const store = new MemoryStore();
    const history = writer(store);
    history.publish(created(1, order(7)));
    history.publish(updated(2, order(7, { status: 'shipped', version: 2 })));
    history.publish(deleted(3, 7));
    await vi.waitFor(() => expect(history.pending).toBe(0));
    expect(store.stored.get(pos(2))?.changes).toEqual([{ field: 'status', before: 'pending', after: 'shipped' }]);
    expect(store.stored.get(pos(3))?.changes.find((change) => change.field === 'status')).toEqual({
      field: 'status',
      before: 'shipped',
      after: null,
    });
    expect(store.lookups).toEqual([]);

    // A new writer (a restarted process) knows nothing: it asks the history for the order's last state.
    const restarted = writer(store);
    restarted.publish(updated(4, order(8, { status: 'delivered', version: 2 })));
    await vi.waitFor(() => expect(restarted.pending).toBe(0));
    expect(store.lookups).toEqual([8]);
    expect(store.stored.get(pos(4))?.changes).toEqual([
      { field: 'created_at', before: null, after: order(8).created_at },
      { field: 'customer_name', before: null, after: order(8).customer_name },
      { field: 'product_name', before: null, after: order(8).product_name },
      { field: 'status', before: null, after: 'delivered' },
    ]);
  });

  it('holds the feed back when it holds as many changes as allowed, and lets it go once they are stored', async () => {
    const store = new MemoryStore();
    store.down = true;
    const history = writer(store, { maxHeld: 2 });
    history.publish(created(1));
    expect(history.capacity()).toBeNull();
    history.publish(created(2));
    const full = history.capacity();
    expect(full).not.toBeNull();
    let released = false;
    void full?.then(() => (released = true));
    await vi.waitFor(() => expect(store.attempts).toBeGreaterThanOrEqual(1));
    expect(released).toBe(false);
    store.down = false;
    await vi.waitFor(() => expect(released).toBe(true), { timeout: 10_000 });
  });
});

/** A change stream that hands out `changes` once, then idle batches at `idle`. */
function scriptedCursor(changes: RawChange[], idle: string): ChangeCursor {
  const left = [...changes];
  return {
    tryNext: async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return left.shift() ?? null;
    },
    get resumeToken() {
      return { _data: idle };
    },
    close: () => Promise.resolve(),
  };
}

describe('the feed with the history writer', () => {
  it('never persists a position past a change the history has not stored', async () => {
    const store = new MemoryStore();
    store.down = true;
    const history = writer(store);
    const saves: string[] = [];
    const document = { customer_name: 'Ada', product_name: 'Lamp', status: 'pending', version: 1 };
    const sink: FeedSink = {
      publish: (item) => history.publish(item),
      advance: (at) => history.advance(at),
      reset: () => history.reset(),
    };
    const feed = new ChangeFeed({
      open: () =>
        scriptedCursor(
          [
            { _id: { _data: pos(5) }, operationType: 'insert', fullDocument: { _id: 1, ...document } },
            { _id: { _data: pos(6) }, operationType: 'insert', fullDocument: { _id: 2, ...document } },
          ],
          pos(9),
        ),
      sink,
      durable: history,
      store: positionStore(saves),
      log: silentLog,
      persistIntervalMs: 5,
    });
    feeds.push(feed);
    await feed.start();
    await vi.waitFor(() => expect(feed.position()).toBe(pos(9)));
    await vi.waitFor(() => expect(store.attempts).toBeGreaterThanOrEqual(2));
    // The feed has read through 9, but 5 and 6 are not stored: nothing past 4 may be persisted.
    expect(saves.every((at) => at <= pos(4))).toBe(true);
    store.down = false;
    await vi.waitFor(() => expect(saves.at(-1)).toBe(pos(9)), { timeout: 10_000 });
    expect([...store.stored.keys()]).toEqual([pos(5), pos(6)]);
  });

  it('on close stores what it holds before persisting, and leaves it unpersisted when the store refuses', async () => {
    const store = new MemoryStore();
    store.down = true;
    const history = writer(store);
    const saves: string[] = [];
    const feed = new ChangeFeed({
      open: () =>
        scriptedCursor([{ _id: { _data: pos(5) }, operationType: 'delete', documentKey: { _id: 1 } }], pos(7)),
      sink: { publish: (item) => history.publish(item), advance: (at) => history.advance(at), reset: () => undefined },
      durable: history,
      store: positionStore(saves),
      log: silentLog,
      persistIntervalMs: 60_000,
    });
    await feed.start();
    await vi.waitFor(() => expect(feed.position()).toBe(pos(7)));
    await feed.close();
    expect(saves.filter((at) => at > pos(4))).toEqual([]);
    expect(store.stored.size).toBe(0);
  });
});
