import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Long, Timestamp } from 'bson';
import { helloReply } from '../commands/admin.js';
import { WireConnection } from '../wire/connection.js';
import type { Doc } from '../wire/protocol.js';

/*
 * The driver's ceiling: a server that frames requests exactly as the engine does (the same WireConnection) but
 * answers every command instantly with a canned reply, storing nothing. Driving it with the same operations as
 * the engine benchmark shows how many operations per second the official driver itself can issue on this
 * machine, which bounds any server measured through it. The benchmark runs it alone in a process of its own
 * (null-server-child.ts).
 */

/** Nothing is ever written: every hello reports the same last write. */
const START = new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 });

function answer(body: Doc, address: string, connectionId: number): Doc {
  const name = Object.keys(body)[0] ?? '';
  switch (name) {
    case 'hello':
    case 'isMaster':
    case 'ismaster':
      return {
        ...helloReply({ address, setName: 'rs0', connectionId, lastWrite: START, name, helloOk: body.helloOk }),
        ok: 1,
      };
    case 'find': {
      // One document shaped like the benchmark's: the reply costs the driver what a real hit costs.
      const filter = body.filter as Doc | undefined;
      const doc = { _id: filter?._id ?? 0, n: 1, group: 1, name: 'customer 1', payload: 'x'.repeat(100) };
      return { cursor: { firstBatch: [doc], id: Long.ZERO, ns: `${String(body.$db)}.${String(body.find)}` }, ok: 1 };
    }
    case 'insert':
      return { n: Array.isArray(body.documents) ? body.documents.length : 0, ok: 1 };
    default:
      return { ok: 1 };
  }
}

export interface NullServer {
  port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (an ephemeral port) and answers every command at once; see above. */
export async function startNullServer(): Promise<NullServer> {
  const server = createServer();
  const sockets = new Set<Socket>();
  let nextId = 1;
  server.on('connection', (socket) => {
    const connectionId = nextId++;
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    sockets.add(socket);
    new WireConnection(
      socket,
      connectionId,
      (ctx) => Promise.resolve(answer(ctx.request.body, address, connectionId)),
      { warn: () => undefined },
      () => sockets.delete(socket),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
