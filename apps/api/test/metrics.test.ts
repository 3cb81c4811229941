import { describe, expect, it, vi } from 'vitest';
import { request } from 'node:http';
import { useApi } from './support/api.js';
import { json } from './support/app.js';

const TOKEN = 'metrics-test-token-0123456789';
const api = useApi({ listen: true, env: { METRICS_TOKEN: TOKEN } });
const portApi = useApi({ env: { METRICS_PORT: '0' } });

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

/** Parses the Prometheus text exposition format (version 0.0.4) back into metric families. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const familyOf = (sample: string): Family | undefined => {
    for (const suffix of ['', '_bucket', '_sum', '_count', '_created']) {
      if (suffix !== '' && !sample.endsWith(suffix)) continue;
      const family = families.get(sample.slice(0, sample.length - suffix.length));
      if (family !== undefined) return family;
    }
    return undefined;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const family = families.get(name) ?? { name, type: '', help: '', samples: [] };
      if (kind === 'HELP') family.help = rest;
      else family.type = rest;
      families.set(name, family);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(sample, `an exposition line: ${line}`).not.toBeNull();
    const [, name, labelText, value] = sample as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    for (const match of (labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[match[1]!] = match[2]!;
    }
    const family = familyOf(name);
    expect(family, `a sample of a declared family: ${name}`).toBeDefined();
    family?.samples.push({ name, labels, value: Number(value) });
  }
  return families;
}

function value(families: Map<string, Family>, sample: string, labels: Record<string, string> = {}): number {
  for (const family of families.values()) {
    for (const candidate of family.samples) {
      if (candidate.name !== sample) continue;
      if (Object.entries(labels).every(([key, wanted]) => candidate.labels[key] === wanted)) return candidate.value;
    }
  }
  return Number.NaN;
}

async function scrape(): Promise<Map<string, Family>> {
  const response = await api.app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toContain('text/plain');
  return parseExposition(response.body);
}

describe('GET /metrics', () => {
  it('is refused without the bearer token, or with another one', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, TOKEN, `Basic ${TOKEN}`]) {
      const response = await api.app.inject({
        method: 'GET',
        url: '/metrics',
        ...(authorization !== undefined && { headers: { authorization } }),
      });
      expect(response.statusCode).toBe(401);
      expect(json(response)).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(response.body).not.toContain('orders_');
    }
  });

  it('counts a scripted sequence of requests and events exactly', async () => {
    const before = await scrape();
    const client = await api.subscribe();
    for (const id of [1, 2, 3]) {
      expect((await api.post({ id, customer_name: 'Ann', product_name: 'Mug' })).statusCode).toBe(201);
    }
    expect((await api.post({ id: 1, customer_name: 'Ann', product_name: 'Mug' })).statusCode).toBe(409);
    expect((await api.put(2, { status: 'shipped' })).statusCode).toBe(200);
    expect((await api.app.inject({ method: 'GET', url: '/orders/1' })).statusCode).toBe(200);
    expect((await api.app.inject({ method: 'GET', url: '/orders/abc' })).statusCode).toBe(400);
    expect((await api.app.inject({ method: 'GET', url: '/no/such/route/42' })).statusCode).toBe(404);
    await client.waitForEvents(4);
    await vi.waitFor(() => expect(api.app.realtime.historyPending()).toBe(0), { timeout: 10_000 });

    const after = await scrape();
    const delta = (sample: string, labels: Record<string, string> = {}): number =>
      value(after, sample, labels) - (Number.isNaN(value(before, sample, labels)) ? 0 : value(before, sample, labels));
    const http = (method: string, route: string, statusClass: string) => ({ method, route, status_class: statusClass });
    expect(delta('orders_http_requests_total', http('POST', '/orders', '2xx'))).toBe(3);
    expect(delta('orders_http_requests_total', http('POST', '/orders', '4xx'))).toBe(1);
    expect(delta('orders_http_requests_total', http('PUT', '/orders/:id', '2xx'))).toBe(1);
    expect(delta('orders_http_requests_total', http('GET', '/orders/:id', '2xx'))).toBe(1);
    expect(delta('orders_http_requests_total', http('GET', '/orders/:id', '4xx'))).toBe(1);
    expect(delta('orders_http_requests_total', http('GET', 'unmatched', '4xx'))).toBe(1);
    // The first scrape was answered (and counted) before the second.
    expect(delta('orders_http_requests_total', http('GET', '/metrics', '2xx'))).toBe(1);
    expect(delta('orders_http_request_duration_seconds_count', http('POST', '/orders', '2xx'))).toBe(3);
    expect(delta('orders_events_published_total')).toBe(4);
    expect(delta('orders_ws_deliveries_total')).toBe(4);
    expect(value(after, 'orders_ws_connections')).toBe(1);
    expect(value(after, 'orders_ws_subscriptions')).toBe(1);
    expect(delta('orders_ws_sent_bytes_total')).toBeGreaterThan(0);
    expect(delta('orders_fanout_batch_events_sum')).toBe(4);
    expect(delta('orders_feed_lag_seconds_count')).toBe(4);
    expect(delta('orders_history_write_lag_seconds_count')).toBe(4);
    expect(value(after, 'orders_history_pending_changes')).toBe(0);
    expect(value(after, 'orders_database_up')).toBe(1);
    expect(value(after, 'orders_ws_resyncs_total', { reason: 'history_lost' })).toBe(0);
    expect(value(after, 'orders_ws_replays_total', { source: 'ring' })).toBe(0);

    // A client resuming from a position the ring holds is a replay from the ring.
    const position = client.lastPosition();
    await client.close();
    const resumed = await api.subscribe({ since: position });
    await resumed.waitFor(() => resumed.control().some((message) => message.type === 'ready'), 'ready');
    expect(value(await scrape(), 'orders_ws_replays_total', { source: 'ring' })).toBe(1);
    // A position this server never issued answers a resync, counted by its reason.
    const lost = await api.subscribe({ since: '00' });
    await lost.waitFor(() => lost.control().some((message) => message.type === 'resync'), 'resync');
    const resyncs = await scrape();
    const reasons = ['history_lost', 'invalidated', 'unknown_position', 'feed_reset', 'replay_limited'];
    expect(reasons.reduce((sum, reason) => sum + value(resyncs, 'orders_ws_resyncs_total', { reason }), 0)).toBe(1);
  });

  it('follows the Prometheus naming conventions, with bounded labels and the Node process metrics', async () => {
    const families = await scrape();
    const ours = [...families.values()].filter((family) => family.name.startsWith('orders_'));
    expect(ours.length).toBeGreaterThanOrEqual(18);
    for (const family of ours) {
      expect(family.name).toMatch(/^orders_[a-z0-9_]+$/);
      expect(family.help.length, `${family.name} has help`).toBeGreaterThan(0);
      expect(['counter', 'gauge', 'histogram']).toContain(family.type);
      if (family.type === 'counter') expect(family.name).toMatch(/_total$/);
      else expect(family.name).not.toMatch(/_total$/);
      if (family.type === 'histogram') {
        expect(family.name).toMatch(/_(seconds|bytes|events)$/);
        const infinite = family.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.le === '+Inf');
        const counts = family.samples.filter((s) => s.name.endsWith('_count'));
        expect(infinite.map((s) => s.value)).toEqual(counts.map((s) => s.value));
      }
      expect(family.name).not.toMatch(/_(milliseconds|ms|kilobytes)(_|$)/);
      for (const sample of family.samples) {
        for (const label of Object.keys(sample.labels)) {
          expect(['method', 'route', 'status_class', 'reason', 'source', 'le']).toContain(label);
        }
        if (sample.labels.status_class !== undefined) expect(sample.labels.status_class).toMatch(/^[1-5]xx$/);
        if (sample.labels.route !== undefined) expect(sample.labels.route).not.toMatch(/\d/);
      }
    }
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_cpu_seconds_total']) {
      expect(families.has(name), name).toBe(true);
    }
  });

  it('is served on METRICS_PORT at 127.0.0.1 without a token, and not on the API port', async () => {
    const port = portApi.app.metrics.port();
    expect(port).not.toBeNull();
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: port ?? 0, path }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(parseExposition(metrics.body).has('orders_http_requests_total')).toBe(true);
    expect((await get('/orders')).status).toBe(404);
    const onApiPort = await portApi.app.inject({ method: 'GET', url: '/metrics' });
    expect(onApiPort.statusCode).toBe(404);
  });
});
