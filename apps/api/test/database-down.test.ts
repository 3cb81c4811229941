import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedServer } from '@orders/mongo-embedded';
import type { App } from '../src/app.js';
import { closeAfterAll, json, seedOrder, startApp, testConfig, type EmbeddedDatabase } from './support/app.js';
import { actingAs, createToken } from './support/auth.js';

let database: EmbeddedDatabase | null = null;
let app: App;
let unauthenticated: App;
const closeLater = closeAfterAll();
let port: number;

beforeAll(async () => {
  database = await startEmbeddedServer({ host: '127.0.0.1', port: 0 });
  port = database.port;
  // Keep the driver's own detection quick so the test is bounded; the API's answer does not depend on it.
  unauthenticated = await startApp(
    testConfig(`mongodb://127.0.0.1:${port}/?directConnection=true&heartbeatFrequencyMS=500`, {
      MONGODB_TIMEOUT_MS: '1000',
    }),
  );
  app = actingAs(unauthenticated, await createToken(unauthenticated, 'admin'));
  closeLater(() => unauthenticated.close());
});
afterAll(async () => {
  await database?.close();
});

describe('when the database goes away', () => {
  it('fails reads and writes fast with 503 DATABASE_UNAVAILABLE, reports not ready, and recovers when it is back', async () => {
    expect((await app.inject({ method: 'POST', url: '/orders', payload: seedOrder })).statusCode).toBe(201);

    await database!.close();
    database = null;

    for (const request of [
      { method: 'GET', url: '/orders' },
      { method: 'GET', url: '/orders/200' },
      { method: 'POST', url: '/orders', payload: { ...seedOrder, id: 201 } },
      { method: 'PUT', url: '/orders/200', payload: { status: 'shipped' } },
      { method: 'DELETE', url: '/orders/200' },
    ] as const) {
      const response = await app.inject(request);
      expect(response.statusCode, `${request.method} ${request.url}`).toBe(503);
      const body = json(response);
      expect(body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'DATABASE_UNAVAILABLE',
        message: 'The database is unavailable; retry shortly',
      });
      expect(response.headers['retry-after']).toBe('1');
    }

    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(json(ready)).toMatchObject({ status: 'not_ready', checks: { database: 'unreachable' } });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    // The same address comes back (empty, as it was in memory): the API serves again without a restart.
    database = await startEmbeddedServer({ host: '127.0.0.1', port });
    // Its users and tokens went with it: the token of this test is made again once the database answers.
    let status = 0;
    for (let attempt = 0; attempt < 40 && status !== 201; attempt++) {
      const token = await createToken(unauthenticated, 'admin').catch(() => null);
      if (token !== null) {
        app = actingAs(unauthenticated, token);
        status = (await app.inject({ method: 'POST', url: '/orders', payload: { ...seedOrder, id: 202 } })).statusCode;
      }
      if (status !== 201) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(status).toBe(201);
    expect((await app.inject({ method: 'GET', url: '/orders/202' })).statusCode).toBe(200);
  });
});
