import { randomBytes } from 'node:crypto';
import { connect, type AddressInfo, type Socket } from 'node:net';
import Fastify from 'fastify';
import websocket from '@fastify/websocket';
import WebSocket from 'ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CloseCode, MAX_CLIENT_FRAME_BYTES } from '@orders/contracts';
import { encodeTextFrame } from '../src/realtime/text-frame.js';
import websocketPlugin from '../src/plugins/websocket.js';
import { registerWsRoute } from '../src/routes/ws.js';
import { FedHub } from './support/realtime-fakes.js';
import { created, order } from './support/realtime-fakes.js';
import { TestClient } from './support/ws-client.js';

/*
 * The fan-out writes each message framed once, straight to the upgraded connection, next to the frames ws writes
 * itself (ready, pings, close). A raw TCP client reads the byte stream frame by frame and checks every header
 * (FIN, no RSV bits, unmasked, shortest length form) and every payload byte for byte; a real ws client reads the
 * same messages alongside.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('encodeTextFrame', () => {
  it('writes FIN + text opcode, no mask, and the shortest length form for each size', () => {
    const cases: [text: string, header: number[]][] = [
      ['', [0x81, 0]],
      ['a'.repeat(125), [0x81, 125]],
      ['a'.repeat(126), [0x81, 126, 0x00, 0x7e]],
      ['a'.repeat(65_535), [0x81, 126, 0xff, 0xff]],
      ['a'.repeat(65_536), [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]],
      // 70 characters, 140 UTF-8 bytes: the length is in bytes.
      ['é'.repeat(70), [0x81, 126, 0, 140]],
      // 40,000 characters, 120,000 bytes: past the 16-bit form only in bytes.
      ['注'.repeat(40_000), [0x81, 127, 0, 0, 0, 0, 0, 1, 0xd4, 0xc0]],
    ];
    for (const [text, header] of cases) {
      const { frame, payload } = encodeTextFrame(text);
      expect([...frame.subarray(0, header.length)]).toEqual(header);
      expect(frame.length).toBe(header.length + Buffer.byteLength(text));
      expect(payload.equals(Buffer.from(text, 'utf8'))).toBe(true);
      // The payload is the frame's tail, not a second copy.
      expect(payload.buffer).toBe(frame.buffer);
      expect(payload.byteOffset).toBe(frame.byteOffset + header.length);
    }
  });
});

interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** 7, 16 or 64: which length form the header used. */
  lengthBits: number;
  payload: Buffer;
}

