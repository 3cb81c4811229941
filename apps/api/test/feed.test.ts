import { afterEach, describe, expect, it, vi } from 'vitest';
import { ResyncReason } from '@orders/contracts';
import {
  mapChange,
  type ChangeCursor,
  type ChangeItem,
  type RawChange,
  type StreamStart,
} from '../src/realtime/change-mapping.js';
import { ChangeFeed, type FeedSink } from '../src/realtime/feed.js';
import { createReplayOpener } from '../src/realtime/replay.js';
import { pos, serverError } from './support/realtime-fakes.js';

type Step = { change: RawChange } | { idle: string } | { error: Error };

/** A change stream that plays a script, then waits until it is closed. */
class FakeStream implements ChangeCursor {
  resumeToken: unknown = null;
  closed = false;
  private onClose: () => void = () => undefined;
  private readonly closedSignal = new Promise<void>((resolve) => (this.onClose = resolve));

  constructor(
    readonly start: StreamStart,
    private readonly script: Step[],
  ) {}

  async tryNext(): Promise<RawChange | null> {
    const step = this.script.shift();
    if (step === undefined || this.closed) {
      await this.closedSignal;
      throw new Error('ChangeStream is closed');
    }
    if ('error' in step) throw step.error;
    if ('idle' in step) {
      this.resumeToken = { _data: step.idle };
      return null;
    }
    this.resumeToken = step.change._id;
    return step.change;
  }

  close(): Promise<void> {
    this.closed = true;
    this.onClose();
    return Promise.resolve();
  }
}

class FakeSource {
  readonly streams: FakeStream[] = [];
  constructor(private readonly scripts: Step[][]) {}
  open = (start: StreamStart): FakeStream => {
    const stream = new FakeStream(start, this.scripts.shift() ?? []);
    this.streams.push(stream);
    return stream;
  };
}

class RecordingSink implements FeedSink {
  readonly published: ChangeItem[] = [];
  readonly advanced: string[] = [];
  readonly resets: ResyncReason[] = [];
  publish(item: ChangeItem): void {
    this.published.push(item);
  }
  advance(position: string): void {
    this.advanced.push(position);
  }
  reset(reason: ResyncReason): void {
    this.resets.push(reason);
  }
}

function memoryStore(initial: string | null = null) {
  const saves: string[] = [];
  return {
    saves,
    load: () => Promise.resolve(initial),
    save: (position: string) => {
      saves.push(position);
      return Promise.resolve();
    },
  };
}

function recordingLog() {
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    warnings,
    errors,
    info: () => undefined,
    warn: (_obj: object, msg?: string) => warnings.push(msg ?? ''),
    error: (_obj: object, msg?: string) => errors.push(msg ?? ''),
  };
}

const STORED = {
  customer_name: 'Ada',
  product_name: 'Lamp',
  status: 'pending',
  created_at: new Date('2026-02-01T00:00:00.000Z'),
  updated_at: new Date('2026-02-02T00:00:00.000Z'),
  version: 3,
};

function change(n: number, operationType: string, fields: Partial<RawChange> = {}): RawChange {
  return { _id: { _data: pos(n) }, operationType, ...fields };
}

const feeds: ChangeFeed[] = [];
afterEach(async () => {
  for (const feed of feeds.splice(0)) await feed.close();
});

function startFeed(
  scripts: Step[][],
  options: { stored?: string | null; lookup?: (id: number) => Promise<unknown> } = {},
) {
  const source = new FakeSource(scripts);
  const sink = new RecordingSink();
  const store = memoryStore(options.stored ?? null);
  const log = recordingLog();
  const feed = new ChangeFeed({
    open: source.open,
    sink,
    store,
    log,
    lookup: options.lookup,
    initialBackoffMs: 1,
    maxBackoffMs: 5,
    persistIntervalMs: 60_000,
  });
  feeds.push(feed);
  return { feed, source, sink, store, log };
}

