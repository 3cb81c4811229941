import { describe, expect, it } from 'vitest';

import { opMsg, RawClient } from './test-support/raw-socket.js';
import { useEngine, useServer } from './test-support/harness.js';

describe('many concurrent connections', () => {
  const engine = useEngine('conc', {}, { maxPoolSize: 50 });

  it('serves hundreds of concurrent operations over a 50-connection pool without losing any', async () => {
    const coll = engine.freshDb().collection<{ _id: number; n: number }>('c');
    await Promise.all(Array.from({ length: 500 }, (_, i) => coll.insertOne({ _id: i, n: 0 })));
    await Promise.all(Array.from({ length: 500 }, (_, i) => coll.updateOne({ _id: i % 100 }, { $inc: { n: 1 } })));
    expect(await coll.countDocuments()).toBe(500);
    const counts = await coll.find({ _id: { $lt: 100 } }).toArray();
    expect(counts.every((d) => d.n === 5)).toBe(true);
  });

  it('serves 100 raw connections at once', async () => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => RawClient.connect(engine.server.port)));
    try {
      clients.forEach((c, i) => c.send(opMsg(i + 1, { ping: 1, $db: 'admin' })));
      const replies = await Promise.all(clients.map((c) => c.readReply()));
      expect(replies.map((r) => r.responseTo)).toEqual(clients.map((_, i) => i + 1));
    } finally {
      for (const c of clients) c.close();
    }
  });
});

describe('long work yields to the event loop', () => {
  const server = useServer();

  it('a ping on another connection is answered while a large unindexed scan runs', async () => {
    const loader = await RawClient.connect(server().port);
    const scanner = await RawClient.connect(server().port);
    const pinger = await RawClient.connect(server().port);
    try {
      const docs = Array.from({ length: 60_000 }, (_, i) => ({ _id: i, v: i % 7 }));
      for (let i = 0; i < docs.length; i += 20_000) {
        loader.send(
          opMsg(i + 1, { insert: 'big', $db: 'yield' }, { sequences: [['documents', docs.slice(i, i + 20_000)]] }),
        );
        expect((await loader.readReply(20_000)).doc.n).toBe(20_000);
      }
      const order: string[] = [];
      scanner.send(opMsg(1, { count: 'big', query: { v: { $gte: 0 }, _id: { $exists: true } }, $db: 'yield' }));
      pinger.send(opMsg(2, { ping: 1, $db: 'admin' }));
      const scan = scanner.readReply(20_000).then((r) => {
        order.push('scan');
        return r;
      });
      const ping = pinger.readReply(20_000).then(() => order.push('ping'));
      const [scanReply] = await Promise.all([scan, ping]);
      expect(scanReply.doc.n).toBe(60_000);
      expect(order).toEqual(['ping', 'scan']);
    } finally {
      loader.close();
      scanner.close();
      pinger.close();
    }
  });
});
