import type { ErrorMessage, OrderEvent, Position, ReadyMessage, ResyncMessage } from '@orders/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OrderSocket, type ConnectionState, type OrderSocketOptions } from './socket.js';
import {
  batch,
  created,
  createFakeSocketServer,
  deleted,
  left,
  makeOrder,
  type FakeSocket,
  type FakeSocketServer,
} from './testing/index.js';

/** Everything the client reported, in order. */
function recorder() {
  const log: string[] = [];
  const events: OrderEvent[] = [];
  const readies: { message: ReadyMessage; since: Position | null }[] = [];
  const resyncs: ResyncMessage[] = [];
  const serverErrors: ErrorMessage[] = [];
  const invalid: string[] = [];
  const states: ConnectionState[] = [];
  const listener: OrderSocketOptions['listener'] = {
    events: (received) => events.push(...received),
    resync: (message) => resyncs.push(message),
    ready: (message, since) => readies.push({ message, since }),
    stateChange: (state) => states.push(state),
    opened: () => log.push('opened'),
    closed: (code) => log.push(`closed ${code}`),
    connectFailed: (error) => log.push(`connect failed: ${(error as Error).message}`),
    serverError: (message) => serverErrors.push(message),
    invalidFrame: (reason) => invalid.push(reason),
  };
  return { listener, log, events, readies, resyncs, serverErrors, invalid, states };
}

/** Retries at once, so tests assert what happens, not when. */
const AT_ONCE = { baseMs: 20, capMs: 20, random: () => 0 };

let client: OrderSocket | undefined;
afterEach(() => {
  client?.stop();
  client = undefined;
  vi.useRealTimers();
});

function follow(options: Partial<OrderSocketOptions> = {}) {
  const server = createFakeSocketServer();
  const report = recorder();
  client = new OrderSocket({
    url: 'ws://127.0.0.1/ws',
    connect: server.connect,
    backoff: AT_ONCE,
    listener: report.listener,
    ...options,
  });
  return { server, report, client };
}

/** Waits for socket number `index`, opens it and answers `ready`. */
async function accept(server: FakeSocketServer, index: number, position: string | null = 'pos-0'): Promise<FakeSocket> {
  await vi.waitFor(() => expect(server.sockets.length).toBeGreaterThan(index));
  const socket = server.sockets[index]!;
  socket.accept();
  socket.push({ type: 'ready', protocol: 1, position, resumed: position !== null });
  return socket;
}

describe('OrderSocket: subscribing', () => {
  it('subscribes since the given position with its filter, and reports ready with that position', async () => {
    const { server, report, client } = follow({ filter: { status: ['shipped'], customer: 'ali' } });
    client.subscribe('pos-3');
    expect(client.state).toBe('connecting');
    const socket = await accept(server, 0, 'pos-3');
    expect(socket.url).toBe('ws://127.0.0.1/ws');
    expect(socket.subscriptions()).toEqual([
      { type: 'subscribe', protocol: 1, filter: { status: ['shipped'], customer: 'ali' }, since: 'pos-3' },
    ]);
    expect(report.readies).toEqual([
      { message: { type: 'ready', protocol: 1, position: 'pos-3', resumed: true }, since: 'pos-3' },
    ]);
    expect(client.state).toBe('live');
    expect(report.states).toEqual(['live']);
  });

  it('subscribes without since or filter when it has neither', async () => {
    const { server, report, client } = follow({ filter: {} });
    client.subscribe(null);
    const socket = await accept(server, 0, null);
    expect(socket.subscriptions()).toEqual([{ type: 'subscribe', protocol: 1 }]);
    expect(report.readies[0]?.since).toBeNull();
  });

  it('hands over the events of each frame in order and resumes from the last one', async () => {
    const { server, report, client } = follow();
    client.subscribe('pos-0');
    const socket = await accept(server, 0);
    socket.push(created(makeOrder(1, 1), 'pos-1'));
    socket.push(batch(created(makeOrder(2, 2), 'pos-2'), deleted(1, 'pos-3')));
    socket.push(batch());
    socket.push(left(2, 'pos-4'));
    expect(report.events.map((event) => event.position)).toEqual(['pos-1', 'pos-2', 'pos-3', 'pos-4']);
    expect(client.position).toBe('pos-4');
  });
});

