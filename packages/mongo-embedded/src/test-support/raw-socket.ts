import { connect, type Socket } from 'node:net';
import { BSON, type Document } from 'bson';

/** A bare TCP client speaking the wire protocol by hand, for malformed-input tests. */
export class RawClient {
  private buffered = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private closedFlag = false;
  private readonly closedPromise: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedFlag = true;
        this.wake();
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  send(buf: Buffer): void {
    this.socket.write(buf);
  }

  /** Resolves when the server closes the connection; rejects after `ms`. */
  async waitClosed(ms = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('server did not close the connection')), ms);
    });
    try {
      await Promise.race([this.closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads the next reply (OP_MSG or OP_REPLY) and decodes its document. */
  async readReply(ms = 5000): Promise<{ responseTo: number; opCode: number; doc: Document }> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.buffered.length >= 4) {
        const length = this.buffered.readInt32LE(0);
        if (this.buffered.length >= length) {
          const msg = this.buffered.subarray(0, length);
          this.buffered = this.buffered.subarray(length);
          const responseTo = msg.readInt32LE(8);
          const opCode = msg.readInt32LE(12);
          const docStart = opCode === 1 ? 16 + 20 : 16 + 5;
          return { responseTo, opCode, doc: BSON.deserialize(msg.subarray(docStart)) };
        }
      }
      if (this.closedFlag) throw new Error('connection closed before a reply arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no reply in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function header(length: number, requestId: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(requestId, 4);
  h.writeInt32LE(0, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

/** Builds an OP_MSG with a kind-0 body and optional kind-1 document sequences. */
export function opMsg(
  requestId: number,
  body: Document,
  options: { flags?: number; sequences?: [string, Document[]][]; checksum?: boolean } = {},
): Buffer {
  const parts: Buffer[] = [];
  const flags = Buffer.alloc(4);
  flags.writeUInt32LE((options.flags ?? 0) | (options.checksum ? 1 : 0));
  parts.push(flags, Buffer.from([0]), Buffer.from(BSON.serialize(body)));
  for (const [id, docs] of options.sequences ?? []) {
    const payload = Buffer.concat([Buffer.from(`${id}\0`, 'utf8'), ...docs.map((d) => Buffer.from(BSON.serialize(d)))]);
    const size = Buffer.alloc(4);
    size.writeInt32LE(payload.length + 4);
    parts.push(Buffer.from([1]), size, payload);
  }
  if (options.checksum) parts.push(Buffer.alloc(4));
  const content = Buffer.concat(parts);
  return Buffer.concat([header(16 + content.length, requestId, 2013), content]);
}

/** Builds a legacy OP_QUERY command (the driver's handshake). */
export function opQuery(requestId: number, ns: string, query: Document): Buffer {
  const flags = Buffer.alloc(4);
  const nsBuf = Buffer.from(`${ns}\0`, 'utf8');
  const skipReturn = Buffer.alloc(8);
  skipReturn.writeInt32LE(-1, 4);
  const content = Buffer.concat([flags, nsBuf, skipReturn, Buffer.from(BSON.serialize(query))]);
  return Buffer.concat([header(16 + content.length, requestId, 2004), content]);
}

/** A header claiming `length` bytes, followed by `extra` bytes of filler. */
export function rawHeader(length: number, opCode: number, extra = 0): Buffer {
  return Buffer.concat([header(length, 1, opCode), Buffer.alloc(extra)]);
}
