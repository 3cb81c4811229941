import { afterEach, describe, expect, it, vi } from 'vitest';
import { CloseCode, MAX_CLIENT_FRAME_BYTES, ResyncReason } from '@orders/contracts';
import {
  FakeSocket,
  FedHub,
  type TestHubOptions,
  ScriptedReplay,
  created,
  deleted,
  order,
  pos,
  serverError,
  settle,
  silentLog,
  updated,
} from './support/realtime-fakes.js';

const hubs: FedHub[] = [];

function makeHub(options: Partial<TestHubOptions> = {}): FedHub {
  const hub = new FedHub({
    maxBufferedBytes: 1024 * 1024,
    batchWindowMs: 0,
    ringSize: 100,
    log: silentLog,
    ...options,
  });
  hubs.push(hub);
  return hub;
}

/** A hub whose history replays the test scripts; `replays` lists them in the order they were opened. */
function makeReplayingHub(options: Partial<TestHubOptions> = {}): { hub: FedHub; replays: ScriptedReplay[] } {
  const replays: ScriptedReplay[] = [];
  const hub = makeHub({
    ...options,
    openReplay: (since) => {
      const replay = new ScriptedReplay(since);
      replays.push(replay);
      return replay;
    },
  });
  return { hub, replays };
}

function connect(hub: FedHub, subscribe: object | null = { type: 'subscribe' }) {
  const socket = new FakeSocket();
  const connection = hub.connect(socket);
  if (subscribe) connection.message(JSON.stringify(subscribe));
  return { socket, connection };
}