describe('OrderSocket: frames it cannot use', () => {
  it('drops invalid and binary frames, reports why, and keeps going', async () => {
    const { server, report, client } = follow();
    client.subscribe('pos-0');
    const socket = await accept(server, 0);
    socket.pushRaw('not json');
    socket.pushRaw(JSON.stringify({ type: 'order.created', order: { id: 2 }, position: 'pos-1' }));
    socket.pushRaw(JSON.stringify({ type: 'order.deleted', id: -1, position: 'pos-1' }));
    socket.pushRaw(JSON.stringify({ type: 'order.created', order: makeOrder(3, 3), position: 'pos-1', extra: true }));
    socket.pushRaw(new Uint8Array([1, 2, 3]));
    socket.push(created(makeOrder(5, 5), 'pos-2'));
    expect(report.invalid).toHaveLength(5);
    expect(report.invalid[0]).toBe('frame is not valid JSON');
    expect(report.invalid[4]).toBe('binary frame');
    expect(report.events.map((event) => event.position)).toEqual(['pos-2']);
    expect(client.position).toBe('pos-2');
    expect(client.state).toBe('live');
  });

  it('passes a server error on without closing anything itself', async () => {
    const { server, report, client } = follow();
    client.subscribe('pos-0');
    const socket = await accept(server, 0);
    socket.push({ type: 'error', code: 'BAD_MESSAGE', message: 'no' });
    expect(report.serverErrors).toEqual([{ type: 'error', code: 'BAD_MESSAGE', message: 'no' }]);
    expect(socket.closedWith).toBeUndefined();
    expect(client.state).toBe('live');
  });
});

describe('OrderSocket: recovery', () => {
  it('reconnects after a lost connection and resumes since the last position it saw', async () => {
    const { server, report, client } = follow();
    client.subscribe('pos-0');
    const first = await accept(server, 0);
    first.push(created(makeOrder(1, 1), 'pos-7'));
    first.drop(1006);
    expect(client.state).toBe('reconnecting');
    const second = await accept(server, 1, 'pos-7');
    expect(second.subscriptions()).toEqual([{ type: 'subscribe', protocol: 1, since: 'pos-7' }]);
    expect(client.state).toBe('live');
    expect(report.log).toEqual(['opened', 'closed 1006', 'opened']);
    expect(report.states).toEqual(['live', 'reconnecting', 'live']);
  });

  it('retries at once after a server going away (1001), and waits its backoff after any other close', () => {
    vi.useFakeTimers();
    const { server, client } = follow({ backoff: { baseMs: 60_000, capMs: 60_000, random: () => 0.5 } });
    client.subscribe('pos-0');
    server.latest().accept();
    server.latest().drop(1001);
    vi.advanceTimersByTime(0);
    expect(server.sockets).toHaveLength(2);

    server.latest().accept();
    server.latest().drop(1006);
    vi.advanceTimersByTime(0);
    expect(server.sockets).toHaveLength(2);
    vi.advanceTimersByTime(60_000);
    expect(server.sockets).toHaveLength(3);
  });

  it('says offline after three failed attempts in a row, keeps trying, and is live again on ready', async () => {
    const { server, client } = follow();
    client.subscribe('pos-0');
    (await accept(server, 0)).drop(1006);
    for (let attempt = 1; attempt <= 3; attempt++) {
      await vi.waitFor(() => expect(server.sockets).toHaveLength(attempt + 1));
      expect(client.state).toBe('reconnecting');
      server.latest().drop(1006);
    }
    expect(client.state).toBe('offline');
    await accept(server, 4);
    expect(client.state).toBe('live');
  });

  it('says offline at the first lost connection when the network is down, and reconnects at once when it is back', () => {
    vi.useFakeTimers();
    let online = true;
    const { server, client } = follow({
      isOnline: () => online,
      backoff: { baseMs: 60_000, capMs: 60_000, random: () => 0.5 },
    });
    client.subscribe('pos-0');
    server.latest().accept();
    online = false;
    server.latest().drop(1006);
    expect(client.state).toBe('offline');
    online = true;
    client.reconnectNow();
    expect(server.sockets).toHaveLength(2);
    // Already connecting: a second "online" does not open another socket.
    client.reconnectNow();
    expect(server.sockets).toHaveLength(2);
  });

  it('says offline when the network goes away before the socket is live, and when another read failed', async () => {
    const { server, client } = follow();
    client.subscribe('pos-0');
    await vi.waitFor(() => expect(server.sockets).toHaveLength(1));
    server.latest().accept();
    client.networkOffline();
    expect(client.state).toBe('offline');
    server.latest().push({ type: 'ready', protocol: 1, position: 'pos-0', resumed: true });
    client.networkOffline();
    expect(client.state).toBe('live');
    client.reportUnreachable();
    expect(client.state).toBe('offline');
  });

  it('reports a socket that cannot even be opened and tries again', async () => {
    const server = createFakeSocketServer();
    const report = recorder();
    let calls = 0;
    client = new OrderSocket({
      url: () => {
        calls++;
        if (calls === 1) throw new Error('no API process is up');
        return `ws://127.0.0.1/ws/${calls}`;
      },
      connect: server.connect,
      backoff: AT_ONCE,
      listener: report.listener,
    });
    client.subscribe('pos-0');
    const socket = await accept(server, 0);
    expect(socket.url).toBe('ws://127.0.0.1/ws/2');
    expect(report.log).toEqual(['connect failed: no API process is up', 'opened']);
  });
});

