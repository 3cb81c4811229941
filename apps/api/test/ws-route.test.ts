import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode, MAX_CLIENT_FRAME_BYTES } from '@orders/contracts';
import { registerWsRoute } from '../src/routes/ws.js';
import { FedHub, created, order, type TestHubOptions } from './support/realtime-fakes.js';
import { TestClient } from './support/ws-client.js';

/*
 * GET /ws over real sockets, with the hub fed directly (no database): liveness by ping/pong, and a client that
 * stops reading being cut off while the others keep up.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(
  hubOptions: Partial<TestHubOptions>,
  pingIntervalMs = 30_000,
): Promise<{ hub: FedHub; url: string; app: FastifyInstance }> {
  const hub = new FedHub({ maxBufferedBytes: 4 * 1024 * 1024, batchWindowMs: 5, ringSize: 100, ...hubOptions });
  const app = Fastify({ logger: false });
  await app.register(websocket, { options: { maxPayload: MAX_CLIENT_FRAME_BYTES } });
  registerWsRoute(app, { hub, pingIntervalMs, closeGraceMs: 200 });
  app.addHook('preClose', (done) => {
    hub.close();
    done();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  return { hub, app, url: `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/ws` };
}

describe('GET /ws liveness', () => {
  it('terminates a socket that stops answering pings and keeps one that answers', async () => {
    const { url } = await serve({}, 50);
    const healthy = await TestClient.subscribe(url);
    cleanups.push(() => healthy.close());
    let healthyPings = 0;
    healthy.socket.on('ping', () => (healthyPings += 1));

    const silent = new WebSocket(url, { autoPong: false });
    cleanups.push(() => silent.terminate());
    let silentPings = 0;
    silent.on('ping', () => (silentPings += 1));
    const silentClosed = new Promise<number>((resolve) => silent.on('close', (code) => resolve(code)));
    await new Promise((resolve) => silent.once('open', resolve));

    // No close frame: the server drops the TCP connection of a peer that did not answer.
    expect(await silentClosed).toBe(1006);
    expect(silentPings).toBeGreaterThanOrEqual(1);
    await healthy.waitFor(() => healthyPings >= 4, 'four pings');
    expect(healthy.closeCode).toBeNull();
  });
});

describe('GET /ws backpressure', () => {
  it('cuts off a client that stops reading once its buffer passes the cap; the others receive everything', async () => {
    const { hub, url } = await serve({ maxBufferedBytes: 256 * 1024, ringSize: 10 });
    const reader = await TestClient.subscribe(url);
    cleanups.push(() => reader.close());
    const stalled = await TestClient.subscribe(url);
    cleanups.push(() => stalled.close());
    stalled.socket.pause();

    const total = 40_000;
    const product = 'p'.repeat(200);
    for (let n = 1; n <= total; n++) {
      hub.publish(created(n, order(n, { product_name: product })));
      // Yield regularly so frames reach the sockets and the hub sees their buffers grow, as with a real feed.
      if (n % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
      if (hub.stats().slowConsumerCloses > 0 && n % 500 === 0 && n >= 5000) break;
    }
    const published = hub.stats().eventsPublished;
    await reader.waitForEvents(published, 60_000);
    expect(hub.stats().slowConsumerCloses).toBe(1);
    expect(reader.events().map((e) => e.position)).toEqual(
      Array.from({ length: published }, (_, i) => created(i + 1).position),
    );
    stalled.socket.resume();
    const code = await stalled.closed();
    // The close frame (4000) arrives if it made it out before the grace period; otherwise the drop (1006).
    expect([CloseCode.SlowConsumer, 1006]).toContain(code);
    expect(stalled.events().length).toBeLessThan(published);
    expect(hub.stats().clients).toBe(1);
  });
});