afterEach(() => {
  for (const hub of hubs.splice(0)) hub.close();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('hub fan-out', () => {
  it('answers a subscription with ready and delivers every event to every client in commit order', async () => {
    const hub = makeHub();
    hub.advance(pos(0));
    const clients = Array.from({ length: 50 }, () => connect(hub));
    for (const { socket } of clients) {
      expect(socket.control()).toEqual([{ type: 'ready', protocol: 1, position: pos(0), resumed: false }]);
    }
    hub.publish(created(1));
    await settle();
    hub.publish(updated(2, order(1, { status: 'shipped', version: 2 })));
    hub.publish(deleted(3, 1));
    await settle();
    for (const { socket } of clients) {
      expect(socket.events()).toEqual([
        { type: 'order.created', order: order(1), position: pos(1) },
        { type: 'order.updated', order: order(1, { status: 'shipped', version: 2 }), position: pos(2) },
        { type: 'order.deleted', id: 1, position: pos(3) },
      ]);
    }
    expect(hub.stats()).toMatchObject({ clients: 50, eventsPublished: 3, deliveries: 150 });
  });

  it('serializes each event once and writes the same bytes to every socket', async () => {
    const hub = makeHub();
    const clients = Array.from({ length: 100 }, () => connect(hub));
    const stringify = vi.spyOn(JSON, 'stringify');
    hub.publish(created(1));
    await settle();
    expect(stringify).toHaveBeenCalledTimes(1);
    const first = clients[0]?.socket.raw.at(-1);
    expect(Buffer.isBuffer(first)).toBe(true);
    for (const { socket } of clients) expect(socket.raw.at(-1)).toBe(first);
  });

  it('does not deliver to a client that has not subscribed yet', async () => {
    const hub = makeHub();
    const { socket } = connect(hub, null);
    hub.publish(created(1));
    await settle();
    expect(socket.frames).toEqual([]);
  });

  it('keeps delivering to the others when a client disconnects mid-stream', async () => {
    const hub = makeHub();
    const a = connect(hub);
    const b = connect(hub);
    hub.publish(created(1));
    await settle();
    a.connection.closed();
    a.socket.readyState = 3;
    hub.publish(created(2));
    await settle();
    expect(a.socket.events().map((e) => e.position)).toEqual([pos(1)]);
    expect(b.socket.events().map((e) => e.position)).toEqual([pos(1), pos(2)]);
    expect(hub.stats().clients).toBe(1);
  });
});

describe('hub filters', () => {
  it('sends only matching creations, order.left when an order leaves the filter, and an update when it enters', async () => {
    const hub = makeHub();
    const pendingOnly = connect(hub, { type: 'subscribe', filter: { status: ['pending'] } }).socket;
    const acme = connect(hub, { type: 'subscribe', filter: { customer: 'aCmE' } }).socket;
    const everything = connect(hub).socket;

    hub.publish(created(1, order(1, { customer_name: 'ACME Corp' })));
    hub.publish(created(2, order(2, { status: 'shipped', customer_name: 'Globex' })));
    hub.publish(updated(3, order(1, { customer_name: 'ACME Corp', status: 'shipped', version: 2 })));
    hub.publish(updated(4, order(2, { status: 'pending', customer_name: 'Globex', version: 2 })));
    await settle();

    expect(pendingOnly.events()).toEqual([
      { type: 'order.created', order: order(1, { customer_name: 'ACME Corp' }), position: pos(1) },
      { type: 'order.left', id: 1, position: pos(3) },
      {
        type: 'order.updated',
        order: order(2, { status: 'pending', customer_name: 'Globex', version: 2 }),
        position: pos(4),
      },
    ]);
    expect(acme.events().map((e) => [e.type, e.position])).toEqual([
      ['order.created', pos(1)],
      ['order.updated', pos(3)],
      ['order.left', pos(4)],
    ]);
    expect(everything.events().map((e) => e.type)).toEqual([
      'order.created',
      'order.created',
      'order.updated',
      'order.updated',
    ]);
  });

  it('uses the pre-image, when there is one, to skip removals the client cannot need', async () => {
    const hub = makeHub();
    const shipped = connect(hub, { type: 'subscribe', filter: { status: ['shipped'] } }).socket;
    const before = { status: 'pending' as const, customer_name: 'Customer 1' };
    hub.publish(updated(1, order(1, { product_name: 'Gadget', version: 2 }), before));
    hub.publish(deleted(2, 1, before));
    hub.publish(deleted(3, 7, null));
    await settle();
    // Neither the update nor the delete of an order that never matched; a delete without pre-image is sent.
    expect(shipped.events()).toEqual([{ type: 'order.deleted', id: 7, position: pos(3) }]);
  });

  it('lets a client re-subscribe to change its filter', async () => {
    const hub = makeHub();
    const { socket, connection } = connect(hub, { type: 'subscribe', filter: { status: ['pending'] } });
    hub.publish(created(1, order(1, { status: 'shipped' })));
    await settle();
    connection.message(JSON.stringify({ type: 'subscribe', filter: { status: ['shipped'] } }));
    hub.publish(created(2, order(2, { status: 'shipped' })));
    hub.publish(created(3, order(3, { status: 'pending' })));
    await settle();
    expect(socket.control().map((m) => m.type)).toEqual(['ready', 'ready']);
    expect(socket.events().map((e) => e.position)).toEqual([pos(2)]);
  });
});

describe('hub batching', () => {
  it('sends at once when quiet and coalesces a burst into one frame per window, in commit order', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] });
    const hub = makeHub({ batchWindowMs: 5 });
    const { socket } = connect(hub);
    vi.advanceTimersByTime(1000);

    hub.publish(created(1));
    vi.advanceTimersByTime(0);
    expect(socket.frames.at(-1)).toMatchObject({ type: 'order.created', position: pos(1) });

    for (let n = 2; n <= 21; n++) hub.publish(created(n));
    vi.advanceTimersByTime(0);
    const framesBefore = socket.frames.length;
    vi.advanceTimersByTime(5);
    expect(socket.frames.length).toBe(framesBefore + 1);
    const batch = socket.frames.at(-1);
    expect(batch?.type).toBe('batch');
    expect(socket.events().map((e) => e.position)).toEqual(Array.from({ length: 21 }, (_, i) => pos(i + 1)));

    // After a quiet spell the next single event again goes out without waiting for a window.
    vi.advanceTimersByTime(1000);
    hub.publish(created(22));
    vi.advanceTimersByTime(0);
    expect(socket.frames.at(-1)).toMatchObject({ type: 'order.created', position: pos(22) });
  });
});

