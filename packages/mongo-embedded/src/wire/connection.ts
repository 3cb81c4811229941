import type { Socket } from 'node:net';
import {
  decodeMessage,
  encodeReply,
  ProtocolError,
  readMessageLength,
  type Doc,
  type WireRequest,
} from './protocol.js';

/** What a command handler learns about the connection that sent a request. */
export interface ConnectionContext {
  readonly connectionId: number;
  readonly request: WireRequest;
  /** Aborted when the client disconnects, so long waits (change-stream getMore) can stop early. */
  readonly signal: AbortSignal;
}

/** Returned by a handler to drop the connection without replying (failCommand closeConnection). */
export const CLOSE_CONNECTION = Symbol('closeConnection');

export type RequestHandler = (ctx: ConnectionContext) => Promise<Doc | typeof CLOSE_CONNECTION>;

export interface ConnectionLogger {
  warn(msg: string): void;
}

/** Stop reading from a client that pipelines more than this much unprocessed data. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/**
 * Serves one client socket: frames messages, runs one request at a time and answers in order.
 * Any malformed input closes this socket only; handler crashes become error replies upstream.
 */
export class WireConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private queue: WireRequest[] = [];
  private processing = false;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly socket: Socket,
    readonly connectionId: number,
    private readonly handler: RequestHandler,
    private readonly logger: ConnectionLogger,
    private readonly onClosed: (conn: WireConnection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('end', () => this.close());
    socket.on('close', () => this.close());
  }

  /** Destroys the socket; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.queue = [];
    this.chunks = [];
    this.socket.destroy();
    this.onClosed(this);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      this.extractMessages();
    } catch (err) {
      this.logger.warn(`closing connection ${this.connectionId}: ${(err as Error).message}`);
      this.close();
      return;
    }
    if (this.buffered > MAX_BUFFERED_BYTES) this.socket.pause();
    this.pump();
  }

  private extractMessages(): void {
    for (;;) {
      if (this.buffered < 4) return;
      if (this.chunks.length > 1 && this.chunks[0]!.length < 4) this.coalesce();
      const length = readMessageLength(this.chunks[0]!);
      if (length === null || this.buffered < length) return;
      this.coalesce();
      const all = this.chunks[0]!;
      const msg = all.subarray(0, length);
      const rest = all.subarray(length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.queue.push(decodeMessage(msg));
    }
  }

  private coalesce(): void {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
  }

  private pump(): void {
    if (this.processing || this.closed) return;
    const request = this.queue.shift();
    if (!request) {
      if (this.socket.isPaused()) this.socket.resume();
      return;
    }
    this.processing = true;
    void this.run(request).finally(() => {
      this.processing = false;
      this.pump();
    });
  }

  private async run(request: WireRequest): Promise<void> {
    let reply: Doc | typeof CLOSE_CONNECTION;
    try {
      reply = await this.handler({ connectionId: this.connectionId, request, signal: this.abort.signal });
    } catch (err) {
      // The dispatcher turns errors into replies; reaching here means a bug, so fail this connection only.
      this.logger.warn(`connection ${this.connectionId}: handler failed: ${(err as Error).stack ?? String(err)}`);
      this.close();
      return;
    }
    if (this.closed) return;
    if (reply === CLOSE_CONNECTION) {
      this.close();
      return;
    }
    if (request.moreToCome) return;
    try {
      this.socket.write(encodeReply(request, reply));
    } catch (err) {
      this.logger.warn(`connection ${this.connectionId}: cannot encode reply: ${(err as Error).message}`);
      this.close();
    }
  }
}

export { ProtocolError };
