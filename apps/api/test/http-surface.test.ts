import { afterAll, describe, expect, it } from 'vitest';
import { useApi } from './support/api.js';
import { json, makeDashboard } from './support/app.js';

let dashboard: Awaited<ReturnType<typeof makeDashboard>> | undefined;
const api = useApi({
  env: async () => {
    dashboard = await makeDashboard();
    return { WEB_DIST_DIR: dashboard.dir, CORS_ORIGIN: 'https://board.example' };
  },
});
afterAll(async () => {
  await dashboard?.remove();
});

describe('OpenAPI', () => {
  it('serves a document at /openapi.json listing every route with its responses', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const document = json(response) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths).sort()).toEqual([
      '/auth/login',
      '/auth/logout',
      '/auth/me',
      '/auth/tokens',
      '/auth/tokens/{id}',
      '/auth/users',
      '/auth/users/{id}',
      '/healthz',
      '/orders',
      '/orders/counts',
      '/orders/export.csv',
      '/orders/{id}',
      '/orders/{id}/history',
      '/readyz',
    ]);
    expect(Object.keys(document.paths['/orders/counts']!.get!.responses).sort()).toEqual(['200', '400', '503']);
    expect(Object.keys(document.paths['/orders']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(document.paths['/orders/{id}']!).sort()).toEqual(['delete', 'get', 'put']);
    expect(Object.keys(document.paths['/orders']!.post!.responses).sort()).toEqual([
      '201',
      '400',
      '409',
      '413',
      '415',
      '422',
      '503',
    ]);
    expect(Object.keys(document.paths['/orders/{id}']!.put!.responses)).toContain('412');
    expect(JSON.stringify(document.paths['/orders']!.post)).toContain('customer_name');
  });

  it('serves the browsable documentation at /docs', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/docs' });
    // swagger-ui answers /docs with its page (possibly via a redirect to /docs/).
    const page =
      response.statusCode === 302
        ? await api.app.inject({ method: 'GET', url: String(response.headers.location) })
        : response;
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body.toLowerCase()).toContain('swagger');
  });
});

describe('dashboard', () => {
  it('serves index.html at /', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.body).toContain('Orders dashboard');
  });

  it('serves built assets with long-lived caching', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/assets/app-1234.js' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('dashboard');
    expect(response.headers['cache-control']).toContain('immutable');
  });

  it('falls back to index.html for client-side routes', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/board/shipped?x=1' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Orders dashboard');
    expect(response.headers['cache-control']).toBe('no-cache');
  });

  it('answers 404 JSON, not the page, for a missing asset', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/assets/missing-999.js' });
    expect(response.statusCode).toBe(404);
    expect(json(response)).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
  });

  it('answers 404 JSON, not the page, under API paths and for other methods', async () => {
    for (const [method, url] of [
      ['GET', '/orders/12/items'],
      ['GET', '/healthz/deep'],
      ['POST', '/board'],
      ['DELETE', '/orders'],
    ] as const) {
      const response = await api.app.inject({ method, url });
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(response.headers['content-type']).toContain('application/json');
    }
  });
});

describe('health', () => {
  it('/healthz answers 200 while the process is up', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 once the database answers and the feed is open', async () => {
    for (let attempt = 0; attempt < 100 && !api.app.realtime.isFeedOpen(); attempt++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const response = await api.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ status: 'ready', checks: { database: 'ok', feed: 'open' } });
  });
});

describe('CORS', () => {
  it('allows a configured origin, exposing the headers clients need', async () => {
    const response = await api.app.inject({
      method: 'GET',
      url: '/orders',
      headers: { origin: 'https://board.example' },
    });
    expect(response.headers['access-control-allow-origin']).toBe('https://board.example');
    expect(String(response.headers['access-control-expose-headers'])).toContain('ETag');
  });

  it('answers a preflight for writes with If-Match and Idempotency-Key', async () => {
    const response = await api.app.inject({
      method: 'OPTIONS',
      url: '/orders/1',
      headers: {
        origin: 'https://board.example',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'if-match,content-type',
      },
    });
    expect(response.statusCode).toBe(204);
    expect(String(response.headers['access-control-allow-methods'])).toContain('PUT');
    expect(String(response.headers['access-control-allow-headers']).toLowerCase()).toContain('if-match');
  });

  it('gives no CORS grant to other origins', async () => {
    const response = await api.app.inject({
      method: 'GET',
      url: '/orders',
      headers: { origin: 'https://evil.example' },
    });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });
});