describe('hub fan-out in slices', () => {
  it('yields between slices of writes and keeps every socket in commit order across flushes', async () => {
    const hub = makeHub({ writesPerTurn: 7 });
    const sockets = Array.from({ length: 30 }, () => connect(hub).socket);
    hub.publish(created(1));
    // The flush has started but not reached every socket in this turn.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sockets.filter((s) => s.events().length === 1).length).toBeLessThan(30);
    hub.publish(created(2));
    hub.publish(created(3));
    await vi.waitFor(() => {
      for (const socket of sockets) expect(socket.events().map((e) => e.position)).toEqual([pos(1), pos(2), pos(3)]);
    });
  });

  it('gives a client that subscribes mid-fan-out everything after its ready position', async () => {
    const hub = makeHub({ writesPerTurn: 5 });
    hub.advance(pos(0));
    for (let i = 0; i < 20; i++) connect(hub);
    hub.publish(created(1));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const late = connect(hub).socket;
    const since = connect(hub, { type: 'subscribe', since: pos(0) }).socket;
    hub.publish(created(2));
    await vi.waitFor(() => expect(late.events().map((e) => e.position)).toContain(pos(2)));
    const ready = late.control()[0];
    expect(ready?.type).toBe('ready');
    // Live delivery starts right after the position in ready: nothing missing, nothing twice.
    expect(ready && 'position' in ready ? ready.position : null).toBe(pos(1));
    expect(late.events().map((e) => e.position)).toEqual([pos(2)]);
    await vi.waitFor(() => expect(since.events().map((e) => e.position)).toEqual([pos(1), pos(2)]));
  });

  it('skips sockets that closed mid-fan-out and completes the writes before a shutdown', async () => {
    const hub = makeHub({ writesPerTurn: 4 });
    const clients = Array.from({ length: 12 }, () => connect(hub));
    hub.publish(created(1));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const leaving = clients[11];
    leaving?.connection.closed();
    if (leaving) leaving.socket.readyState = 3;
    hub.close();
    for (const { socket } of clients.slice(0, 11)) {
      expect(socket.events().map((e) => e.position)).toEqual([pos(1)]);
      expect(socket.closedWith?.code).toBe(CloseCode.GoingAway);
    }
    expect(leaving?.socket.events()).toEqual([]);
  });
});

describe('hub backpressure', () => {
  it('closes a socket whose buffer passes the cap with 4000 while the others keep receiving', async () => {
    const hub = makeHub({ maxBufferedBytes: 10_000 });
    const slow = connect(hub).socket;
    const fast = connect(hub).socket;
    hub.publish(created(1));
    await settle();
    slow.bufferedAmount = 10_001;
    hub.publish(created(2));
    await settle();
    hub.publish(created(3));
    await settle();
    expect(slow.closedWith?.code).toBe(CloseCode.SlowConsumer);
    expect(slow.events().map((e) => e.position)).toEqual([pos(1)]);
    expect(fast.events().map((e) => e.position)).toEqual([pos(1), pos(2), pos(3)]);
    expect(hub.stats()).toMatchObject({ slowConsumerCloses: 1, clients: 1 });
  });
});

describe('hub input validation', () => {
  it('answers an invalid frame with an error and keeps the connection, then closes 1002 after too many', async () => {
    const hub = makeHub({ maxInvalidFrames: 3 });
    const bystander = connect(hub).socket;
    const { socket, connection } = connect(hub, null);
    connection.message('not json');
    connection.message(JSON.stringify({ type: 'unsubscribe' }));
    connection.message(Buffer.from([1, 2, 3]), true);
    expect(socket.closedWith).toBeNull();
    expect(socket.control()).toEqual([
      { type: 'error', code: 'BAD_MESSAGE', message: 'frame is not valid JSON' },
      expect.objectContaining({ type: 'error', code: 'BAD_MESSAGE' }),
      expect.objectContaining({ type: 'error', code: 'BAD_MESSAGE' }),
    ]);
    // Still usable after invalid frames.
    connection.message(JSON.stringify({ type: 'subscribe', filter: { status: ['bogus'] } }));
    expect(socket.closedWith?.code).toBe(CloseCode.ProtocolError);
    hub.publish(created(1));
    await settle();
    expect(bystander.events()).toHaveLength(1);
    expect(socket.events()).toHaveLength(0);
  });

  it('accepts a valid subscription after an invalid frame', async () => {
    const hub = makeHub();
    const { socket, connection } = connect(hub, null);
    connection.message('{"type":"subscribe","since":""}');
    connection.message('{"type":"subscribe"}');
    hub.publish(created(1));
    await settle();
    expect(socket.control().map((m) => m.type)).toEqual(['error', 'ready']);
    expect(socket.events()).toHaveLength(1);
  });

  it('closes with 1009 on a frame over the limit', () => {
    const hub = makeHub();
    const { socket, connection } = connect(hub, null);
    connection.message('x'.repeat(MAX_CLIENT_FRAME_BYTES + 1));
    expect(socket.closedWith?.code).toBe(CloseCode.MessageTooBig);
  });
});

