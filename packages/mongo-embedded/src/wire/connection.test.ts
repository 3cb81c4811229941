import { Long } from 'bson';
import { afterEach, describe, expect, it } from 'vitest';
import { useServer } from '../test-support/harness.js';
import { opMsg, opQuery, rawHeader, RawClient } from '../test-support/raw-socket.js';

const server = useServer();
const open: RawClient[] = [];

afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function client(): Promise<RawClient> {
  const c = await RawClient.connect(server().port);
  open.push(c);
  return c;
}

/** The server still answers a fresh connection (nothing but the bad one was affected). */
async function expectServerHealthy(): Promise<void> {
  const c = await client();
  c.send(opMsg(99, { ping: 1, $db: 'admin' }));
  const reply = await c.readReply();
  expect(reply.doc.ok).toBe(1);
}

describe('framing', () => {
  it('answers the OP_QUERY handshake with OP_REPLY, then OP_MSG', async () => {
    const c = await client();
    c.send(opQuery(7, 'admin.$cmd', { ismaster: 1, helloOk: true, client: { application: { name: 'raw' } } }));
    const hello = await c.readReply();
    expect(hello.opCode).toBe(1);
    expect(hello.responseTo).toBe(7);
    expect(hello.doc).toMatchObject({ ismaster: true, helloOk: true, setName: 'rs0', ok: 1 });
    c.send(opMsg(8, { ping: 1, $db: 'admin' }));
    const ping = await c.readReply();
    expect(ping.opCode).toBe(2013);
    expect(ping.responseTo).toBe(8);
  });

  it('merges kind-1 document sequences into the command and skips a checksum', async () => {
    const c = await client();
    c.send(
      opMsg(
        1,
        { insert: 'seq', $db: 'wire' },
        { sequences: [['documents', [{ _id: 1 }, { _id: 2 }, { _id: 3 }]]], checksum: true },
      ),
    );
    expect((await c.readReply()).doc).toMatchObject({ n: 3, ok: 1 });
    c.send(opMsg(2, { count: 'seq', $db: 'wire' }));
    expect((await c.readReply()).doc).toMatchObject({ n: 3 });
  });

  it('sends no reply for moreToCome and answers later requests in order', async () => {
    const c = await client();
    const batch = Buffer.concat([
      opMsg(1, { insert: 'mtc', documents: [{ _id: 'quiet' }], $db: 'wire', writeConcern: { w: 0 } }, { flags: 2 }),
      opMsg(2, { find: 'mtc', filter: {}, $db: 'wire' }),
      opMsg(3, { ping: 1, $db: 'admin' }),
    ]);
    c.send(batch);
    const first = await c.readReply();
    const second = await c.readReply();
    expect(first.responseTo).toBe(2);
    expect((first.doc as { cursor: { firstBatch: unknown[] } }).cursor.firstBatch).toEqual([{ _id: 'quiet' }]);
    expect(second.responseTo).toBe(3);
  });

  it('reassembles a message split across many TCP writes', async () => {
    const c = await client();
    const msg = opMsg(5, { ping: 1, $db: 'admin' });
    for (let i = 0; i < msg.length; i++) c.send(msg.subarray(i, i + 1));
    expect((await c.readReply()).responseTo).toBe(5);
  });
});

describe('bad input closes only the offending connection', () => {
  const cases: [string, Buffer][] = [
    ['a negative length', rawHeader(-5, 2013, 16)],
    ['a length smaller than the header', rawHeader(8, 2013, 16)],
    ['a length above 48 MB', rawHeader(48_000_001, 2013, 16)],
    ['an unknown opCode', Buffer.concat([rawHeader(26, 9999), Buffer.alloc(10)])],
    [
      'invalid BSON',
      Buffer.concat([
        rawHeader(16 + 5 + 12, 2013),
        Buffer.from([0, 0, 0, 0, 0]),
        Buffer.from([12, 0, 0, 0, 2, 97, 0, 200, 0, 0, 0, 0]),
      ]),
    ],
    [
      'an unknown section kind',
      Buffer.concat([rawHeader(16 + 4 + 6, 2013), Buffer.alloc(4), Buffer.from([7, 5, 0, 0, 0, 0])]),
    ],
    ['an OP_MSG without a body', Buffer.concat([rawHeader(16 + 4, 2013), Buffer.alloc(4)])],
    [
      'a document length past the message end',
      Buffer.concat([rawHeader(16 + 4 + 1 + 5, 2013), Buffer.alloc(4), Buffer.from([0, 100, 0, 0, 0, 0])]),
    ],
  ];

  for (const [name, bytes] of cases) {
    it(name, async () => {
      const bystander = await client();
      const c = await client();
      c.send(bytes);
      await c.waitClosed();
      expect(c.closed).toBe(true);
      bystander.send(opMsg(1, { ping: 1, $db: 'admin' }));
      expect((await bystander.readReply()).doc.ok).toBe(1);
      await expectServerHealthy();
    });
  }

  it('a client that disconnects mid-message does not disturb the server', async () => {
    const c = await client();
    const msg = opMsg(1, { ping: 1, $db: 'admin' });
    c.send(msg.subarray(0, 10));
    c.close();
    await expectServerHealthy();
  });
});

describe('limits', () => {
  it('refuses an over-16 MiB document with BSONObjectTooLarge and keeps the connection', async () => {
    const c = await client();
    const big = { _id: 'big', pad: 'x'.repeat(16 * 1024 * 1024 + 10) };
    c.send(opMsg(1, { insert: 'big', $db: 'wire' }, { sequences: [['documents', [big, { _id: 'small' }]]] }));
    const reply = (await c.readReply(20_000)).doc as { n: number; writeErrors: { index: number; code: number }[] };
    expect(reply.n).toBe(0);
    expect(reply.writeErrors[0]).toMatchObject({ index: 0, code: 10334 });
    c.send(opMsg(2, { find: 'big', filter: {}, $db: 'wire' }));
    expect(((await c.readReply()).doc as { cursor: { firstBatch: unknown[] } }).cursor.firstBatch).toEqual([]);
  });

  it('answers an unknown command with 59 and a malformed command with an error, not a crash', async () => {
    const c = await client();
    c.send(opMsg(1, { bogusCommand: 1, $db: 'admin' }));
    expect((await c.readReply()).doc).toMatchObject({
      ok: 0,
      code: 59,
      codeName: 'CommandNotFound',
      errmsg: "no such command: 'bogusCommand'",
    });
    c.send(opMsg(2, { insert: 'x', documents: 'not-an-array', $db: 'wire' }));
    expect((await c.readReply()).doc.ok).toBe(0);
    c.send(opMsg(3, { getMore: 'nope', collection: 'x', $db: 'wire' }));
    expect((await c.readReply()).doc).toMatchObject({ ok: 0, code: 14 });
    c.send(opMsg(4, { getMore: Long.fromNumber(42), collection: 'x', $db: 'wire' }));
    expect((await c.readReply()).doc).toMatchObject({ ok: 0, code: 43, codeName: 'CursorNotFound' });
    c.send(opMsg(5, { find: 'x', filter: { a: { $where: 'x' } }, $db: 'wire' }));
    expect((await c.readReply()).doc.ok).toBe(0);
    c.send(opMsg(6, { insert: 'x', documents: [{ _id: 1 }], $db: 'wire' }));
    await c.readReply();
    c.send(opMsg(7, { update: 'x', updates: [{ q: {}, u: { $set: { a: 1 }, b: 2 } }], $db: 'wire' }));
    expect((await c.readReply()).doc).toMatchObject({ ok: 1, writeErrors: [{ index: 0 }] });
  });
});
