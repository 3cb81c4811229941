import { MongoClient } from 'mongodb';
import { watchInserts, type EventWatcher } from './measure.js';

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
let watcher: EventWatcher | null = null;

process.on('message', (message: Start | { op: 'stop' }) => {
  if (message.op === 'stop') {
    void (async () => {
      await watcher?.close();
      await client?.close();
    })().finally(() => process.exit(0));
    return;
  }
  client = new MongoClient(message.uri, { maxPoolSize: 1 });
  watcher = watchInserts(client, message.db, message.coll, (id, at) => process.send?.({ op: 'event', id, at }));
  void watcher.ready.then(() => process.send?.({ op: 'ready' }));
});
process.on('disconnect', () => process.exit(0));