describe('OrderSocket: resync, pause and stop', () => {
  it('hands a resync for a spent replay budget (replay_limited) to the caller like any other, and stays live', async () => {
    const { server, report, client } = follow();
    client.subscribe('pos-0');
    const socket = await accept(server, 0);
    socket.push({ type: 'resync', reason: 'replay_limited' });
    socket.push({ type: 'ready', protocol: 1, position: 'pos-9', resumed: false });
    socket.push(created(makeOrder(1, 1), 'pos-10'));
    expect(report.resyncs).toEqual([{ type: 'resync', reason: 'replay_limited' }]);
    expect(client.position).toBe('pos-10');
    expect(socket.closedWith).toBeUndefined();
  });

  it('hands resync to the caller, and a new subscribe replaces the socket, resuming since the new position', async () => {
    const { server, report, client } = follow();
    client.subscribe('pos-0');
    const first = await accept(server, 0);
    first.push({ type: 'resync', reason: 'history_lost' });
    expect(report.resyncs).toEqual([{ type: 'resync', reason: 'history_lost' }]);
    // The socket stays open until the caller has its new snapshot.
    first.push(created(makeOrder(1, 1), 'pos-1'));
    expect(client.position).toBe('pos-1');

    client.subscribe('pos-50');
    expect(first.closedWith).toBe(1000);
    const second = await accept(server, 1, 'pos-50');
    expect(second.subscriptions()).toEqual([{ type: 'subscribe', protocol: 1, since: 'pos-50' }]);
    // The replaced socket's late frames and close are ignored.
    expect(() => {
      first.drop(1006);
    }).not.toThrow();
    expect(report.log).toEqual(['opened', 'opened']);
  });

  it('pauses: closes the socket, ignores it from then on and does not reconnect until subscribed again', () => {
    vi.useFakeTimers();
    const { server, report, client } = follow();
    client.subscribe('pos-0');
    const first = server.latest();
    first.accept();
    client.pause();
    expect(first.closedWith).toBe(1000);
    expect(client.state).toBe('connecting');
    first.drop(1006);
    vi.advanceTimersByTime(1_000);
    expect(server.sockets).toHaveLength(1);
    client.reconnectNow();
    expect(server.sockets).toHaveLength(1);
    expect(report.log).toEqual(['opened']);

    client.subscribe('pos-9');
    expect(server.sockets).toHaveLength(2);
  });

  it('stops for good: the socket is closed, nothing reconnects, and subscribe does nothing', () => {
    vi.useFakeTimers();
    const { server, client } = follow();
    client.subscribe('pos-0');
    const socket = server.latest();
    socket.accept();
    socket.drop(1006);
    client.stop();
    vi.advanceTimersByTime(1_000);
    client.subscribe('pos-1');
    client.reconnectNow();
    expect(server.sockets).toHaveLength(1);
  });
});
