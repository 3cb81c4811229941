import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { useDatabaseForApps } from './support/api.js';
import { testConfig } from './support/app.js';
import type { TestClient } from './support/ws-client.js';

/*
 * Several API instances on one database, no broker. Each runs its own feed; positions are the
 * database's, so a client can move from one instance to the other and resume without a gap.
 */

const fleet = useDatabaseForApps();
const apps: App[] = [];
const urls: string[] = [];

beforeAll(async () => {
  // One config for both: the same database name, as two processes of one deployment.
  const config = testConfig(fleet.database.uri);
  for (let i = 0; i < 2; i++) {
    const { app, wsUrl } = await fleet.listening(config);
    apps.push(app);
    urls.push(wsUrl);
  }
});

function subscribe(url: string | undefined, message: Record<string, unknown> = {}): Promise<TestClient> {
  if (url === undefined) throw new Error('no such instance');
  return fleet.subscribe(url, message);
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