describe('hub replay', () => {
  it('replays exactly the events after `since` from the ring, then continues live', async () => {
    const hub = makeHub();
    hub.advance(pos(0));
    for (let n = 1; n <= 10; n++) hub.publish(created(n));
    await settle();
    const { socket } = connect(hub, { type: 'subscribe', since: pos(4) });
    hub.publish(created(11));
    await settle();
    expect(socket.control()).toEqual([{ type: 'ready', protocol: 1, position: pos(4), resumed: true }]);
    expect(socket.events().map((e) => e.position)).toEqual([5, 6, 7, 8, 9, 10, 11].map(pos));
    expect(hub.stats().replaysFromRing).toBe(1);
  });

  it('carries the pre-image status and customer on updates, deletes and order.left, so clients keep counts', async () => {
    const hub = makeHub();
    const pendingOnly = connect(hub, { type: 'subscribe', filter: { status: ['pending'] } }).socket;
    const before = { status: 'pending', customer_name: 'Ada' } as const;
    hub.publish(updated(1, order(1, { customer_name: 'Ada', version: 2 }), before));
    hub.publish(updated(2, order(1, { customer_name: 'Ada', status: 'shipped', version: 3 }), before));
    hub.publish(deleted(3, 2, before));
    hub.publish(deleted(4, 3));
    await settle();
    expect(pendingOnly.events()).toEqual([
      {
        type: 'order.updated',
        order: order(1, { customer_name: 'Ada', version: 2 }),
        position: pos(1),
        previous: before,
      },
      { type: 'order.left', id: 1, position: pos(2), previous: before },
      { type: 'order.deleted', id: 2, position: pos(3), previous: before },
      // Without a pre-image the event says nothing about before.
      { type: 'order.deleted', id: 3, position: pos(4) },
    ]);
  });

  it('replays from the ring with the client filter applied', async () => {
    const hub = makeHub();
    hub.advance(pos(0));
    hub.publish(created(1, order(1, { status: 'shipped' })));
    hub.publish(created(2));
    hub.publish(updated(3, order(2, { status: 'shipped', version: 2 })));
    await settle();
    const { socket } = connect(hub, { type: 'subscribe', since: pos(0), filter: { status: ['pending'] } });
    expect(socket.events()).toEqual([
      { type: 'order.created', order: order(2), position: pos(2) },
      { type: 'order.left', id: 2, position: pos(3) },
    ]);
  });

  it('replays from a position the client got from GET /orders before those events were flushed', () => {
    const hub = makeHub();
    hub.advance(pos(0));
    hub.publish(created(1));
    hub.publish(created(2));
    // Not flushed yet: position() already says pos(2), and a snapshot taken now contains both events.
    expect(hub.position()).toBe(pos(2));
    const { socket } = connect(hub, { type: 'subscribe', since: pos(1) });
    expect(socket.events().map((e) => e.position)).toEqual([pos(2)]);
  });

  it('replays older positions from history, hands over to the ring and goes live without gaps or duplicates', async () => {
    const { hub, replays } = makeReplayingHub({ ringSize: 3 });
    hub.advance(pos(0));
    for (let n = 1; n <= 6; n++) hub.publish(created(n));
    await settle();
    // The ring holds 4..6 now; a client at 1 needs 2..3 from history.
    const { socket } = connect(hub, { type: 'subscribe', since: pos(1) });
    await settle();
    const replay = replays[0];
    expect(replay?.since).toBe(pos(1));
    replay?.push({ kind: 'event', item: created(2) });
    replay?.push({ kind: 'event', item: created(3) });
    await settle();
    // A live event arrives while the replay still reads history: it is not sent ahead of the replay.
    hub.publish(created(7));
    await settle();
    replay?.push({ kind: 'event', item: created(4) });
    await settle();
    hub.publish(created(8));
    await settle();
    expect(socket.control()).toEqual([{ type: 'ready', protocol: 1, position: pos(1), resumed: true }]);
    expect(socket.events().map((e) => e.position)).toEqual([2, 3, 4, 5, 6, 7, 8].map(pos));
    expect(replay?.closed).toBe(true);
  });

  it.each([
    [286, ResyncReason.HistoryLost],
    [260, ResyncReason.UnknownPosition],
    [280, ResyncReason.UnknownPosition],
  ])('answers resync when history cannot be replayed (code %i), then delivers live', async (code, reason) => {
    const hub = makeHub({
      openReplay: (since) => {
        const replay = new ScriptedReplay(since);
        replay.push(serverError(code));
        return replay;
      },
    });
    hub.advance(pos(10));
    const { socket } = connect(hub, { type: 'subscribe', since: pos(1) });
    await settle();
    hub.publish(created(11));
    await settle();
    expect(socket.control()).toEqual([
      { type: 'resync', reason },
      { type: 'ready', protocol: 1, position: pos(10), resumed: false },
    ]);
    expect(socket.events().map((e) => e.position)).toEqual([pos(11)]);
    expect(hub.stats().resyncsSent).toBe(1);
  });

  it('bounds the temporary streams open at once; the next replay starts when one finishes', async () => {
    const { hub, replays } = makeReplayingHub({ maxConcurrentReplays: 1 });
    hub.advance(pos(10));
    const first = connect(hub, { type: 'subscribe', since: pos(1) }).socket;
    const second = connect(hub, { type: 'subscribe', since: pos(2) }).socket;
    await settle();
    expect(replays.map((r) => r.since)).toEqual([pos(1)]);
    // The first replay reaches the live position: it hands over and frees its slot.
    replays[0]?.push({ kind: 'idle', position: pos(10) });
    await settle();
    expect(first.control().map((m) => m.type)).toEqual(['ready']);
    expect(replays.map((r) => r.since)).toEqual([pos(1), pos(2)]);
    replays[1]?.push({ kind: 'idle', position: pos(10) });
    await settle();
    hub.publish(created(11));
    await settle();
    for (const socket of [first, second]) expect(socket.events().map((e) => e.position)).toEqual([pos(11)]);
  });

  it('keeps one waiting replay per client however often it re-subscribes', async () => {
    const { hub, replays } = makeReplayingHub({ maxConcurrentReplays: 1 });
    hub.advance(pos(10));
    connect(hub, { type: 'subscribe', since: pos(1) });
    const { socket, connection } = connect(hub, null);
    for (let n = 2; n <= 9; n++) connection.message(JSON.stringify({ type: 'subscribe', since: pos(n) }));
    await settle();
    replays[0]?.push({ kind: 'idle', position: pos(10) });
    await settle();
    // Only the latest subscription of the second client was still waiting: it is the one that ran.
    expect(replays.map((r) => r.since)).toEqual([pos(1), pos(9)]);
    replays[1]?.push({ kind: 'idle', position: pos(10) });
    await settle();
    expect(socket.control()).toEqual([{ type: 'ready', protocol: 1, position: pos(9), resumed: true }]);
  });

  it('absorbs a repeated subscribe (same filter, same since) into the replay in flight: one stream, one ready', async () => {
    const replays: ScriptedReplay[] = [];
    const hub = makeHub({
      openReplay: (since) => {
        const replay = new ScriptedReplay(since);
        replays.push(replay);
        return replay;
      },
    });
    hub.advance(pos(10));
    const { socket, connection } = connect(hub, { type: 'subscribe', since: pos(1) });
    for (let i = 0; i < 5; i++) connection.message(JSON.stringify({ type: 'subscribe', since: pos(1) }));
    await settle();
    expect(replays.map((r) => r.since)).toEqual([pos(1)]);
    replays[0]?.push({ kind: 'idle', position: pos(10) });
    await settle();
    expect(socket.control()).toEqual([{ type: 'ready', protocol: 1, position: pos(1), resumed: true }]);
  });

  it('closes the temporary stream when the client leaves mid-replay', async () => {
    const { hub, replays } = makeReplayingHub();
    hub.advance(pos(10));
    const { connection } = connect(hub, { type: 'subscribe', since: pos(1) });
    await settle();
    connection.closed();
    await settle();
    expect(replays[0]?.closed).toBe(true);
    expect(hub.stats().clients).toBe(0);
  });

  it('ends a replay that never catches up with a resync after the timeout', async () => {
    const { hub, replays } = makeReplayingHub({ replayTimeoutMs: 20 });
    hub.advance(pos(10));
    const { socket } = connect(hub, { type: 'subscribe', since: pos(1) });
    await vi.waitFor(() => expect(socket.control().map((m) => m.type)).toEqual(['resync', 'ready']), { timeout: 5000 });
    expect(replays[0]?.closed).toBe(true);
  });
});

