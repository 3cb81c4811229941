import { describe, expect, it } from 'vitest';
import { startEmbeddedServer } from '@orders/mongo-embedded';
import { eventIds as ids, useApi } from './support/api.js';

/*
 * Resuming older than the hub's ring: a ring of 2 events forces replays through a temporary change stream,
 * and an engine that keeps only 40 change records makes older positions "history lost".
 */
const HISTORY = 40;

const api = useApi({
  listen: true,
  database: () => startEmbeddedServer({ host: '127.0.0.1', port: 0, changeHistoryMaxRecords: HISTORY }),
  env: { HUB_RING_SIZE: '2' },
});
const { subscribe } = api;

async function insert(ids: number[]): Promise<void> {
  for (const id of ids) {
    await api.foreignOrders().insertOne({ _id: id, customer_name: 'H', product_name: 'P', status: 'pending' });
  }
}

/** Inserts order `id` while a client watches; the position of its event (the client is closed again). */
async function positionAfter(id: number): Promise<string | null> {
  const first = await subscribe();
  await insert([id]);
  await first.waitForEvents(1);
  const since = first.lastPosition();
  await first.close();
  return since;
}

describe('resume from the database history', () => {
  it('replays events older than the ring from a change stream, then continues live without gap or duplicate', async () => {
    const since = await positionAfter(1);

    await insert([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const again = await subscribe({ since });
    expect(again.control()[0]).toMatchObject({ type: 'ready', resumed: true, position: since });
    await again.waitForEvents(9);
    await insert([11, 12]);
    await again.waitForEvents(11);
    expect(ids(again)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(api.app.realtime.stats().replaysFromHistory).toBeGreaterThanOrEqual(1);
  });

  it('applies the client filter to a replay from history', async () => {
    const since = await positionAfter(20);

    await insert([21, 22, 23]);
    await api.orders().updateOne({ _id: 22 }, { $set: { status: 'shipped' } });
    await api.orders().updateOne({ _id: 23 }, { $set: { status: 'shipped' } });
    const shipped = await subscribe({ since, filter: { status: ['shipped'] } });
    await shipped.waitForEvents(2);
    await api.orders().updateOne({ _id: 23 }, { $set: { status: 'delivered' } });
    await shipped.waitForEvents(3);
    expect(shipped.events().map((e) => [e.type, 'order' in e ? e.order.id : e.id])).toEqual([
      ['order.updated', 22],
      ['order.updated', 23],
      ['order.left', 23],
    ]);
  });

  it('answers resync (history_lost) when the history no longer reaches back, then delivers live', async () => {
    const since = await positionAfter(100);

    // The API's own feed must not fall out of the short history too (it would reset every client): a watcher
    // keeps the writes within its reach by letting the feed catch up after every few.
    const watcher = await subscribe();
    const later = Array.from({ length: HISTORY + 10 }, (_, i) => 101 + i);
    for (let from = 0; from < later.length; from += 5) {
      await insert(later.slice(from, from + 5));
      await watcher.waitForEvents(Math.min(from + 5, later.length));
    }
    const again = await subscribe({ since });
    await again.waitFor(() => again.control().length >= 2, 'resync and ready');
    expect(again.control().slice(0, 2)).toEqual([
      { type: 'resync', reason: 'history_lost' },
      expect.objectContaining({ type: 'ready', resumed: false }),
    ]);
    await insert([999]);
    await again.waitFor(() => ids(again).includes(999), 'the live event');
    expect(ids(again)).toEqual([999]);
  });

  it('answers resync (unknown_position) to a position this database never produced', async () => {
    const client = await api.connect();
    client.send({ type: 'subscribe', since: 'not-a-resume-token' });
    await client.waitFor(() => client.control().length >= 2, 'resync and ready');
    expect(client.control().slice(0, 2)).toEqual([
      { type: 'resync', reason: 'unknown_position' },
      expect.objectContaining({ type: 'ready', resumed: false }),
    ]);
  });
});
