import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runHarness } from './harness.js';
import { RawClient } from './raw-client.js';

/*
 * The fan-out harness in miniature, so it cannot rot: the same processes (engine, server, load generator) and
 * the same code paths as `npm run bench`, with 20 clients and 50 writes per transport. It asserts counts and
 * joins, never timings.
 */

/** How long a fake server's frames may take to be read (a bound, not a measurement). */
const WAIT = { timeout: 10_000, interval: 10 };

describe('fan-out harness (smoke)', () => {
  it('delivers every write to every client on both transports and joins the timestamps', async () => {
    const results = await runHarness({
      runs: ['ws', 'sio'],
      clientCounts: [20],
      probes: 5,
      loadgens: 1,
      latencyWrites: 50,
      latencyIntervalMs: 20,
      throughput: null,
      post: null,
      maxLoadgenCpu: 1,
      maxLoadgenLagMs: 10_000,
      // Then the scale-out scenario: two API processes on the same engine, each with its own change stream.
      scaleOut: { servers: 2, clientCounts: [20], runs: ['ws'] },
      log: () => undefined,
    });
    expect(results.map((r) => [r.transport, r.servers])).toEqual([
      ['ws', 1],
      ['sio', 1],
      ['ws', 2],
    ]);
    for (const run of results) {
      const servers = run.servers ?? 1;
      expect(run.connectFailures).toBe(0);
      const [step] = run.latency;
      expect(step).toBeDefined();
      if (!step) continue;
      expect(step.writes).toBe(50);
      expect(step.writeErrors).toBe(0);
      // Every one of the 20 clients counted each of the 50 events, no more, no less.
      expect(step.expectedDeliveries).toBe(1000);
      expect(step.deliveries).toBe(1000);
      expect(step.lost).toBe(0);
      expect(step.extra).toBe(0);
      expect(step.closedByServer).toBe(0);
      // Each of the 5 probes parsed all 50 events, and each joined with its write and its server-side stamps.
      expect(step.segments.total.n).toBe(250);
      expect(step.segments.fanoutToProbe.n).toBe(250);
      expect(step.segments.sentToAck.n).toBe(50);
      // Every API process received every event from its own change stream and fanned it out.
      expect(step.segments.sentToServer.n).toBe(50 * servers);
      expect(step.segments.fanout.n).toBe(50 * servers);
      // Idle-connection memory was measured for the 20 connections, split evenly over the API processes.
      expect(run.memory.map((m) => m.clients)).toEqual([20]);
      expect(run.memory[0]?.perServerClients).toEqual(Array.from({ length: servers }, () => 20 / servers));
    }
  });
});

describe('raw WebSocket client', () => {
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  function track(client: RawClient): RawClient {
    clients.push(client);
    return client;
  }

  /** A fake /ws endpoint: accepts the upgrade, then runs `script` on the raw socket. */
  async function fakeServer(script: (socket: Socket) => void): Promise<number> {
    const srv = createServer((socket) => {
      sockets.add(socket);
      let seen = '';
      socket.on('data', (chunk) => {
        seen += chunk.toString('latin1');
        if (seen.includes('\r\n\r\n') && !seen.includes('\u0000done')) {
          seen += '\u0000done';
          socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
          script(socket);
        }
      });
      socket.on('error', () => undefined);
    });
    server = srv;
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const address = srv.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    return address.port;
  }

  function textFrame(text: string): Buffer {
    const payload = Buffer.from(text);
    const header =
      payload.length < 126
        ? Buffer.from([0x81, payload.length])
        : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
    return Buffer.concat([header, payload]);
  }

  it('counts events in batch frames split at every byte, and answers pings', async () => {
    const event = (id: number) => `{"type":"order.created","order":{"id":${id}},"position":"p${id}"}`;
    const batch = `{"type":"batch","events":[${[1, 2, 3].map(event).join(',')}]}`;
    const big = `{"type":"batch","events":[${Array.from({ length: 10 }, (_, i) => event(10 + i)).join(',')}]}`;
    let fromClient = Buffer.alloc(0);
    const port = await fakeServer((socket) => {
      const bytes = Buffer.concat([
        textFrame('{"type":"ready","protocol":1,"position":null,"resumed":false}'),
        Buffer.from([0x89, 0x02, 0x68, 0x69]), // ping "hi"
        textFrame(batch),
        textFrame(event(4)),
        textFrame(big),
      ]);
      socket.on('data', (chunk: Buffer) => {
        fromClient = Buffer.concat([fromClient, chunk]);
      });
      // One byte per write: every frame header and marker straddles chunk boundaries.
      let i = 0;
      const drip = (): void => {
        if (i >= bytes.length || socket.destroyed) return;
        socket.write(bytes.subarray(i, i + 1));
        i += 1;
        setImmediate(drip);
      };
      drip();
    });
    const client = track(new RawClient({ host: '127.0.0.1', port, transport: 'ws', probe: false }));
    await client.ready;
    await vi.waitFor(() => expect(client.events).toBe(14), WAIT);
    // The client's frames after the upgrade: its subscribe (text), then a masked pong echoing "hi". The fake
    // server shares this process, so the pong may reach it after the client counted the last event.
    const clientFrames = (): { opcode: number; payload: string }[] => {
      const frames: { opcode: number; payload: string }[] = [];
      const headerEnd = fromClient.indexOf('\r\n\r\n');
      const start = headerEnd === -1 ? 0 : headerEnd + 4;
      for (let at = start; at + 6 <= fromClient.length;) {
        const opcode = (fromClient[at] ?? 0) & 0x0f;
        const length = (fromClient[at + 1] ?? 0) & 0x7f;
        const mask = fromClient.subarray(at + 2, at + 6);
        const payload = Buffer.from(fromClient.subarray(at + 6, at + 6 + length).map((b, k) => b ^ (mask[k & 3] ?? 0)));
        frames.push({ opcode, payload: payload.toString() });
        at += 6 + length;
      }
      return frames;
    };
    await vi.waitFor(() => {
      expect(clientFrames()).toEqual([
        { opcode: 0x1, payload: '{"type":"subscribe"}' },
        { opcode: 0xa, payload: 'hi' },
      ]);
    }, WAIT);
  });

  it('rejects ready when the server refuses the upgrade', async () => {
    const srv = createServer((socket) => {
      sockets.add(socket);
      socket.once('data', () => socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'));
    });
    server = srv;
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const address = srv.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    const client = track(new RawClient({ host: '127.0.0.1', port: address.port, transport: 'ws', probe: false }));
    await expect(client.ready).rejects.toThrow(/upgrade refused: HTTP\/1.1 404/);
  });

  it('parses and timestamps every event of a batch on a probe', async () => {
    const port = await fakeServer((socket) => {
      socket.write(textFrame('{"type":"ready","protocol":1,"position":null,"resumed":false}'));
      socket.write(
        textFrame(
          '{"type":"batch","events":[{"type":"order.created","order":{"id":7},"position":"a"},{"type":"order.deleted","id":8,"position":"b"}]}',
        ),
      );
    });
    const client = track(new RawClient({ host: '127.0.0.1', port, transport: 'ws', probe: true }));
    await client.ready;
    await vi.waitFor(() => expect(client.samples.map(([id]) => id)).toEqual([7, 8]), WAIT);
    expect(client.events).toBe(2);
  });
});