describe('hub resets and shutdown', () => {
  it('tells every subscribed client to resync when the feed loses continuity', async () => {
    const hub = makeHub();
    const a = connect(hub).socket;
    const b = connect(hub, { type: 'subscribe', filter: { status: ['shipped'] } }).socket;
    const notSubscribed = connect(hub, null).socket;
    hub.publish(created(1));
    hub.reset(ResyncReason.HistoryLost);
    hub.publish(created(2));
    await settle();
    // The pending event goes out before the resync; live delivery continues after it.
    expect(a.frames.map((f) => f.type)).toEqual(['ready', 'order.created', 'resync', 'order.created']);
    expect(b.control().at(-1)).toEqual({ type: 'resync', reason: 'history_lost' });
    expect(notSubscribed.frames).toEqual([]);
  });

  it('after a reset, a position from before it cannot be replayed from the ring', async () => {
    const hub = makeHub();
    hub.advance(pos(0));
    hub.publish(created(1));
    await settle();
    hub.reset(ResyncReason.Invalidated);
    hub.advance(pos(5));
    const { socket } = connect(hub, { type: 'subscribe', since: pos(0) });
    // No openReplay in this hub: the client is told to resync rather than silently missing pos(1).
    expect(socket.control().map((m) => m.type)).toEqual(['resync', 'ready']);
  });

  it('closes every socket with 1001 on shutdown, after flushing pending events', () => {
    const hub = makeHub();
    const sockets = Array.from({ length: 3 }, () => connect(hub).socket);
    hub.publish(created(1));
    hub.close();
    for (const socket of sockets) {
      expect(socket.events().map((e) => e.position)).toEqual([pos(1)]);
      expect(socket.closedWith?.code).toBe(CloseCode.GoingAway);
    }
    const late = connect(hub, null).socket;
    expect(late.closedWith?.code).toBe(CloseCode.GoingAway);
  });
});

