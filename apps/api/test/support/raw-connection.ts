import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A plain TCP connection to the API for what no HTTP or WebSocket client will send: duplicate Host headers, raw
 * bytes in a header, a body dribbled byte by byte, half a WebSocket frame. Collects everything the server sends.
 */
export class RawConnection {
  received = Buffer.alloc(0);
  closed = false;
  private readonly closedPromise: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
    });
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        resolve();
      });
    });
  }

  /** Connects to 127.0.0.1:`port`. */
  static async open(port: number): Promise<RawConnection> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawConnection(socket);
  }

  /** Writes `data` unless the server has closed the connection; false once it has. */
  write(data: string | Buffer): boolean {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
    return true;
  }

  /** The received bytes as text (latin1, one char per byte). */
  text(): string {
    return this.received.toString('latin1');
  }

  /** The status code of the first HTTP response received, or null. */
  status(): number | null {
    const match = /^HTTP\/1\.1 (\d{3})/.exec(this.text());
    return match === null ? null : Number(match[1]);
  }

  /** The body of the first HTTP response, parsed as JSON (the error body), once it has fully arrived. */
  jsonBody(): Record<string, unknown> {
    const text = this.received.toString('utf8');
    const start = text.indexOf('\r\n\r\n');
    return JSON.parse(text.slice(start + 4)) as Record<string, unknown>;
  }

  /** Resolves once the server closed the connection, or rejects after `timeoutMs`. */
  async waitClosed(timeoutMs = 15_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** An HTTP/1.1 WebSocket upgrade request for `path` (a valid handshake apart from where it goes). */
export function upgradeRequest(path: string, extraHeaders = ''): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n${extraHeaders}\r\n`
  );
}

/** A masked client→server frame (RFC 6455 §5.2) with payload under 126 bytes. */
export function clientFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  if (payload.length >= 126) throw new Error('clientFrame builds short frames only');
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] ?? 0)));
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.length]), mask, masked]);
}
