import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { useApi } from './support/api.js';
import { json, testConfig } from './support/app.js';
import { startAppAsAdmin } from './support/auth.js';
import { TestClient } from './support/ws-client.js';

/*
 * Bounded work per socket and checked positions (see docs/ARCHITECTURE.md, "Abuse limits" and "Recovery and
 * replay"): a client cannot make the server replay what it already has, subscribe without limit, or resume
 * from a position the server never issued.
 */

const api = useApi({ listen: true, env: { WS_SUBSCRIBE_RATE_MAX: '6', WS_BATCH_WINDOW_MS: '0' } });

let nextId = 1;
async function create(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const id = nextId++;
    const response = await api.app.inject({
      method: 'POST',
      url: '/orders',
      payload: { id, customer_name: `Customer ${id}`, product_name: 'Mug' },
    });
    expect(response.statusCode).toBe(201);
  }
}

const readies = (client: TestClient) => client.control().filter((m) => m.type === 'ready');

describe('bounded work per socket', () => {
  it('does not replay again what the socket already has when it repeats a subscribe', async () => {
    const watcher = await api.subscribe();
    await create(1);
    await watcher.waitForEvents(1);
    const since = watcher.lastPosition();
    await create(5);
    await watcher.waitForEvents(6);

    const client = await api.subscribe({ since });
    await client.waitForEvents(5);
    for (let i = 0; i < 4; i++) client.send({ type: 'subscribe', since });
    await client.waitFor(() => readies(client).length === 5, 'five readies');
    expect(readies(client).slice(1)).toEqual(
      Array.from({ length: 4 }, () => expect.objectContaining({ type: 'ready', resumed: true }) as unknown),
    );
    // Live delivery goes on: the next write is the sixth event, and nothing was sent twice.
    await create(1);
    await client.waitForEvents(6);
    const positions = client.events().map((e) => e.position);
    expect(new Set(positions).size).toBe(positions.length);
    expect(positions).toEqual(
      watcher
        .events()
        .slice(1)
        .map((e) => e.position),
    );
  });

  it('answers subscribes past the per-socket limit with an error, then closes with 1008', async () => {
    const client = await api.subscribe();
    for (let i = 0; i < 6; i++) client.send({ type: 'subscribe', filter: { status: [i % 2 ? 'pending' : 'shipped'] } });
    expect(await client.closed()).toBe(1008);
    expect(readies(client)).toHaveLength(6);
    expect(client.control().at(-1)).toMatchObject({ type: 'error', code: 'RATE_LIMITED' });
  });
});

describe('replay budget', () => {
  let limitedApp: App;
  let limitedUrl: string;
  beforeAll(async () => {
    limitedApp = await startAppAsAdmin(
      testConfig(api.database.uri, { WS_REPLAY_BUDGET_BYTES: '2000', WS_BATCH_WINDOW_MS: '0' }),
    );
    await limitedApp.listen({ port: 0, host: '127.0.0.1' });
    limitedUrl = `ws://127.0.0.1:${(limitedApp.server.address() as AddressInfo).port}/ws`;
  });
  afterAll(async () => {
    await limitedApp.close();
  });

  async function subscribeLimited(message: Record<string, unknown>): Promise<TestClient> {
    return api.closeAfterTest(await TestClient.subscribe(limitedUrl, message));
  }

  async function createLimited(id: number): Promise<void> {
    const response = await limitedApp.inject({
      method: 'POST',
      url: '/orders',
      payload: { id, customer_name: `Customer ${id}`, product_name: 'Mug' },
    });
    expect(response.statusCode).toBe(201);
  }

  it('resumes a client back from a blip without a gap, and resyncs one reconnecting in a loop (replay_limited)', async () => {
    const watcher = await subscribeLimited({});
    for (let id = 1; id <= 3; id++) await createLimited(id);
    await watcher.waitForEvents(3);
    const positions = watcher.events().map((e) => e.position);
    const since = positions[0];

    const back = await subscribeLimited({ since });
    await back.waitForEvents(2);
    expect(readies(back)).toEqual([expect.objectContaining({ resumed: true })]);
    expect(back.events().map((e) => e.position)).toEqual(positions.slice(1));

    // The same old position again and again, on new sockets: once the budget is spent, no replay at all.
    let limited: TestClient | null = null;
    for (let attempt = 0; attempt < 20 && limited === null; attempt++) {
      const client = await subscribeLimited({ since });
      if (client.control().some((m) => m.type === 'resync')) limited = client;
      else await client.waitForEvents(2);
    }
    expect(limited?.control()).toEqual([
      { type: 'resync', reason: 'replay_limited' },
      { type: 'ready', protocol: 1, position: positions[2], resumed: false },
    ]);
    expect(limited?.events()).toEqual([]);
    // It reads its list again and carries on live.
    await createLimited(4);
    await limited?.waitForEvents(1);
    expect(limited?.events().map((e) => e.type)).toEqual(['order.created']);
  });
});

describe('positions are checked', () => {
  /** A position with its 16-hex-digit time field (seconds in the high 32 bits) moved by `seconds`. */
  function shiftedTime(position: string, seconds: number): string {
    const time = BigInt(`0x${position.slice(2, 18)}`) + (BigInt(seconds) << 32n);
    return `${position.slice(0, 2)}${time.toString(16).toUpperCase().padStart(16, '0')}${position.slice(18)}`;
  }
  /** A position with its sequence field moved by `delta`, the time kept. */
  function shiftedSequence(position: string, delta: number): string {
    const sequence = BigInt(`0x${position.slice(18, 34)}`) + BigInt(delta);
    return `${position.slice(0, 18)}${sequence.toString(16).toUpperCase().padStart(16, '0')}${position.slice(34)}`;
  }

  it('resyncs with unknown_position for a real position altered in any way, and resumes from the real one', async () => {
    const watcher = await api.subscribe();
    await create(3);
    await watcher.waitForEvents(3);
    const real = watcher.events()[1]?.position ?? '';
    expect(real).toMatch(/^[0-9A-F]{36}$/);

    const forged = {
      'lower-cased': real.toLowerCase(),
      '00 appended': `${real}00`,
      'cut short': real.slice(0, -2),
      'a day later': shiftedTime(real, 86_400),
      'a second earlier': shiftedTime(real, -1),
      'sequence + 1000': shiftedSequence(real, 1000),
      'sequence - 1, same time': shiftedSequence(real, -1),
      'not hex': 'not-a-position',
    };
    for (const [how, since] of Object.entries(forged)) {
      const client = await api.subscribe({ since });
      expect(client.control(), how).toEqual([
        { type: 'resync', reason: 'unknown_position' },
        expect.objectContaining({ type: 'ready', resumed: false }),
      ]);
    }

    const resumed = await api.subscribe({ since: real });
    expect(resumed.control()[0]).toMatchObject({ type: 'ready', resumed: true, position: real });
    await resumed.waitForEvents(1);
    expect(resumed.events().map((e) => e.position)).toEqual([watcher.events()[2]?.position]);
  });

  it('resumes from the position GET /orders handed out, even between events', async () => {
    await create(2);
    const listed = await api.app.inject({ method: 'GET', url: '/orders?limit=1' });
    const position = json(listed).position as string;
    const client = await api.subscribe({ since: position });
    expect(client.control()[0]).toMatchObject({ type: 'ready', resumed: true });
  });
});
