import { connect, type Socket } from 'node:net';
import { serialize } from 'bson';
import { decodeMessage, OP_MSG, readMessageLength, type Doc } from '../wire/protocol.js';
import { summarize, type Latency } from './measure.js';

/*
 * The engine without the driver: each connection sends one OP_MSG command at a time (as one pooled driver
 * connection does) and waits for its reply. Requests are built with `bson` directly and replies are only framed
 * and checked for `ok: 1`, so almost all of the CPU this costs is the engine's, which shows what the engine
 * itself sustains when the driver's own per-operation cost is taken away.
 */

export interface RawLoadResult {
  perSecond: number;
  latency: Latency;
  /** Replies that were not `ok: 1` or carried write errors (a correct run has none). */
  failures: number;
}

let nextRequestId = 1;

/** One OP_MSG request with a single kind-0 section. */
export function encodeCommand(body: Doc): Buffer {
  const bson = serialize(body);
  const header = Buffer.alloc(21);
  header.writeInt32LE(21 + bson.length, 0);
  header.writeInt32LE(nextRequestId++, 4);
  header.writeInt32LE(0, 8);
  header.writeInt32LE(OP_MSG, 12);
  header.writeUInt32LE(0, 16);
  header.writeUInt8(0, 20);
  return Buffer.concat([header, bson]);
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.setNoDelay(true);
    socket.once('error', reject);
  });
}

/**
 * Runs `connections` sockets, each with one command in flight, for `ms` (and at most `maxOps` commands in all).
 * `command(i)` builds the i-th command body (with `$db`).
 */
export async function rawLoad(
  port: number,
  connections: number,
  ms: number,
  maxOps: number,
  command: (i: number) => Doc,
): Promise<RawLoadResult> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => open(port)));
  const latencies: number[] = [];
  let issued = 0;
  let failures = 0;
  const start = performance.now();
  const end = start + ms;
  try {
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve, reject) => {
            let pending: Buffer = Buffer.alloc(0);
            let sentAt = 0;
            const send = (): void => {
              if (performance.now() >= end || issued >= maxOps) {
                resolve();
                return;
              }
              const body = command(issued++);
              sentAt = performance.now();
              socket.write(encodeCommand(body));
            };
            socket.on('error', reject);
            socket.on('close', () => reject(new Error('the engine closed a benchmark connection')));
            socket.on('data', (chunk: Buffer) => {
              pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
              const length = readMessageLength(pending);
              if (length === null || pending.length < length) return;
              const reply = decodeMessage(pending.subarray(0, length)).body;
              pending = pending.subarray(length);
              latencies.push(performance.now() - sentAt);
              // Replies are decoded without promoting values: `ok` is a Double.
              if (Number(reply.ok) !== 1 || reply.writeErrors !== undefined) failures++;
              send();
            });
            send();
          }),
      ),
    );
  } finally {
    for (const socket of sockets) {
      socket.removeAllListeners('close');
      socket.destroy();
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: latencies.length / seconds, latency: summarize(latencies), failures };
}