describe('hub replay budget', () => {
  const ALICE = { principal: 'user:alice', address: 'address:10.0.0.1' };
  const CAROL_AT_ALICES = { principal: 'user:carol', address: 'address:10.0.0.1' };
  const DAVE_AT_ALICES = { principal: 'user:dave', address: 'address:10.0.0.1' };
  const BOB = { principal: 'user:bob', address: 'address:10.0.0.2' };
  let now = 0;

  /** The bytes of the creations of orders `from`..`to`, as a replay sends them. */
  function bytesOf(from: number, to: number): number {
    let bytes = 0;
    for (let n = from; n <= to; n++) {
      bytes += Buffer.byteLength(JSON.stringify({ type: 'order.created', order: order(n), position: pos(n) }));
    }
    return bytes;
  }

  /** A hub with orders 1..10 published; each principal may be replayed `principalBytes` per 10 s. */
  function budgetHub(principalBytes: number, addressBytes: number, options: Partial<TestHubOptions> = {}) {
    now = 0;
    const made = makeReplayingHub({
      replayBudget: { principalBytes, addressBytes, windowMs: 10_000, now: () => now },
      ...options,
    });
    made.hub.advance(pos(0));
    for (let n = 1; n <= 10; n++) made.hub.publish(created(n));
    return made;
  }

  function resume(hub: FedHub, since: string, identity: { principal: string; address: string }): FakeSocket {
    const socket = new FakeSocket();
    hub.connect(socket, null, identity).message(JSON.stringify({ type: 'subscribe', since }));
    return socket;
  }

  const limited = [
    { type: 'resync', reason: ResyncReason.ReplayLimited },
    { type: 'ready', protocol: 1, position: pos(10), resumed: false },
  ];

  it('replays a resume within the budget without a gap, then answers resync (replay_limited) and goes live', async () => {
    const { hub } = budgetHub(bytesOf(8, 10), 0);
    await settle();
    const first = resume(hub, pos(7), ALICE);
    expect(first.control()).toEqual([{ type: 'ready', protocol: 1, position: pos(7), resumed: true }]);
    expect(first.events().map((e) => e.position)).toEqual([8, 9, 10].map(pos));

    // The budget is spent: the next old position is not replayed, not even one event of it.
    const again = resume(hub, pos(9), ALICE);
    expect(again.control()).toEqual(limited);
    expect(again.events()).toEqual([]);
    hub.publish(created(11));
    await settle();
    expect(again.events().map((e) => e.position)).toEqual([pos(11)]);
    // A resume with nothing to replay costs nothing.
    expect(resume(hub, pos(11), ALICE).control()).toEqual([
      { type: 'ready', protocol: 1, position: pos(11), resumed: true },
    ]);
    expect(hub.stats().resyncsByReason[ResyncReason.ReplayLimited]).toBe(1);
  });

  it('never sends part of a ring replay larger than the whole budget', async () => {
    const { hub } = budgetHub(bytesOf(8, 10), 0);
    await settle();
    const socket = resume(hub, pos(0), ALICE);
    expect(socket.control()).toEqual(limited);
    expect(socket.events()).toEqual([]);
    // The refused replay took nothing: a resume that fits still does.
    expect(
      resume(hub, pos(7), ALICE)
        .events()
        .map((e) => e.position),
    ).toEqual([8, 9, 10].map(pos));
  });

  it('keeps a budget per principal and per address, not one for everyone', async () => {
    const { hub } = budgetHub(bytesOf(8, 10), 2 * bytesOf(8, 10));
    await settle();
    expect(resume(hub, pos(7), ALICE).events()).toHaveLength(3);
    expect(resume(hub, pos(7), ALICE).control()).toEqual(limited);
    // Another principal elsewhere, and another principal at Alice's address while the address has budget left.
    expect(resume(hub, pos(7), BOB).events()).toHaveLength(3);
    expect(resume(hub, pos(7), CAROL_AT_ALICES).events()).toHaveLength(3);
    // Alice's address has now been replayed its budget: Dave, there too, resyncs though his own budget is whole.
    expect(resume(hub, pos(7), DAVE_AT_ALICES).control()).toEqual(limited);
    expect(resume(hub, pos(7), BOB).control()).toEqual(limited);
  });

  it('refills the budget over the window', async () => {
    const { hub } = budgetHub(bytesOf(8, 10), 0);
    await settle();
    expect(resume(hub, pos(7), ALICE).events()).toHaveLength(3);
    now += 5_000;
    // Half the window: half the budget back, enough for one event but not three.
    expect(resume(hub, pos(7), ALICE).control()).toEqual(limited);
    expect(
      resume(hub, pos(9), ALICE)
        .events()
        .map((e) => e.position),
    ).toEqual([pos(10)]);
    now += 10_000;
    expect(
      resume(hub, pos(7), ALICE)
        .events()
        .map((e) => e.position),
    ).toEqual([8, 9, 10].map(pos));
  });

  it('pays a history replay event by event: cut with replay_limited when spent, and not opened at all after', async () => {
    const { hub, replays } = budgetHub(bytesOf(2, 3), 0, { ringSize: 3 });
    await settle();
    // The ring holds 8..10; a client at 1 needs 2..7 from history, more than its budget.
    const socket = resume(hub, pos(1), ALICE);
    await settle();
    const replay = replays[0];
    replay?.push({ kind: 'event', item: created(2) });
    replay?.push({ kind: 'event', item: created(3) });
    replay?.push({ kind: 'event', item: created(4) });
    await settle();
    expect(socket.control()).toEqual([{ type: 'ready', protocol: 1, position: pos(1), resumed: true }, ...limited]);
    expect(socket.events()).toEqual([]);
    expect(replay?.closed).toBe(true);
    hub.publish(created(11));
    await settle();
    expect(socket.events().map((e) => e.position)).toEqual([pos(11)]);

    const again = resume(hub, pos(1), ALICE);
    await settle();
    expect(replays).toHaveLength(1);
    expect(again.control()).toEqual([
      { type: 'resync', reason: ResyncReason.ReplayLimited },
      { type: 'ready', protocol: 1, position: pos(11), resumed: false },
    ]);
  });
});
