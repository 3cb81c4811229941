import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Int32, Long } from 'bson';
import { afterEach, describe, expect, it } from 'vitest';
import { openChangeStream } from '../changestream/index.js';
import type { Doc } from '../query/index.js';
import { Journal } from '../storage/journal.js';
import { Store } from '../storage/store.js';
import { OP_MSG } from '../wire/protocol.js';
import { Dispatcher } from './dispatcher.js';

// A consumer waiting on a change stream learns of a write no later than the writer learns it was acknowledged:
// the getMore that a commit wakes answers before that commit's acknowledgement is released. The order is decided
// inside the engine (microtasks against the next check phase), so it is asserted here without sockets or timing.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function engine(durable: boolean): Promise<Dispatcher> {
  let journal: Journal | undefined;
  if (durable) {
    const dir = await mkdtemp(join(tmpdir(), 'publish-order-'));
    journal = (await Journal.open({ dir })).journal;
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  }
  const store = new Store({ changeHistoryMaxRecords: 1000, ...(journal ? { journal } : {}) });
  cleanups.push(() => store.close());
  return new Dispatcher({
    store,
    info: { address: '127.0.0.1:1', host: '127.0.0.1', port: 1, setName: 'rs0', dbPath: null, startedAt: new Date() },
    openChangeStream: (log, spec) => openChangeStream(log, spec),
    logger: { error: () => undefined, warn: () => undefined },
  });
}

let requestId = 1;
function command(dispatcher: Dispatcher, connectionId: number, body: Doc): Promise<Doc> {
  return dispatcher
    .handle({
      connectionId,
      request: { requestId: requestId++, opCode: OP_MSG, body, moreToCome: false, largestDocumentSize: 0, bodySize: 0 },
      signal: new AbortController().signal,
    })
    .then((reply) => {
      if (typeof reply === 'symbol') throw new Error('the engine closed the connection');
      return reply;
    });
}

describe.each([
  ['in memory', false],
  ['with a journal', true],
])('change event before acknowledgement (%s)', (_, durable) => {
  it('answers a waiting getMore with the insert before the insert is acknowledged', async () => {
    const dispatcher = await engine(durable);
    await command(dispatcher, 1, { create: 'orders', $db: 'shop' });
    const opened = await command(dispatcher, 1, {
      aggregate: 'orders',
      pipeline: [{ $changeStream: {} }],
      cursor: {},
      $db: 'shop',
    });
    const cursorId = (opened.cursor as Doc).id as Long;
    expect(cursorId.isZero()).toBe(false);

    const order: string[] = [];
    const waiting = command(dispatcher, 1, {
      getMore: cursorId,
      collection: 'orders',
      maxTimeMS: 10_000,
      $db: 'shop',
    }).then((reply) => {
      order.push('event');
      return reply;
    });
    const acknowledged = command(dispatcher, 2, {
      insert: 'orders',
      documents: [{ _id: new Int32(1), status: 'pending' }],
      $db: 'shop',
    }).then((reply) => {
      order.push('ack');
      return reply;
    });

    const [event, ack] = await Promise.all([waiting, acknowledged]);
    expect(ack).toMatchObject({ ok: 1, n: 1 });
    const batch = (event.cursor as Doc).nextBatch as Doc[];
    expect(batch.map((e) => [e.operationType, (e.fullDocument as Doc).status])).toEqual([['insert', 'pending']]);
    expect(order).toEqual(['event', 'ack']);

    await command(dispatcher, 1, { killCursors: 'orders', cursors: [cursorId], $db: 'shop' });
  });
});
