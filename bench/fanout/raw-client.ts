import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { benchAuthorization } from './auth.js';

/*
 * A minimal WebSocket client on a raw `net` socket, cheap enough that one load-generator process can hold
 * thousands of them (a `ws`-based generator saturates near 25k frames/s on two cores; see docs/ARCHITECTURE.md, "Fan-out").
 *
 * Counting clients never copy or parse event payloads: they scan text frames for `"type":"order.` and count
 * occurrences, so a `batch` frame of N events counts N. Probe clients assemble every frame, JSON.parse it and
 * timestamp each event. Both speak either the product's protocol on `/ws` or raw engine.io v4 (Socket.IO) on
 * `/socket.io/?EIO=4&transport=websocket`, so both transports cost the load generator the same.
 */

/** Loopback source addresses for load-generator sockets: each address has its own ephemeral port range. */
const SOURCE_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);

/** The source addresses load generator `index` of `count` connects from (disjoint between generators). */
export function sourceAddresses(index: number, count: number): string[] {
  return SOURCE_ADDRESSES.filter((_, k) => k % count === index);
}

/** Appears once per order event in both transports' frames (event objects are serialized the same way). */
export const EVENT_MARKER = Buffer.from('"type":"order.');

export type Transport = 'ws' | 'sio';

/** One event seen by a probe: the order id and when the frame carrying it arrived (epoch ms, sub-ms precision). */
export type ProbeSample = [id: number, receivedAt: number];

export interface RawClientOptions {
  host: string;
  port: number;
  transport: Transport;
  /** Source address on 127.0.0.0/8: many addresses give many ephemeral port ranges. */
  localAddress?: string;
  /** Assemble and parse every frame, recording a sample per event. */
  probe: boolean;
  /** The product protocol's subscribe message (ws only). */
  subscribe?: string;
  /** Handshake and subscription must complete within this (default 20 s). */
  timeoutMs?: number;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on this machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** A masked client frame (RFC 6455 §5.3: every client frame is masked). */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const headerLen = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLen + 4 + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) {
    frame[1] = 0x80 | len;
  } else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, headerLen);
  const start = headerLen + 4;
  for (let i = 0; i < len; i++) frame[start + i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return frame;
}

function countMarker(buf: Buffer, from: number, to: number): number {
  let n = 0;
  let at = buf.indexOf(EVENT_MARKER, from);
  while (at !== -1 && at + EVENT_MARKER.length <= to) {
    n += 1;
    at = buf.indexOf(EVENT_MARKER, at + EVENT_MARKER.length);
  }
  return n;
}

/** Frames shorter than this are assembled even by counting clients: control messages, engine.io pings. */
const SMALL_FRAME = 256;

/**
 * One client. `events` counts order events received since the last `resetCount`; probes also fill `samples`.
 * `ready` resolves once the server accepted the subscription (ws: its `ready` frame; sio: the `40` connect).
 */
export class RawClient {
  events = 0;
  frames = 0;
  readonly samples: ProbeSample[] = [];
  closed = false;
  closeCode: number | null = null;
  readonly ready: Promise<void>;

  private readonly socket: Socket;
  private readonly opts: RawClientOptions;
  private upgraded = false;
  private head: Buffer | null = null;
  // Frame parser state.
  private hdr = Buffer.alloc(14);
  private hdrHave = 0;
  private remaining = 0;
  private opcode = 0;
  private inPayload = false;
  private collect = false;
  private pieces: Buffer[] = [];
  private carry: Buffer | null = null;
  private subscribed = false;
  private resolveReady!: () => void;
  private rejectReady!: (err: Error) => void;
  private readyTimer: NodeJS.Timeout | null;

