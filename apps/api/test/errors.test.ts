import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { useApi } from './support/api.js';
import { captureLog, json } from './support/app.js';

const { stream, lines: logLines } = captureLog();
const api = useApi({
  build: (config) => {
    const app = buildApp(config, { logger: { level: 'info', stream } });
    // A route that fails the way a bug would, to show what a client and the log each get.
    app.get('/orders-broken', { config: { access: 'public' } }, () => {
      throw new Error('secret internals: mongodb://admin:pw@10.1.2.3 at Repo.list (/srv/repo.js:12)');
    });
    return app;
  },
});

describe('the error handler', () => {
  it('answers a 500 without the internal message, and logs it with the request context', async () => {
    const response = await api.app.inject({
      method: 'GET',
      url: '/orders-broken',
      headers: { 'user-agent': 'error-test' },
    });
    expect(response.statusCode).toBe(500);
    expect(json(response)).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      code: 'INTERNAL_ERROR',
      message: 'Internal server error',
    });
    expect(response.body).not.toContain('secret');

    const logged = logLines.find((line) => line.msg === 'request failed');
    expect(logged).toBeDefined();
    expect(logged).toMatchObject({ level: 50, statusCode: 500, code: 'INTERNAL_ERROR' });
    expect(typeof logged!.reqId).toBe('string');
    expect(JSON.stringify(logged!.err)).toContain('secret internals');
  });

  it('logs a rejected request at info with its code and field', async () => {
    const response = await api.app.inject({
      method: 'POST',
      url: '/orders',
      payload: { id: 1, customer_name: 'A', product_name: 'B', status: 'lost' },
    });
    expect(response.statusCode).toBe(400);
    expect(logLines.find((line) => line.msg === 'request rejected')).toMatchObject({
      level: 30,
      code: 'VALIDATION_FAILED',
      field: 'body/status',
    });
  });
});

describe('GET /orders and the feed position', () => {
  it('takes the position before reading the orders, so no change can fall between them', async () => {
    const calls: string[] = [];
    const realtime = api.app.realtime;
    const originalPosition = realtime.position.bind(realtime);
    const orders = api.app.mongo.orders;
    const originalFind = orders.find.bind(orders);
    realtime.position = () => {
      calls.push('position');
      return originalPosition();
    };
    orders.find = ((...args: Parameters<typeof originalFind>) => {
      calls.push('find');
      return originalFind(...args);
    }) as typeof orders.find;
    try {
      expect((await api.app.inject({ method: 'GET', url: '/orders' })).statusCode).toBe(200);
    } finally {
      realtime.position = originalPosition;
      orders.find = originalFind;
    }
    expect(calls).toEqual(['position', 'find']);
  });
});