describe('change mapping', () => {
  it('maps insert, update, replace and delete to contract events', () => {
    const doc = { _id: 7, ...STORED };
    const expected = {
      id: 7,
      customer_name: 'Ada',
      product_name: 'Lamp',
      status: 'pending',
      created_at: '2026-02-01T00:00:00.000Z',
      updated_at: '2026-02-02T00:00:00.000Z',
      version: 3,
    };
    expect(mapChange(change(1, 'insert', { fullDocument: doc, documentKey: { _id: 7 } }))).toEqual({
      type: 'event',
      item: {
        kind: 'created',
        position: pos(1),
        id: 7,
        order: expected,
        before: null,
        facts: { committedAt: null, actor: null, previous: null },
      },
    });
    expect(mapChange(change(2, 'update', { fullDocument: doc, documentKey: { _id: 7 } }))).toMatchObject({
      type: 'event',
      item: { kind: 'updated', order: expected },
    });
    expect(mapChange(change(3, 'replace', { fullDocument: doc, documentKey: { _id: 7 } }))).toMatchObject({
      type: 'event',
      item: { kind: 'updated', order: expected },
    });
    expect(
      mapChange(
        change(4, 'delete', { documentKey: { _id: 7 }, fullDocumentBeforeChange: { ...doc, status: 'shipped' } }),
      ),
    ).toEqual({
      type: 'event',
      item: {
        kind: 'deleted',
        position: pos(4),
        id: 7,
        order: null,
        before: { id: 7, status: 'shipped', customer_name: 'Ada', product_name: 'Lamp' },
        facts: { committedAt: null, actor: null, previous: { ...expected, status: 'shipped' } },
      },
    });
  });

  it('shows a document written directly through the driver without dates or version with the documented defaults', () => {
    const mapped = mapChange(
      change(1, 'insert', { fullDocument: { _id: 9, customer_name: 'Bob', product_name: 'Pen', status: 'shipped' } }),
    );
    expect(mapped).toMatchObject({
      type: 'event',
      item: {
        order: {
          id: 9,
          status: 'shipped',
          // The same defaults REST shows (no wall-clock time: GET /orders/9 must read the same).
          created_at: '1970-01-01T00:00:00.000Z',
          updated_at: '1970-01-01T00:00:00.000Z',
          version: 1,
        },
      },
    });
  });

  it('skips documents that cannot be orders, naming why', () => {
    const bad = [
      { _id: 'abc', ...STORED },
      { _id: 1.5, ...STORED },
      { _id: 0, ...STORED },
      { _id: 3, ...STORED, status: 'lost' },
      { _id: 4, ...STORED, customer_name: '' },
    ];
    for (const fullDocument of bad) {
      expect(mapChange(change(1, 'insert', { fullDocument }))).toMatchObject({ type: 'skip', expected: false });
    }
    expect(mapChange(change(2, 'delete', { documentKey: { _id: 'x' } }))).toMatchObject({ type: 'skip' });
    expect(mapChange(change(3, 'update', { fullDocument: null, documentKey: { _id: 3 } }))).toMatchObject({
      type: 'skip',
      expected: true,
    });
    expect(mapChange({ operationType: 'invalidate', _id: { _data: pos(4) } })).toEqual({
      type: 'invalidate',
      position: pos(4),
    });
  });
});