/** A WebSocket client on a bare TCP socket that keeps every frame the server sent, headers included. */
class RawPeer {
  readonly frames: Frame[] = [];
  response = '';
  private buffer = Buffer.alloc(0);
  private upgraded = false;
  private readonly waiters = new Set<() => void>();
  ended = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
      for (const wake of this.waiters) wake();
    });
    socket.on('close', () => {
      this.ended = true;
      for (const wake of this.waiters) wake();
    });
    socket.on('error', () => undefined);
  }

  /** Opens the connection and completes the handshake, offering permessage-deflate (the server must decline). */
  static async open(port: number): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const peer = new RawPeer(socket);
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
    );
    await peer.waitFor(() => peer.upgraded, 'the 101 response');
    return peer;
  }

  private parse(): void {
    if (!this.upgraded) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      this.response = this.buffer.subarray(0, end).toString('latin1');
      this.buffer = this.buffer.subarray(end + 4);
      this.upgraded = true;
    }
    // Bounded by the bytes received: each pass consumes one whole frame or stops.
    while (this.buffer.length >= 2) {
      const b0 = this.buffer[0] as number;
      const b1 = this.buffer[1] as number;
      const len7 = b1 & 0x7f;
      let offset = 2;
      let length = len7;
      let lengthBits = 7;
      if (len7 === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
        lengthBits = 16;
      } else if (len7 === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
        lengthBits = 64;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) offset += 4;
      if (this.buffer.length < offset + length) return;
      const payload = Buffer.from(this.buffer.subarray(offset, offset + length));
      this.buffer = this.buffer.subarray(offset + length);
      const frame: Frame = { fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, lengthBits, payload };
      this.frames.push(frame);
      // Pings are answered so the liveness check keeps the connection.
      if (frame.opcode === 0x9) this.send(0xa, payload);
    }
  }

  /** Sends a masked client frame (every client frame is masked). */
  send(opcode: number, payload: Buffer): void {
    if (this.socket.destroyed) return;
    const len = payload.length;
    const header = len < 126 ? 2 : 4;
    const frame = Buffer.alloc(header + 4 + len);
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | (len < 126 ? len : 126);
    if (header === 4) frame.writeUInt16BE(len, 2);
    const mask = randomBytes(4);
    mask.copy(frame, header);
    for (let i = 0; i < len; i++) frame[header + 4 + i] = (payload[i] as number) ^ (mask[i & 3] as number);
    this.socket.write(frame);
  }

  texts(): string[] {
    return this.frames.filter((f) => f.opcode === 0x1).map((f) => f.payload.toString('utf8'));
  }

  async waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (condition()) return;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = (): void => {
        if (condition()) {
          done();
          resolve();
        } else if (this.ended) {
          done();
          reject(new Error(`connection closed while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}

/** The product's websocket plugin and route in front of a hub fed by the test. */
async function serve(options: { pingIntervalMs: number; deflate?: boolean; directWrites?: boolean }) {
  const hub = new FedHub({ maxBufferedBytes: 4 * 1024 * 1024, batchWindowMs: 0, ringSize: 1000 });
  const app = Fastify({ logger: false });
  if (options.deflate) {
    await app.register(websocket, { options: { maxPayload: MAX_CLIENT_FRAME_BYTES, perMessageDeflate: true } });
  } else {
    await app.register(websocketPlugin);
  }
  registerWsRoute(app, {
    hub,
    pingIntervalMs: options.pingIntervalMs,
    closeGraceMs: 500,
    directWrites: options.directWrites,
  });
  app.addHook('preClose', (done) => {
    hub.close();
    done();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  return { hub, app, port: (app.server.address() as AddressInfo).port };
}

function eventJson(n: number, productName: string): string {
  const item = created(n, order(n, { product_name: productName }));
  return JSON.stringify({ type: 'order.created', order: item.order, position: item.position });
}

// The longest name the contract allows, in 3-byte characters: one event is about 750 bytes (16-bit length form).
const MEDIUM = '注文'.repeat(100);
/** Events published in one turn: they go out as one batch frame of about 110 KB (64-bit length form). */
const LARGE_BATCH = 150;

describe('GET /ws pre-framed fan-out', () => {
  it('delivers byte-exact, correctly framed messages between pings and before the close', async () => {
    const { hub, port } = await serve({ pingIntervalMs: 25 });
    const peer = await RawPeer.open(port);
    cleanups.push(() => void peer.socket.destroy());
    expect(peer.response).toMatch(/^HTTP\/1\.1 101/);
    // Compression would forbid writing the same frame bytes to every socket: the server declines it.
    expect(peer.response.toLowerCase()).not.toContain('sec-websocket-extensions');
    const reader = await TestClient.subscribe(`ws://127.0.0.1:${port}/ws`);
    cleanups.push(() => reader.close());

    peer.send(0x1, Buffer.from(JSON.stringify({ type: 'subscribe' })));
    await peer.waitFor(() => peer.texts().length === 1, 'ready');
    expect(JSON.parse(peer.texts()[0] as string)).toMatchObject({ type: 'ready' });
    const sends = vi.spyOn(WebSocket.prototype, 'send');

    const expected: string[] = [];
    let n = 0;
    const publish = (productName: string): string => {
      n += 1;
      hub.publish(created(n, order(n, { product_name: productName })));
      return eventJson(n, productName);
    };
    const batchOf = (events: string[]): string => `{"type":"batch","events":[${events.join(',')}]}`;
    // Rounds of a 16-bit-length message, a 64-bit-length batch, and a small batch, with pings (every 25 ms)
    // landing between them.
    for (let round = 0; round < 10; round++) {
      expected.push(publish(MEDIUM));
      await new Promise((resolve) => setTimeout(resolve, 8));
      expected.push(batchOf(Array.from({ length: LARGE_BATCH }, () => publish(MEDIUM))));
      await new Promise((resolve) => setTimeout(resolve, 8));
      expected.push(batchOf([publish('a'), publish('b'), publish('c')]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await peer.waitFor(() => peer.texts().length === 1 + expected.length, 'every message');
    await reader.waitForEvents(n, 10_000);

    expect(peer.texts().slice(1)).toEqual(expected);
    // The events went out without ws.send (the one encoded frame was written to each connection).
    expect(sends).not.toHaveBeenCalled();
    for (const frame of peer.frames) {
      expect(frame.fin).toBe(true);
      expect(frame.rsv).toBe(0);
      expect(frame.masked).toBe(false);
    }
    const events = peer.frames.filter((f) => f.opcode === 0x1).slice(1);
    expect(events.map((f) => f.lengthBits)).toEqual(expected.map((e) => (Buffer.byteLength(e) < 65_536 ? 16 : 64)));
    expect(events.filter((f) => f.lengthBits === 64)).toHaveLength(10);
    const pingsBetween = peer.frames
      .slice(peer.frames.findIndex((f) => f.opcode === 0x1) + 1)
      .filter((f) => f.opcode === 0x9).length;
    expect(pingsBetween).toBeGreaterThan(0);
    // The ws client read the same messages, in the same order.
    expect(reader.events().map((e) => e.position)).toEqual(
      Array.from({ length: n }, (_, i) => created(i + 1).position),
    );
    expect(reader.invalid).toEqual([]);

    // Shutdown: a last batch, then the close frame (1001) after it, and nothing after the close.
    expected.push(batchOf(Array.from({ length: LARGE_BATCH }, () => publish(MEDIUM))));
    hub.close();
    await peer.waitFor(() => peer.frames.some((f) => f.opcode === 0x8), 'the close frame');
    const closeAt = peer.frames.findIndex((f) => f.opcode === 0x8);
    expect(peer.frames[closeAt]?.payload.readUInt16BE(0)).toBe(CloseCode.GoingAway);
    expect(peer.frames.slice(closeAt + 1).filter((f) => f.opcode === 0x1)).toEqual([]);
    expect(peer.texts().slice(1)).toEqual(expected);
  });

  it('falls back to ws.send when permessage-deflate was negotiated, and the messages still arrive intact', async () => {
    const { hub, port } = await serve({ pingIntervalMs: 30_000, deflate: true });
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: true });
    cleanups.push(() => socket.terminate());
    const received: string[] = [];
    socket.on('message', (data: Buffer) => received.push(data.toString('utf8')));
    await new Promise((resolve) => socket.once('open', resolve));
    expect(socket.extensions).toContain('permessage-deflate');
    socket.send(JSON.stringify({ type: 'subscribe' }));
    await vi.waitFor(() => expect(received.length).toBe(1), { timeout: 10_000 });
    const sends = vi.spyOn(WebSocket.prototype, 'send');

    hub.publish(created(1, order(1, { product_name: MEDIUM })));
    await new Promise((resolve) => setImmediate(resolve));
    const batch: string[] = [];
    for (let k = 2; k < 2 + LARGE_BATCH; k++) {
      hub.publish(created(k, order(k, { product_name: MEDIUM })));
      batch.push(eventJson(k, MEDIUM));
    }
    await vi.waitFor(() => expect(received.length).toBe(3), { timeout: 10_000 });
    expect(received.slice(1)).toEqual([eventJson(1, MEDIUM), `{"type":"batch","events":[${batch.join(',')}]}`]);
    // Compressed frames cannot be shared: each went through ws.send.
    expect(sends).toHaveBeenCalledTimes(2);
  });

  it('sends every frame through ws.send when direct writes are turned off, with the same messages', async () => {
    const { hub, port } = await serve({ pingIntervalMs: 30_000, directWrites: false });
    const peer = await RawPeer.open(port);
    cleanups.push(() => void peer.socket.destroy());
    peer.send(0x1, Buffer.from(JSON.stringify({ type: 'subscribe' })));
    await peer.waitFor(() => peer.texts().length === 1, 'ready');
    const sends = vi.spyOn(WebSocket.prototype, 'send');

    const batch: string[] = [];
    for (let k = 1; k <= LARGE_BATCH; k++) {
      hub.publish(created(k, order(k, { product_name: MEDIUM })));
      batch.push(eventJson(k, MEDIUM));
    }
    await peer.waitFor(() => peer.texts().length === 2, 'the batch');
    expect(peer.texts()[1]).toBe(`{"type":"batch","events":[${batch.join(',')}]}`);
    expect(peer.frames.at(-1)?.lengthBits).toBe(64);
    expect(sends).toHaveBeenCalledTimes(1);
  });
});
