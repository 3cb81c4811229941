import { describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { CloseCode, MAX_CLIENT_FRAME_BYTES } from '@orders/contracts';
import { summary, useApi } from './support/api.js';
import { startDatabase, testConfig } from './support/app.js';
import { startAppAsAdmin } from './support/auth.js';
import { TestClient } from './support/ws-client.js';

const api = useApi({ listen: true });
const { subscribe, connect, post, put } = api;

describe('GET /ws: every write becomes one event for every client', () => {
  it('delivers inserts, updates, replaces and deletes, made through the API and directly through the driver, in commit order', async () => {
    const all = await Promise.all([subscribe(), subscribe(), subscribe()]);
    const orders = api.orders();

    expect((await post({ id: 101, customer_name: 'Ann', product_name: 'Mug' })).statusCode).toBe(201);
    expect((await put(101, { status: 'shipped' })).statusCode).toBe(200);
    // Directly through the driver, bypassing the API; the document lacks the server-stamped fields.
    await api.foreignOrders().insertOne({ _id: 102, customer_name: 'Bo', product_name: 'Pen', status: 'pending' });
    await orders.updateOne({ _id: 102 }, { $set: { status: 'delivered' } });
    await orders.replaceOne(
      { _id: 101 },
      {
        customer_name: 'Ann',
        product_name: 'Cup',
        status: 'delivered',
        created_at: new Date(),
        updated_at: new Date(),
        version: 7,
      },
    );
    expect((await api.app.inject({ method: 'DELETE', url: '/orders/101' })).statusCode).toBe(204);
    await orders.deleteOne({ _id: 102 });

    const expected = [
      ['order.created', 101, 1],
      ['order.updated', 101, 2],
      ['order.created', 102, 1],
      ['order.updated', 102, 1],
      ['order.updated', 101, 7],
      ['order.deleted', 101, null],
      ['order.deleted', 102, null],
    ];
    for (const client of all) {
      await client.waitForEvents(expected.length);
      expect(client.events().map(summary)).toEqual(expected);
      const positions = client.events().map((event) => event.position);
      expect([...positions].sort()).toEqual(positions);
      expect(new Set(positions).size).toBe(positions.length);
    }
    const [first] = all;
    expect(first.events()[3]).toMatchObject({
      type: 'order.updated',
      order: { id: 102, status: 'delivered', product_name: 'Pen' },
    });
    expect(first.events()[4]).toMatchObject({ order: { product_name: 'Cup', status: 'delivered' } });
  });

  it('delivers 1,000 rapid writes to one order in order, each as its own version, ending at the stored state', async () => {
    const client = await subscribe();
    expect((await post({ id: 200, customer_name: 'Rapid', product_name: 'Fire' })).statusCode).toBe(201);
    const statuses = ['pending', 'shipped', 'delivered'] as const;
    // Ten concurrent writers, 100 writes each: the database, not the test, decides the commit order.
    await Promise.all(
      Array.from({ length: 10 }, async (_, writer) => {
        for (let i = 0; i < 100; i++) {
          const response = await put(200, { status: statuses[(writer + i) % 3] });
          expect(response.statusCode).toBe(200);
        }
      }),
    );
    await client.waitForEvents(1001, 30_000);
    const versions = client.events().map((event) => ('order' in event ? event.order.version : -1));
    expect(versions).toEqual(Array.from({ length: 1001 }, (_, i) => i + 1));
    const stored = (await api.app.inject({ method: 'GET', url: '/orders/200' })).json<Record<string, unknown>>();
    const last = client.events().at(-1);
    expect(last && 'order' in last ? last.order : null).toEqual(stored);
  });

  it('keeps delivering to the other clients when one disconnects mid-stream', async () => {
    const stays = await subscribe();
    const leaves = await subscribe();
    await api.foreignOrders().insertMany(
      Array.from({ length: 50 }, (_, i) => ({
        _id: 300 + i,
        customer_name: 'C',
        product_name: 'P',
        status: 'pending',
      })),
    );
    await leaves.waitForEvents(1);
    leaves.socket.terminate();
    await api.orders().deleteMany({ _id: { $gte: 300, $lt: 350 } });
    await stays.waitForEvents(100);
    expect(stays.events().map((e) => e.type)).toEqual([
      ...Array.from({ length: 50 }, () => 'order.created'),
      ...Array.from({ length: 50 }, () => 'order.deleted'),
    ]);
  });
});

describe('GET /ws: filters', () => {
  it('sends only matching orders and order.left when one leaves the filter', async () => {
    const pending = await subscribe({ filter: { status: ['pending'], customer: 'ZED' } });
    await post({ id: 400, customer_name: 'zed corp', product_name: 'X' });
    await post({ id: 401, customer_name: 'Someone else', product_name: 'X' });
    await put(400, { status: 'shipped' });
    await put(400, { status: 'pending' });
    await pending.waitForEvents(3);
    expect(pending.events().map(summary)).toEqual([
      ['order.created', 400, 1],
      ['order.left', 400, null],
      ['order.updated', 400, 3],
    ]);
  });
});

describe('GET /ws: resuming', () => {
  it('replays exactly the missed events to a client that reconnects with since', async () => {
    const first = await subscribe();
    await post({ id: 500, customer_name: 'R', product_name: 'S' });
    await first.waitForEvents(1);
    const since = first.lastPosition();
    await first.close();

    await put(500, { status: 'shipped' });
    await api.orders().updateOne({ _id: 500 }, { $set: { product_name: 'T' }, $inc: { version: 1 } });
    await put(500, { status: 'delivered' });

    const again = await subscribe({ since });
    expect(again.control()[0]).toEqual({ type: 'ready', protocol: 1, position: since, resumed: true });
    await again.waitForEvents(3);
    await api.app.inject({ method: 'DELETE', url: '/orders/500' });
    await again.waitForEvents(4);
    expect(again.events().map(summary)).toEqual([
      ['order.updated', 500, 2],
      ['order.updated', 500, 3],
      ['order.updated', 500, 4],
      ['order.deleted', 500, null],
    ]);
  });

  it('loses nothing between GET /orders and a subscription since its position', async () => {
    await post({ id: 600, customer_name: 'Snap', product_name: 'Shot' });
    const listing = (await api.app.inject({ method: 'GET', url: '/orders' })).json<{ position: string | null }>();
    expect(listing.position).not.toBeNull();
    // Writes between the snapshot and the subscription.
    await put(600, { status: 'shipped' });
    await post({ id: 601, customer_name: 'Snap', product_name: 'Two' });
    const client = await subscribe({ since: listing.position });
    await client.waitForEvents(2);
    expect(client.events().map(summary)).toEqual([
      ['order.updated', 600, 2],
      ['order.created', 601, 1],
    ]);
  });
});

describe('GET /ws: bad input', () => {
  it('answers invalid frames with an error, closes 1009 on a frame over 64 KiB, and other clients are unaffected', async () => {
    const bystander = await subscribe();
    const bad = await connect();
    bad.send('this is not json');
    bad.send({ type: 'subscribe', filter: { status: ['lost'] } });
    await bad.waitFor(() => bad.control().length >= 2, 'two error frames');
    expect(bad.control()).toEqual([
      { type: 'error', code: 'BAD_MESSAGE', message: 'frame is not valid JSON' },
      expect.objectContaining({ type: 'error', code: 'BAD_MESSAGE' }),
    ]);
    expect(bad.closeCode).toBeNull();
    bad.send('x'.repeat(MAX_CLIENT_FRAME_BYTES + 1));
    expect(await bad.closed()).toBe(CloseCode.MessageTooBig);

    await post({ id: 700, customer_name: 'Still', product_name: 'Here' });
    await bystander.waitForEvents(1);
    expect(bystander.events()[0]).toMatchObject({ type: 'order.created', order: { id: 700 } });
  });

  it('closes with 1002 after repeated invalid frames', async () => {
    const bad = await connect();
    for (let i = 0; i < 10; i++) bad.send('{');
    expect(await bad.closed()).toBe(CloseCode.ProtocolError);
  });
});

describe('GET /ws: shutdown', () => {
  it('closes every socket with 1001 when the app closes', async () => {
    const ownDatabase = await startDatabase();
    const ownApp = await startAppAsAdmin(testConfig(ownDatabase.uri));
    try {
      await ownApp.listen({ port: 0, host: '127.0.0.1' });
      const ownUrl = `ws://127.0.0.1:${(ownApp.server.address() as AddressInfo).port}/ws`;
      const sockets = await Promise.all([TestClient.subscribe(ownUrl), TestClient.subscribe(ownUrl)]);
      sockets.forEach(api.closeAfterTest);
      await ownApp.close();
      for (const socket of sockets) expect(await socket.closed()).toBe(CloseCode.GoingAway);
      expect(ownApp.realtime.isFeedOpen()).toBe(false);
    } finally {
      await ownApp.close();
      await ownDatabase.close();
    }
  });
});