describe('change feed', () => {
  it('publishes each change in order, advances on idle batches and on skipped changes', async () => {
    const { feed, sink, log } = startFeed([
      [
        { idle: pos(1) },
        { change: change(2, 'insert', { fullDocument: { _id: 1, ...STORED } }) },
        { change: change(3, 'insert', { fullDocument: { _id: 'not-an-order', ...STORED } }) },
        { change: change(4, 'delete', { documentKey: { _id: 1 } }) },
        { idle: pos(5) },
      ],
    ]);
    await feed.start();
    await vi.waitFor(() => expect(feed.position()).toBe(pos(5)));
    expect(sink.published.map((item) => [item.kind, item.position])).toEqual([
      ['created', pos(2)],
      ['deleted', pos(4)],
    ]);
    expect(sink.advanced).toEqual([pos(1), pos(3), pos(5)]);
    expect(feed.isOpen()).toBe(true);
    expect(log.warnings).toEqual(['feed: skipped a change']);
  });

  it('looks up the order when an update arrives without a document, and skips it when the order is gone', async () => {
    const lookups: number[] = [];
    const { feed, sink } = startFeed(
      [
        [
          { change: change(1, 'update', { fullDocument: null, documentKey: { _id: 1 } }) },
          { change: change(2, 'update', { documentKey: { _id: 2 } }) },
          { change: change(3, 'delete', { documentKey: { _id: 2 } }) },
        ],
      ],
      {
        lookup: (id) => {
          lookups.push(id);
          return Promise.resolve(id === 1 ? { _id: 1, ...STORED, version: 4 } : null);
        },
      },
    );
    await feed.start();
    await vi.waitFor(() => expect(feed.position()).toBe(pos(3)));
    expect(lookups).toEqual([1, 2]);
    expect(sink.published.map((item) => [item.kind, item.id, item.order?.version ?? null])).toEqual([
      ['updated', 1, 4],
      ['deleted', 2, null],
    ]);
  });

  it('resumes after the persisted position and persists the last position on close', async () => {
    const { feed, source, sink, store } = startFeed(
      [[{ change: change(8, 'insert', { fullDocument: { _id: 1, ...STORED } }) }, { idle: pos(9) }]],
      { stored: pos(7) },
    );
    await feed.start();
    expect(sink.advanced[0]).toBe(pos(7));
    await vi.waitFor(() => expect(feed.position()).toBe(pos(9)));
    await feed.close();
    expect(source.streams[0]?.start).toEqual({ startAfter: pos(7) });
    expect(source.streams[0]?.closed).toBe(true);
    expect(store.saves.at(-1)).toBe(pos(9));
  });

  it('throttles position writes while events flow', async () => {
    const script: Step[] = Array.from({ length: 200 }, (_, i) => ({
      change: change(i + 1, 'insert', { fullDocument: { _id: i + 1, ...STORED } }),
    }));
    const { feed, store } = startFeed([script]);
    await feed.start();
    await vi.waitFor(() => expect(feed.position()).toBe(pos(200)));
    await feed.close();
    // persistIntervalMs is 60 s: at most the first write, then the final one at close.
    expect(store.saves.length).toBeLessThanOrEqual(2);
    expect(store.saves.at(-1)).toBe(pos(200));
  });

  it('on history lost (286) tells every client to resync and reopens at the present', async () => {
    const { feed, source, sink } = startFeed(
      [[{ error: serverError(286, 'Resume of change stream was not possible') }], [{ idle: pos(50) }]],
      { stored: pos(3) },
    );
    await feed.start();
    await vi.waitFor(() => expect(feed.position()).toBe(pos(50)));
    expect(sink.resets).toEqual([ResyncReason.HistoryLost]);
    expect(source.streams.map((s) => s.start)).toEqual([{ startAfter: pos(3) }, {}]);
    expect(feed.isOpen()).toBe(true);
  });

  it('on invalidate tells clients to resync and reopens at the present', async () => {
    const { feed, source, sink } = startFeed([
      [
        { change: change(1, 'insert', { fullDocument: { _id: 1, ...STORED } }) },
        { change: change(2, 'drop') },
        { change: { _id: { _data: pos(3) }, operationType: 'invalidate' } },
      ],
      [{ idle: pos(10) }],
    ]);
    await feed.start();
    await vi.waitFor(() => expect(feed.position()).toBe(pos(10)));
    expect(sink.resets).toEqual([ResyncReason.Invalidated]);
    expect(source.streams.map((s) => s.start)).toEqual([{}, {}]);
    expect(source.streams[0]?.closed).toBe(true);
  });

  it('keeps its position through a database outage and resumes from it without a resync', async () => {
    const down = () => ({
      error: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { name: 'MongoServerSelectionError' }),
    });
    const { feed, source, sink } = startFeed([
      [{ change: change(1, 'insert', { fullDocument: { _id: 1, ...STORED } }) }, down()],
      [down()],
      [down()],
      [down()],
      [{ change: change(2, 'insert', { fullDocument: { _id: 2, ...STORED } }) }],
    ]);
    await feed.start();
    await vi.waitFor(() => expect(sink.published).toHaveLength(2));
    expect(sink.resets).toEqual([]);
    expect(source.streams.map((s) => s.start)).toEqual([
      {},
      { startAfter: pos(1) },
      { startAfter: pos(1) },
      { startAfter: pos(1) },
      { startAfter: pos(1) },
    ]);
  });

  it('reports the feed closed while the database is unreachable', async () => {
    const down = { error: Object.assign(new Error('connect ECONNREFUSED'), { name: 'MongoNetworkError' }) };
    const scripts: Step[][] = [[{ idle: pos(1) }, down]];
    const { feed, source } = startFeed(scripts);
    await feed.start();
    await vi.waitFor(() => expect(source.streams.length).toBeGreaterThanOrEqual(2));
    // The second stream has no script: it is "waiting", never answered, so the feed is not open.
    expect(feed.isOpen()).toBe(false);
  });

  it('gives up a position after repeated non-transient failures: resync feed_reset, reopen at the present', async () => {
    const broken = () => ({ error: serverError(8000, 'internal error') });
    const { feed, source, sink, log } = startFeed([[broken()], [broken()], [broken()], [{ idle: pos(99) }]], {
      stored: pos(5),
    });
    await feed.start();
    await vi.waitFor(() => expect(feed.position()).toBe(pos(99)));
    expect(sink.resets).toEqual([ResyncReason.FeedReset]);
    expect(source.streams.map((s) => s.start)).toEqual([
      { startAfter: pos(5) },
      { startAfter: pos(5) },
      { startAfter: pos(5) },
      {},
    ]);
    expect(log.errors).toHaveLength(3);
  });

  it('prepares before its first open and again after an invalidate; start() waits for the first answer', async () => {
    const source = new FakeSource([
      [{ idle: pos(1) }, { change: { _id: { _data: pos(2) }, operationType: 'invalidate' } }],
      [{ idle: pos(3) }],
    ]);
    const calls: string[] = [];
    const feed = new ChangeFeed({
      open: (start) => {
        calls.push('open');
        return source.open(start);
      },
      prepare: () => {
        calls.push('prepare');
        return Promise.resolve();
      },
      sink: new RecordingSink(),
      store: memoryStore(),
      log: recordingLog(),
    });
    feeds.push(feed);
    await feed.start();
    expect(feed.isOpen()).toBe(true);
    expect(feed.position()).not.toBeNull();
    await vi.waitFor(() => expect(feed.position()).toBe(pos(3)));
    expect(calls).toEqual(['prepare', 'open', 'prepare', 'open']);
  });

  it('close() during a backoff ends promptly and closes the stream', async () => {
    const down = { error: Object.assign(new Error('connect ECONNREFUSED'), { name: 'MongoNetworkError' }) };
    const source = new FakeSource([[down]]);
    const feed = new ChangeFeed({
      open: source.open,
      sink: new RecordingSink(),
      store: memoryStore(),
      log: recordingLog(),
      initialBackoffMs: 60_000,
      maxBackoffMs: 60_000,
      // The top of the jitter window, so the retry is surely still waiting when close() comes.
      random: () => 1 - Number.EPSILON,
    });
    await feed.start();
    await vi.waitFor(() => expect(source.streams[0]?.closed).toBe(true));
    await feed.close();
    expect(source.streams).toHaveLength(1);
  });
});

describe('replay opener', () => {
  it('opens after the client position and maps events, skipped changes and idle batches to steps', async () => {
    const source = new FakeSource([
      [
        { change: change(2, 'insert', { fullDocument: { _id: 1, ...STORED } }) },
        { change: change(3, 'insert', { fullDocument: { _id: -1, ...STORED } }) },
        { idle: pos(4) },
        { error: serverError(286) },
      ],
    ]);
    const replay = createReplayOpener(source.open)(pos(1));
    expect(source.streams[0]?.start).toEqual({ resumeAfter: pos(1) });
    expect(await replay.next()).toMatchObject({ kind: 'event', item: { kind: 'created', position: pos(2) } });
    expect(await replay.next()).toEqual({ kind: 'idle', position: pos(3) });
    expect(await replay.next()).toEqual({ kind: 'idle', position: pos(4) });
    await expect(replay.next()).rejects.toMatchObject({ code: 286 });
    await replay.close();
  });
});
