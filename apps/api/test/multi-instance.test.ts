import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import type { AppConfig } from '../src/config.js';
import { startDatabase, testConfig, type EmbeddedDatabase } from './support/app.js';
import { startAppAsAdmin } from './support/auth.js';
import { TestClient } from './support/ws-client.js';

/*
 * Several API instances on one database, no broker. Each runs its own feed; positions are the
 * database's, so a client can move from one instance to the other and resume without a gap.
 */

let database: EmbeddedDatabase;
let config: AppConfig;
const apps: App[] = [];
const urls: string[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  database = await startDatabase();
  config = testConfig(database.uri);
  for (let i = 0; i < 2; i++) {
    const app = await startAppAsAdmin(config);
    apps.push(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    urls.push(`ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/ws`);
  }
});
afterAll(async () => {
  for (const client of clients) await client.close();
  for (const app of apps) await app.close();
  await database.close();
});

async function subscribe(url: string | undefined, message: Record<string, unknown> = {}): Promise<TestClient> {
  if (url === undefined) throw new Error('no such instance');
  const client = await TestClient.subscribe(url, message);
  clients.push(client);
  return client;
}

function post(app: App | undefined, id: number) {
  if (app === undefined) throw new Error('no such instance');
  return app.inject({ method: 'POST', url: '/orders', payload: { id, customer_name: 'M', product_name: 'P' } });
}

const ids = (client: TestClient): number[] => client.events().map((e) => ('order' in e ? e.order.id : e.id));

describe('two API instances on one database', () => {
  it('deliver every write, whichever instance took it, to clients of both', async () => {
    const onA = await subscribe(urls[0]);
    const onB = await subscribe(urls[1]);
    await post(apps[0], 1);
    await post(apps[1], 2);
    await post(apps[0], 3);
    for (const client of [onA, onB]) {
      await client.waitForEvents(3);
      expect(ids(client)).toEqual([1, 2, 3]);
    }
    expect(onA.events().map((e) => e.position)).toEqual(onB.events().map((e) => e.position));
  });

  it('let a client move from one instance to the other and resume without a gap or a duplicate', async () => {
    const onA = await subscribe(urls[0]);
    await post(apps[0], 10);
    await onA.waitForEvents(1);
    const since = onA.lastPosition();
    await onA.close();

    await post(apps[0], 11);
    await post(apps[1], 12);
    const onB = await subscribe(urls[1], { since });
    expect(onB.control()[0]).toMatchObject({ type: 'ready', resumed: true });
    await onB.waitForEvents(2);
    await post(apps[0], 13);
    await onB.waitForEvents(3);
    expect(ids(onB)).toEqual([11, 12, 13]);
  });
});
