import { createServer, type Server, type Socket } from 'node:net';
import { BSON } from 'mongodb';

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

/**
 * A minimal wire-protocol server that answers every command like a standalone mongod (a hello without
 * `setName`): enough for the driver to connect, so the API's boot check can be shown refusing it.
 */
export async function startFakeStandalone(): Promise<{ uri: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= buffered.readInt32LE(0)) {
        const length = buffered.readInt32LE(0);
        const message = buffered.subarray(0, length);
        buffered = buffered.subarray(length);
        const reply = answer(message);
        if (reply !== null) socket.write(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    uri: `mongodb://127.0.0.1:${address.port}/?directConnection=true`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let requestIds = 1;

function helloDocument(): Record<string, unknown> {
  return {
    ismaster: true,
    isWritablePrimary: true,
    helloOk: true,
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: 1,
    minWireVersion: 0,
    maxWireVersion: 21,
    readOnly: false,
    ok: 1,
  };
}

function answer(message: Buffer): Buffer | null {
  const requestId = message.readInt32LE(4);
  const opCode = message.readInt32LE(12);
  const body = BSON.serialize(helloDocument());
  if (opCode === OP_QUERY) {
    const header = Buffer.alloc(16 + 20);
    header.writeInt32LE(header.length + body.length, 0);
    header.writeInt32LE(requestIds++, 4);
    header.writeInt32LE(requestId, 8);
    header.writeInt32LE(OP_REPLY, 12);
    header.writeInt32LE(0, 16); // responseFlags
    header.writeBigInt64LE(0n, 20); // cursorID
    header.writeInt32LE(0, 28); // startingFrom
    header.writeInt32LE(1, 32); // numberReturned
    return Buffer.concat([header, body]);
  }
  if (opCode === OP_MSG) {
    const flags = message.readUInt32LE(16);
    if ((flags & 2) !== 0) return null; // moreToCome: the client expects no reply
    const header = Buffer.alloc(16 + 5);
    header.writeInt32LE(header.length + body.length, 0);
    header.writeInt32LE(requestIds++, 4);
    header.writeInt32LE(requestId, 8);
    header.writeInt32LE(OP_MSG, 12);
    header.writeUInt32LE(0, 16);
    header.writeUInt8(0, 20); // section kind 0: the body document
    return Buffer.concat([header, body]);
  }
  return null;
}
