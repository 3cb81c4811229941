import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp, type App } from '../src/app.js';
import { useDatabaseForApps, type ListeningApp } from './support/api.js';
import { json, makeDashboard, seedOrder, testConfig } from './support/app.js';
import { RawConnection, clientFrame, upgradeRequest } from './support/raw-connection.js';
import { bearer, createToken, credentialsFor, rawAuthorization } from './support/auth.js';
import { TestClient } from './support/ws-client.js';

/*
 * The limits every client lives under (see docs/ARCHITECTURE.md, "Abuse limits"): time to send a request or a
 * frame, requests and connections per client, security headers, and strict text at every door. Limits are set
 * short or low here so each is reached quickly; the assertions are about what the client gets, never timings.
 */

const fleet = useDatabaseForApps();
const connections: RawConnection[] = [];

afterEach(() => {
  for (const connection of connections.splice(0)) connection.destroy();
});

function listening(env: Record<string, string> = {}): Promise<ListeningApp> {
  return fleet.listening(testConfig(fleet.database.uri, env));
}

async function open(port: number): Promise<RawConnection> {
  const connection = await RawConnection.open(port);
  connections.push(connection);
  return connection;
}

async function wsClient(port: number): Promise<TestClient> {
  return fleet.closeAfterTest(await TestClient.connect(`ws://127.0.0.1:${port}/ws`));
}

async function storedCount(app: App): Promise<number> {
  return app.mongo.orders.countDocuments({});
}

/**
 * Sends a request made of `before`, the raw `bytes` and `after` on a new connection to `port`, and waits until the
 * server closes it.
 */
async function sendBytes(
  port: number,
  before: string,
  bytes: Buffer | number[],
  after: string,
): Promise<RawConnection> {
  const connection = await open(port);
  connection.write(Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]));
  await connection.waitClosed();
  return connection;
}

/** The close code in the first close frame (opcode 8) the server sent after its 101 response, or null. */
function serverCloseCode(received: Buffer): number | null {
  const headerEnd = received.indexOf('\r\n\r\n');
  let offset = headerEnd + 4;
  while (offset + 2 <= received.length) {
    const opcode = (received[offset] ?? 0) & 0x0f;
    let length = (received[offset + 1] ?? 0) & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      length = received.readUInt16BE(offset + 2);
      start += 2;
    }
    if (opcode === 0x8) return length >= 2 ? received.readUInt16BE(start) : null;
    offset = start + length;
  }
  return null;
}

