import { MongoClient } from 'mongodb';
import { nowMs } from './measure.js';

/*
 * A change-stream consumer in its own process, as the API's feed is when the writes come from elsewhere: it opens
 * a stream on the collection the parent names, and reports each insert's `_id` with the epoch time its event
 * arrived (comparable across processes). Measuring here keeps the writers' own CPU load out of the event's path.
 */

interface Start {
  op: 'start';
  uri: string;
  db: string;
  coll: string;
}

let client: MongoClient | null = null;
let reading = true;

process.on('message', (message: Start | { op: 'stop' }) => {
  if (message.op === 'stop') {
    reading = false;
    void (client?.close() ?? Promise.resolve()).finally(() => process.exit(0));
    return;
  }
  void (async () => {
    client = new MongoClient(message.uri, { maxPoolSize: 1 });
    const stream = client
      .db(message.db)
      .collection<{ _id: number }>(message.coll)
      .watch([{ $match: { operationType: 'insert' } }]);
    // The stream is open (its aggregate answered) before the parent writes anything.
    await stream.tryNext();
    process.send?.({ op: 'ready' });
    while (reading) {
      const change = await stream.tryNext().catch(() => null);
      if (change?.operationType !== 'insert') continue;
      process.send?.({ op: 'event', id: change.documentKey._id, at: nowMs() });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