  constructor(opts: RawClientOptions) {
    this.opts = opts;
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // A failed connection rejects `ready`; callers that stopped waiting must not crash the process.
    this.ready.catch(() => undefined);
    this.readyTimer = setTimeout(() => this.fail(new Error('handshake timed out')), opts.timeoutMs ?? 20_000);
    const path = opts.transport === 'ws' ? '/ws' : '/socket.io/?EIO=4&transport=websocket';
    this.socket = connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Authorization: ${benchAuthorization()}\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => {
      this.closed = true;
      this.fail(new Error('socket closed before the subscription was ready'));
    });
  }

  /** Starts a new counting window. */
  resetCount(): void {
    this.events = 0;
    this.frames = 0;
    this.samples.length = 0;
  }

  /** Sends a close frame and ends the socket. */
  close(): void {
    if (this.closed) return;
    if (this.upgraded && this.socket.writable) {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(1000, 0);
      this.socket.write(clientFrame(OP_CLOSE, payload));
    }
    this.socket.end();
    this.socket.destroySoon();
  }

  /** Cuts the TCP connection at once. */
  destroy(): void {
    this.socket.destroy();
  }

  private fail(err: Error): void {
    if (this.readyTimer !== null) {
      clearTimeout(this.readyTimer);
      this.readyTimer = null;
      this.rejectReady(err);
      this.socket.destroy();
    }
  }

  private markReady(): void {
    if (this.readyTimer !== null) {
      clearTimeout(this.readyTimer);
      this.readyTimer = null;
      this.resolveReady();
    }
  }

  private sendText(text: string): void {
    this.socket.write(clientFrame(OP_TEXT, Buffer.from(text)));
  }

  private onData(chunk: Buffer): void {
    if (!this.upgraded) {
      const buf = this.head ? Buffer.concat([this.head, chunk]) : chunk;
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buf.length > 8192) this.fail(new Error('oversized upgrade response'));
        this.head = buf;
        return;
      }
      this.head = null;
      const status = buf.toString('latin1', 0, Math.min(end, 40));
      if (!status.startsWith('HTTP/1.1 101')) {
        this.fail(new Error(`upgrade refused: ${status.split('\r\n')[0] ?? ''}`));
        return;
      }
      this.upgraded = true;
      if (this.opts.transport === 'ws') this.sendText(this.opts.subscribe ?? '{"type":"subscribe"}');
      if (end + 4 < buf.length) this.parse(buf, end + 4);
      return;
    }
    this.parse(chunk, 0);
  }

  /** Streams frames out of `buf` from `pos`, never copying event payloads of counting clients. */
  private parse(buf: Buffer, pos: number): void {
    const len = buf.length;
    while (pos < len) {
      if (!this.inPayload) {
        // Collect the header (2..10 bytes; server frames are unmasked).
        const need = this.hdrHave < 2 ? 2 : headerLength(this.hdr);
        while (this.hdrHave < need && pos < len) this.hdr[this.hdrHave++] = buf[pos++] as number;
        if (this.hdrHave < 2) return;
        const full = headerLength(this.hdr);
        while (this.hdrHave < full && pos < len) this.hdr[this.hdrHave++] = buf[pos++] as number;
        if (this.hdrHave < full) return;
        const b1 = (this.hdr[1] as number) & 0x7f;
        const payloadLen = b1 < 126 ? b1 : b1 === 126 ? this.hdr.readUInt16BE(2) : Number(this.hdr.readBigUInt64BE(2));
        const opcode = (this.hdr[0] as number) & 0x0f;
        if (opcode !== OP_CONT) this.opcode = opcode;
        this.hdrHave = 0;
        this.remaining = payloadLen;
        this.inPayload = true;
        this.collect = this.opts.probe || this.opcode !== OP_TEXT || payloadLen < SMALL_FRAME || !this.subscribed;
        this.pieces = [];
        this.carry = null;
        this.frames += 1;
        if (payloadLen === 0) this.endFrame();
        continue;
      }
      const take = Math.min(this.remaining, len - pos);
      if (this.collect) {
        this.pieces.push(buf.subarray(pos, pos + take));
      } else {
        this.countPiece(buf, pos, pos + take);
      }
      pos += take;
      this.remaining -= take;
      if (this.remaining === 0) this.endFrame();
    }
  }

  private countPiece(buf: Buffer, from: number, to: number): void {
    const m = EVENT_MARKER.length;
    if (this.carry !== null) {
      // An occurrence straddling the previous piece and this one.
      const joined = Buffer.concat([this.carry, buf.subarray(from, Math.min(to, from + m - 1))]);
      this.events += countMarker(joined, 0, joined.length);
    }
    this.events += countMarker(buf, from, to);
    this.carry = Buffer.from(buf.subarray(Math.max(from, to - (m - 1)), to));
  }

  private endFrame(): void {
    this.inPayload = false;
    if (!this.collect) return;
    const payload = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces);
    this.pieces = [];
    switch (this.opcode) {
      case OP_TEXT:
        this.onText(payload);
        return;
      case OP_PING:
        this.socket.write(clientFrame(OP_PONG, payload));
        return;
      case OP_CLOSE:
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.socket.end();
        return;
      default:
        return;
    }
  }

  private onText(payload: Buffer): void {
    if (this.opts.transport === 'sio') {
      if (!this.subscribed) {
        // engine.io open packet `0{...}`: connect to the main namespace; `40{...}` acknowledges it.
        if (payload[0] === 0x30) {
          this.sendText('40');
          return;
        }
        if (payload.toString('latin1', 0, 2) === '40') {
          this.subscribed = true;
          this.markReady();
        }
        return;
      }
      if (payload.length === 1 && payload[0] === 0x32) {
        this.sendText('3'); // engine.io ping → pong
        return;
      }
      if (this.opts.probe) {
        const at = nowMs();
        const text = payload.toString('utf8');
        if (text.startsWith('42')) {
          const [, event] = JSON.parse(text.slice(2)) as [string, unknown];
          this.record(event, at);
        }
        return;
      }
      this.events += countMarker(payload, 0, payload.length);
      return;
    }
    if (!this.subscribed) {
      const text = payload.toString('utf8');
      if (text.startsWith('{"type":"ready"')) {
        this.subscribed = true;
        this.markReady();
      } else {
        this.fail(new Error(`expected ready, got ${text.slice(0, 200)}`));
      }
      return;
    }
    if (this.opts.probe) {
      const at = nowMs();
      const message = JSON.parse(payload.toString('utf8')) as { type?: unknown; events?: unknown };
      if (message.type === 'batch' && Array.isArray(message.events)) {
        for (const event of message.events) this.record(event, at);
      } else {
        this.record(message, at);
      }
      return;
    }
    this.events += countMarker(payload, 0, payload.length);
  }

  private record(event: unknown, at: number): void {
    if (typeof event !== 'object' || event === null) return;
    const { type, order, id } = event as { type?: unknown; order?: { id?: unknown }; id?: unknown };
    if (typeof type !== 'string' || !type.startsWith('order.')) return;
    this.events += 1;
    const orderId = typeof order?.id === 'number' ? order.id : typeof id === 'number' ? id : -1;
    this.samples.push([orderId, at]);
  }
}

function headerLength(hdr: Buffer): number {
  const b1 = (hdr[1] as number) & 0x7f;
  return b1 < 126 ? 2 : b1 === 126 ? 4 : 10;
}