describe('timeouts', () => {
  let app: App;
  let port: number;
  beforeAll(async () => {
    ({ app, port } = await listening({
      HTTP_HEADERS_TIMEOUT_MS: '300',
      HTTP_REQUEST_TIMEOUT_MS: '600',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '300',
      WS_FRAME_TIMEOUT_MS: '300',
    }));
  });

  it('cuts a POST whose body arrives one byte at a time, answers 408 and stores nothing', async () => {
    const connection = await open(port);
    const body = JSON.stringify({ ...seedOrder, customer_name: 'S'.repeat(150) });
    connection.write(
      `POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\n${rawAuthorization(port)}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    while (sent < body.length && connection.write(body.slice(sent, sent + 1))) {
      sent += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await connection.waitClosed();
    expect(sent).toBeLessThan(body.length);
    expect(connection.status()).toBe(408);
    expect(await storedCount(app)).toBe(0);
  });

  it('cuts a request whose headers never end, with 408', async () => {
    const connection = await open(port);
    connection.write('GET /orders HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let headers = 0;
    while (headers < 400 && connection.write(`X-Slow-${headers}: x\r\n`)) {
      headers += 1;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await connection.waitClosed();
    expect(headers).toBeLessThan(400);
    expect(connection.status()).toBe(408);
  });

  it('closes an idle keep-alive connection after answering it', async () => {
    const connection = await open(port);
    connection.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    await connection.waitClosed();
    expect(connection.status()).toBe(200);
    expect(connection.text()).toContain('{"status":"ok"}');
  });

  it('cuts a WebSocket that sends half a frame with close 1008, while a client sending whole frames stays', async () => {
    const healthy = await wsClient(port);
    healthy.send({ type: 'subscribe' });
    await healthy.waitFor(() => healthy.control().some((m) => m.type === 'ready'), 'ready');

    const connection = await open(port);
    connection.write(upgradeRequest('/ws', rawAuthorization(port)));
    await expect.poll(() => connection.status()).toBe(101);
    const frame = clientFrame(0x1, Buffer.from(JSON.stringify({ type: 'subscribe' })));
    // The 2-byte header, the mask and part of the payload: the frame never completes.
    connection.write(frame.subarray(0, 10));
    await connection.waitClosed();
    expect(serverCloseCode(connection.received)).toBe(1008);

    expect(healthy.closeCode).toBeNull();
    healthy.send({ type: 'subscribe' });
    await healthy.waitFor(() => healthy.control().filter((m) => m.type === 'ready').length === 2, 'second ready');
  });

  it('accepts a frame split across writes when the rest arrives', async () => {
    const connection = await open(port);
    connection.write(upgradeRequest('/ws', rawAuthorization(port)));
    await expect.poll(() => connection.status()).toBe(101);
    const frame = clientFrame(0x1, Buffer.from(JSON.stringify({ type: 'subscribe' })));
    connection.write(frame.subarray(0, 5));
    connection.write(frame.subarray(5));
    await expect.poll(() => connection.received.toString('utf8')).toContain('"type":"ready"');
    expect(connection.closed).toBe(false);
  });
});

describe('rate limits', () => {
  it('answers 429 past the limit with Retry-After and RateLimit headers; the probes are never limited', async () => {
    const { app } = await listening({
      RATE_LIMIT_MAX: '5',
      RATE_LIMIT_ADDRESS_MAX: '6',
      RATE_LIMIT_IN_FLIGHT: '1',
      RATE_LIMIT_WINDOW_MS: '60000',
    });
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await app.inject({ method: 'GET', url: '/orders' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['ratelimit-limit']).toBe('5');
      remaining.push(String(response.headers['ratelimit-remaining']));
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);

    const limited = await app.inject({ method: 'POST', url: '/orders', payload: seedOrder });
    expect(limited.statusCode).toBe(429);
    expect(json(limited)).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    expect(await storedCount(app)).toBe(0);

    const probes = await Promise.all(Array.from({ length: 20 }, () => app.inject({ method: 'GET', url: '/healthz' })));
    expect(probes.map((probe) => probe.statusCode)).toEqual(Array.from({ length: 20 }, () => 200));
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('counts WebSocket connection attempts per client and refuses the excess before the upgrade', async () => {
    const { port } = await listening({ WS_CONNECT_RATE_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' });
    await wsClient(port);
    await wsClient(port);
    const connection = await open(port);
    connection.write(upgradeRequest('/ws', rawAuthorization(port)));
    await connection.waitClosed();
    expect(connection.status()).toBe(429);
    expect(connection.text()).not.toContain(' 101 ');
    expect(connection.text().toLowerCase()).toContain('retry-after:');
  });

  it('counts anonymous and failed requests per forwarded address before any credential is looked up', async () => {
    const { app } = await listening({ RATE_LIMIT_ADDRESS_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000', TRUST_PROXY: '1' });
    const lookups = vi.spyOn(app.auth.service.tokens, 'resolve');
    const bogus = (address: string) =>
      app.inject({
        method: 'GET',
        url: '/orders',
        headers: { 'x-forwarded-for': address, authorization: `Bearer ${'x'.repeat(40)}` },
      });
    for (let i = 0; i < 3; i++) expect((await bogus('203.0.113.1')).statusCode).toBe(401);
    const refused = await bogus('203.0.113.1');
    expect(refused.statusCode).toBe(429);
    expect(json(refused)).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // The refused request never reached the token store; another address still has its own budget.
    expect(lookups).toHaveBeenCalledTimes(3);
    expect((await bogus('203.0.113.2')).statusCode).toBe(401);
    expect(
      (await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-forwarded-for': '203.0.113.1' } })).statusCode,
    ).toBe(200);
  });

  it('gives two principals behind one address their own budgets, and one principal on two addresses one', async () => {
    const { app } = await listening({ RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000', TRUST_PROXY: '1' });
    const alice = await createToken(app, 'viewer', { name: 'alice' });
    const bob = await createToken(app, 'viewer', { name: 'bob' });
    const read = (token: string, address: string) =>
      app.inject({ method: 'GET', url: '/orders', headers: { ...bearer(token), 'x-forwarded-for': address } });

    expect((await read(alice, '203.0.113.1')).statusCode).toBe(200);
    expect((await read(alice, '203.0.113.2')).statusCode).toBe(200);
    const limited = await read(alice, '203.0.113.3');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['ratelimit-limit']).toBe('2');
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    expect(Number(limited.headers['ratelimit-reset'])).toBeGreaterThan(0);

    const fresh = await read(bob, '203.0.113.1');
    expect(fresh.statusCode).toBe(200);
    expect(fresh.headers['ratelimit-remaining']).toBe('1');
    expect((await read(bob, '203.0.113.1')).statusCode).toBe(200);
    expect((await read(bob, '203.0.113.1')).statusCode).toBe(429);
  });

  it('answers 429 past RATE_LIMIT_IN_FLIGHT requests in flight and RATE_LIMIT_QUEUE waiting, and frees the slot after', async () => {
    const { app, port } = await listening({ RATE_LIMIT_IN_FLIGHT: '1', RATE_LIMIT_QUEUE: '1' });
    const body = JSON.stringify(seedOrder);
    const authenticate = vi.spyOn(app.auth.service, 'authenticate');
    const connection = await open(port);
    // A request whose body is still arriving holds the principal's one slot.
    connection.write(
      `POST /orders HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${rawAuthorization(port)}` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
    );
    await vi.waitFor(() => {
      expect(authenticate).toHaveBeenCalledTimes(1);
    });
    // Once its credentials are read, nothing but in-memory hooks stand between it and the slot.
    await authenticate.mock.results[0]?.value;
    await new Promise((resolve) => setImmediate(resolve));
    // The next one waits its turn; the one after finds the queue full.
    let waitingAnswered = false;
    const waiting = app.inject({ method: 'GET', url: '/orders' }).then((response) => {
      waitingAnswered = true;
      return response;
    });
    const third = await app.inject({ method: 'GET', url: '/orders' });
    expect(third.statusCode).toBe(429);
    expect(json(third)).toMatchObject({ code: 'RATE_LIMITED' });
    expect(third.headers['retry-after']).toBe('1');
    const other = await createToken(app, 'viewer', { name: 'other' });
    expect((await app.inject({ method: 'GET', url: '/orders', headers: bearer(other) })).statusCode).toBe(200);
    expect(waitingAnswered).toBe(false);

    connection.write(body.slice(10));
    await expect.poll(() => connection.status()).toBe(201);
    // The waiting read ran once the write freed the slot, after it: it sees the new order.
    const read = await waiting;
    expect(read.statusCode).toBe(200);
    expect(json(read).orders).toHaveLength(1);
    expect((await app.inject({ method: 'GET', url: '/orders' })).statusCode).toBe(200);
    expect(await storedCount(app)).toBe(1);
  });
});

describe('rate limits: a slot outlives no request', () => {
  it('gives the in-flight slot back when a client goes away in the middle of a read', async () => {
    const { app, port } = await listening({ RATE_LIMIT_IN_FLIGHT: '1', RATE_LIMIT_QUEUE: '0' });
    // The credentials are looked up now (and cached), so the database holds back the order reads below, not the lookup.
    expect((await app.inject({ method: 'GET', url: '/orders' })).statusCode).toBe(200);
    const admin = app.mongo.client.db('admin');
    await admin.command({
      configureFailPoint: 'failCommand',
      mode: 'alwaysOn',
      data: { failCommands: ['find'], blockConnection: true, blockTimeMS: 1000 },
    });
    try {
      const find = vi.spyOn(app.mongo.orders, 'find');
      const connection = await open(port);
      connection.write(`GET /orders HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${rawAuthorization(port)}\r\n`);
      await vi.waitFor(() => {
        expect(find).toHaveBeenCalled();
      });
      // While the read is held, it has the principal's one slot: another request is refused.
      expect((await app.inject({ method: 'GET', url: '/orders' })).statusCode).toBe(429);
      // The client gives up (a dashboard cancelling a read): the slot comes back, and the client is served again.
      connection.destroy();
      await vi.waitFor(
        async () => {
          expect((await app.inject({ method: 'GET', url: '/orders' })).statusCode).toBe(200);
        },
        { timeout: 10_000, interval: 100 },
      );
    } finally {
      await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
  });
});

describe('rate limits: a client gone before its turn', () => {
  it('gives no slot to a request whose client left while its credentials were being read', async () => {
    const { app, port } = await listening({ RATE_LIMIT_IN_FLIGHT: '1', RATE_LIMIT_QUEUE: '1' });
    const authorization = rawAuthorization(port);
    const header = authorization.slice('Authorization: '.length).trim();
    const body = JSON.stringify(seedOrder);
    // A write whose body is still arriving holds the principal's one slot.
    const writer = await open(port);
    writer.write(
      `POST /orders HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${authorization}` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
    );
    // Once the credentials are no longer fresh, the next request waits for them to be read from the database,
    // which is held back here: the client leaves in the meantime.
    await vi.waitFor(() => expect(app.auth.service.peek(header, undefined)).toBeNull(), { timeout: 10_000 });
    const admin = app.mongo.client.db('admin');
    await admin.command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['find'], blockConnection: true, blockTimeMS: 500 },
    });
    const authenticate = vi.spyOn(app.auth.service, 'authenticate');
    const leaving = await open(port);
    leaving.write(`GET /orders HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${authorization}\r\n`);
    await vi.waitFor(() => expect(authenticate).toHaveBeenCalled());
    leaving.destroy();
    const lookup = authenticate.mock.results[0]?.value as Promise<unknown> | undefined;
    await lookup;
    await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });

    // The write completes and frees the slot; the client's next read gets it (it is not held by the one that left).
    writer.write(body.slice(10));
    await expect.poll(() => writer.status()).toBe(201);
    const read = await app.inject({ method: 'GET', url: '/orders' });
    expect(read.statusCode).toBe(200);
    expect(json(read).orders).toHaveLength(1);
  });
});

describe('rate limits: what a refused client costs', () => {
  it('holds a refusal back while other clients are served, and answers every held refusal on shutdown', async () => {
    const { app } = await listening({
      RATE_LIMIT_MAX: '1',
      RATE_LIMIT_WINDOW_MS: '60000',
      RATE_LIMIT_DELAY_MS: '60000',
    });
    expect((await app.inject({ method: 'GET', url: '/orders' })).statusCode).toBe(200);
    let answered = false;
    const held = app.inject({ method: 'GET', url: '/orders' }).then((response) => {
      answered = true;
      return response;
    });
    const other = await createToken(app, 'viewer', { name: 'other' });
    expect((await app.inject({ method: 'GET', url: '/orders', headers: bearer(other) })).statusCode).toBe(200);
    expect(answered).toBe(false);

    await app.close();
    const refused = await held;
    expect(refused.statusCode).toBe(429);
    expect(json(refused)).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['ratelimit-remaining']).toBe('0');
  });

  it('refuses a principal over its limit before its credentials are looked up again', async () => {
    const { app } = await listening({ RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' });
    const alice = await createToken(app, 'viewer', { name: 'alice' });
    const read = () => app.inject({ method: 'GET', url: '/orders', headers: bearer(alice) });
    expect((await read()).statusCode).toBe(200);
    expect((await read()).statusCode).toBe(200);
    const authenticate = vi.spyOn(app.auth.service, 'authenticate');
    const refused = await Promise.all(Array.from({ length: 5 }, read));
    expect(refused.map((response) => response.statusCode)).toEqual([429, 429, 429, 429, 429]);
    expect(authenticate).not.toHaveBeenCalled();
  });

  it('logs refusals once per client and window at warn, never a line per refused request', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
    const config = testConfig(fleet.database.uri, { RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' });
    const app = buildApp(config, { logger: { level: 'info', stream } });
    const statuses: number[] = [];
    try {
      await app.ready();
      for (let i = 0; i < 6; i++) statuses.push((await app.inject({ method: 'GET', url: '/orders' })).statusCode);
    } finally {
      await app.close();
    }
    expect(statuses).toEqual([401, 401, 429, 429, 429, 429]);

    const about = (message: string) => lines.filter((line) => line.msg === message);
    expect(about('rate limit: refusing a client (429)')).toEqual([
      expect.objectContaining({ level: 40, key: 'address:127.0.0.1', limit: 'window' }),
    ]);
    expect(about('rate limit: refused more requests from a client in the last window')).toEqual([
      expect.objectContaining({ level: 40, key: 'address:127.0.0.1', refused: 3 }),
    ]);
    // The answered requests are logged as before; the refused ones are not, neither arriving nor completed.
    const completed = about('request completed').map((line) => (line.res as { statusCode: number }).statusCode);
    expect(completed).toEqual([401, 401]);
    expect(about('incoming request')).toHaveLength(3);
  });
});

describe('security headers', () => {
  let dashboard: Awaited<ReturnType<typeof makeDashboard>>;
  beforeAll(async () => {
    dashboard = await makeDashboard();
  });
  afterAll(async () => {
    await dashboard.remove();
  });

  it('sends a strict CSP, nosniff, no referrer, frame denial and same-origin isolation on pages and API answers', async () => {
    const { app } = await listening({ WEB_DIST_DIR: dashboard.dir });
    for (const url of ['/', '/orders', '/no-such-route.json']) {
      const { headers } = await app.inject({ method: 'GET', url });
      const csp = String(headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['referrer-policy']).toBe('no-referrer');
      expect(headers['x-frame-options']).toBe('DENY');
      expect(headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(headers['cross-origin-resource-policy']).toBe('same-origin');
      // Plain HTTP by default: HSTS would pin browsers to an HTTPS that does not exist.
      expect(headers['strict-transport-security']).toBeUndefined();
    }
  });

  it('sends HSTS behind a TLS-terminating proxy (TRUST_PROXY)', async () => {
    const { app } = await listening({ TRUST_PROXY: '1' });
    const { headers } = await app.inject({ method: 'GET', url: '/healthz' });
    expect(headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });
});

describe('strict text', () => {
  let app: App;
  let port: number;
  beforeAll(async () => {
    ({ app, port } = await listening());
  });
  afterEach(async () => {
    await app.mongo.orders.deleteMany({});
  });

  /** GET /orders with an X-Note header holding the raw `value` bytes (after `authorization`), once answered. */
  function withNote(value: Buffer, authorization = ''): Promise<RawConnection> {
    const head = `GET /orders HTTP/1.1\r\nHost: 127.0.0.1\r\n${authorization}X-Note: `;
    return sendBytes(port, head, value, '\r\nConnection: close\r\n\r\n');
  }

  it('refuses a query parameter with NUL, a control character, invalid UTF-8 or an encoded surrogate', async () => {
    for (const value of ['%00', 'Bo%09b', '%FF', '%C3', '%ED%A0%80', '%1B%5B31m']) {
      const response = await app.inject({ method: 'GET', url: `/orders?customer=${value}` });
      expect(response.statusCode).toBe(400);
      expect(json(response)).toMatchObject({ code: 'INVALID_TEXT', field: 'querystring/customer' });
    }
    const accented = await app.inject({ method: 'GET', url: `/orders?customer=${encodeURIComponent('Zoë')}` });
    expect(accented.statusCode).toBe(200);
  });

  it('refuses a body that is not UTF-8 and stores nothing (no U+FFFD repair)', async () => {
    const payload = Buffer.concat([
      Buffer.from('{"id":7,"customer_name":"Bo'),
      Buffer.from([0xff]),
      Buffer.from('b","product_name":"Mug","status":"pending"}'),
    ]);
    const response = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ code: 'INVALID_TEXT', field: 'body' });
    expect(await storedCount(app)).toBe(0);
  });

  it('refuses lone surrogates and control characters in any string field, on create and update', async () => {
    const cases: [body: string, field: string][] = [
      ['{"id":7,"customer_name":"Bob\\ud800","product_name":"Mug","status":"pending"}', 'body/customer_name'],
      ['{"id":7,"customer_name":"Bob","product_name":"\\udfff Mug","status":"pending"}', 'body/product_name'],
      ['{"id":7,"customer_name":"Bob\\u0000","product_name":"Mug","status":"pending"}', 'body/customer_name'],
      ['{"id":7,"customer_name":"Bob\\tSmith","product_name":"Mug","status":"pending"}', 'body/customer_name'],
      ['{"id":7,"customer_name":"Bob","product_name":"Mug\\n","status":"pending"}', 'body/product_name'],
    ];
    for (const [payload, field] of cases) {
      const response = await app.inject({
        method: 'POST',
        url: '/orders',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(response.statusCode).toBe(400);
      expect(json(response)).toMatchObject({ code: 'INVALID_TEXT', field });
    }
    expect(await storedCount(app)).toBe(0);

    expect((await app.inject({ method: 'POST', url: '/orders', payload: seedOrder })).statusCode).toBe(201);
    const update = await app.inject({
      method: 'PUT',
      url: `/orders/${seedOrder.id}`,
      headers: { 'content-type': 'application/json' },
      payload: '{"customer_name":"\\u007fBob"}',
    });
    expect(update.statusCode).toBe(400);
    expect(json(update)).toMatchObject({ code: 'INVALID_TEXT', field: 'body/customer_name' });
    expect(await app.mongo.orders.findOne({ _id: seedOrder.id })).toMatchObject({ customer_name: 'Bob', version: 1 });
  });

  it('stores and returns accented, CJK and astral text exactly as sent', async () => {
    const name = 'Zoë 東京 \u{1F600}';
    const created = await app.inject({
      method: 'POST',
      url: '/orders',
      payload: { ...seedOrder, customer_name: name },
    });
    expect(created.statusCode).toBe(201);
    expect(json(created).customer_name).toBe(name);
    const read = await app.inject({ method: 'GET', url: `/orders/${seedOrder.id}` });
    expect(json(read).customer_name).toBe(name);
  });

  it('refuses a header value that is not UTF-8 or holds a control character, and accepts UTF-8', async () => {
    // "café" in Latin-1: the é is a lone 0xe9, not UTF-8.
    const badBytes = await withNote(Buffer.from('caf\xe9', 'latin1'));
    expect(badBytes.status()).toBe(400);
    expect(badBytes.jsonBody()).toMatchObject({ code: 'INVALID_TEXT', field: 'headers/x-note' });

    // U+0085 (NEL) in UTF-8: valid UTF-8, but a control character.
    const c1 = await withNote(Buffer.from([0xc2, 0x85]));
    expect(c1.status()).toBe(400);
    expect(c1.jsonBody()).toMatchObject({ code: 'INVALID_TEXT', field: 'headers/x-note' });

    const utf8 = await withNote(Buffer.from('café', 'utf8'), rawAuthorization(port));
    expect(utf8.status()).toBe(200);
  });

  it('refuses raw invalid UTF-8 in the request line', async () => {
    const connection = await sendBytes(
      port,
      'GET /orders?customer=B',
      [0xff],
      ' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(connection.status()).toBe(400);
  });

  it('refuses two Host headers, and two copies of other single-value headers', async () => {
    for (const [headers, field] of [
      ['Host: 127.0.0.1\r\nHost: evil.example\r\n', 'headers/host'],
      ['Host: 127.0.0.1\r\nIf-Match: "1"\r\nIf-Match: "2"\r\n', 'headers/if-match'],
    ] as const) {
      const connection = await open(port);
      connection.write(`GET /orders/${seedOrder.id} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`);
      await connection.waitClosed();
      expect(connection.status()).toBe(400);
      expect(connection.jsonBody()).toMatchObject({ code: 'DUPLICATE_HEADER', field });
    }
  });

  it('closes a WebSocket with 1007 on a text frame that is not UTF-8', async () => {
    const client = await wsClient(port);
    client.socket.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false });
    expect(await client.closed()).toBe(1007);
  });

  it('answers a subscribe frame with a lone surrogate or a control character with an error', async () => {
    const client = await wsClient(port);
    client.send('{"type":"subscribe","filter":{"customer":"Bo\\ud800"}}');
    client.send('{"type":"subscribe","filter":{"customer":"Bo\\u0000"}}');
    await client.waitFor(() => client.control().filter((m) => m.type === 'error').length === 2, 'two errors');
    const messages = client.control().map((m) => (m.type === 'error' ? m.message : m.type));
    expect(messages).toEqual([
      '/filter/customer: invalid text (lone_surrogate)',
      '/filter/customer: invalid text (control_character)',
    ]);
    expect(client.closeCode).toBeNull();
  });
});

describe('WebSocket upgrades', () => {
  it('upgrades only on /ws: every other path gets 404 and never a 101', async () => {
    const dashboard = await makeDashboard();
    try {
      const { port } = await listening({ WEB_DIST_DIR: dashboard.dir });
      for (const path of ['/orders', '/', '/docs', '/healthz', '/orders/1', '/ws/extra', '/nope', '/board']) {
        const connection = await open(port);
        connection.write(upgradeRequest(path, rawAuthorization(port)));
        await connection.waitClosed();
        expect(connection.status(), path).toBe(404);
        expect(connection.text()).not.toContain('101 Switching Protocols');
        expect(connection.jsonBody()).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
      }
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
        headers: credentialsFor(`http://127.0.0.1:${port}`),
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      socket.terminate();
    } finally {
      await dashboard.remove();
    }
  });
});
