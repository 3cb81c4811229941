import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { useAccessApi } from './support/api.js';
import { json, startApp, testConfig, TEST_ADMIN_PASSWORD } from './support/app.js';
import { hashSecret } from '../src/auth/secrets.js';
import { createLoginThrottle, DEFAULT_THROTTLE_RULES, type ThrottleDocument } from '../src/auth/throttle.js';
import { bearer, createToken, createUser, signIn } from './support/auth.js';

const HOST = 'orders.test';
const OWN = `http://${HOST}`;

const api = useAccessApi({
  // Locks long enough that no test outruns one on a slow machine.
  build: (config) =>
    buildApp(config, { logger: false, throttleRules: { ...DEFAULT_THROTTLE_RULES, baseLockMs: 600_000 } }),
});

describe('sign-in', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie and /auth/me says who is signed in', async () => {
    const response = await api.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'admin', password: TEST_ADMIN_PASSWORD },
    });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ username: 'admin', kind: 'user', role: 'admin', scope: null });
    const cookie = response.cookies.find((c) => c.name === 'orders_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie?.secure).toBeUndefined();
    const me = await api.app.inject({ url: '/auth/me', headers: { cookie: `orders_session=${cookie?.value ?? ''}` } });
    expect(me.statusCode).toBe(200);
    expect(json(me)).toEqual({ username: 'admin', kind: 'user', role: 'admin', scope: null });
  });

  it('answers a wrong password and an unknown user alike', async () => {
    await createUser(api.app, 'olga', 'operator');
    const wrong = await api.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'olga', password: 'not the password' },
      remoteAddress: '10.0.0.1',
    });
    const unknown = await api.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'nobody', password: 'not the password' },
      remoteAddress: '10.0.0.1',
    });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(json(wrong)).toEqual(json(unknown));
    expect(json(wrong)).toMatchObject({ code: 'INVALID_CREDENTIALS', message: 'Wrong username or password' });
    expect(await signIn(api.app, 'olga')).toMatch(/^orders_session=/);
  });
});

describe('sessions', () => {
  it('sign-out ends the session server-side: the old cookie no longer works', async () => {
    const cookie = await signIn(api.app, 'admin');
    const out = await api.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { host: HOST, cookie, origin: OWN },
    });
    expect(out.statusCode).toBe(204);
    expect(out.cookies.find((c) => c.name === 'orders_session')?.value).toBe('');
    const me = await api.app.inject({ url: '/auth/me', headers: { cookie } });
    expect(me.statusCode).toBe(401);
    expect(json(me).code).toBe('UNAUTHENTICATED');
  });

  it('stores only a hash of the cookie secret', async () => {
    const cookie = await signIn(api.app, 'admin');
    const secret = cookie.split('=')[1] ?? '';
    const stored = await api.app.auth.service.sessions.collection.find({}).toArray();
    expect(stored.length).toBeGreaterThan(0);
    expect(JSON.stringify(stored)).not.toContain(secret);
  });

  it('an idle session expires', async () => {
    const cookie = await signIn(api.app, 'admin');
    const secret = cookie.split('=')[1] ?? '';
    await api.app.auth.service.sessions.collection.updateOne(
      { _id: hashSecret(secret) },
      { $set: { idle_expires_at: new Date(Date.now() - 1) } },
    );
    expect((await api.app.inject({ url: '/auth/me', headers: { cookie } })).statusCode).toBe(401);
  });

  it('marks the cookie Secure when the browser is on https (TLS ended by a proxy)', async () => {
    const response = await api.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { host: 'orders.example', origin: 'https://orders.example' },
      payload: { username: 'admin', password: TEST_ADMIN_PASSWORD },
    });
    // The Origin is https but the request reached us over http: only a CORS_ORIGIN listing would make it ours.
    expect(response.statusCode).toBe(403);
    const listed = await startApp(testConfig(api.database.uri, { CORS_ORIGIN: 'https://orders.example' }));
    try {
      const signedIn = await listed.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { host: 'orders.example', origin: 'https://orders.example' },
        payload: { username: 'admin', password: TEST_ADMIN_PASSWORD },
      });
      expect(signedIn.statusCode).toBe(200);
      expect(signedIn.cookies.find((c) => c.name === 'orders_session')?.secure).toBe(true);
    } finally {
      await listed.close();
    }
  });
});

describe('cross-site requests', () => {
  const order = (id: number) => ({ id, customer_name: 'Ann', product_name: 'Mug' });

  it('refuses a cookie-authenticated write from a foreign origin and with no Origin; accepts it from this site', async () => {
    const cookie = await signIn(api.app, 'admin');
    const post = (headers: Record<string, string>, id: number) =>
      api.app.inject({
        method: 'POST',
        url: '/orders',
        headers: { host: HOST, cookie, ...headers },
        payload: order(id),
      });
    const foreign = await post({ origin: 'https://evil.example' }, 1);
    expect(foreign.statusCode).toBe(403);
    expect(json(foreign).code).toBe('FORBIDDEN');
    const missing = await post({}, 2);
    expect(missing.statusCode).toBe(403);
    const crossSite = await post({ origin: OWN, 'sec-fetch-site': 'cross-site' }, 3);
    expect(crossSite.statusCode).toBe(403);
    expect(await api.app.mongo.orders.countDocuments({ _id: { $in: [1, 2, 3] } })).toBe(0);
    const same = await post({ origin: OWN, 'sec-fetch-site': 'same-origin' }, 4);
    expect(same.statusCode).toBe(201);
    // The Vite dev server is listed in CORS_ORIGIN by default.
    const listed = await post({ origin: 'http://localhost:5173' }, 5);
    expect(listed.statusCode).toBe(201);
  });

  it('lets a cookie read from anywhere (reads change nothing; CORS keeps the answer from foreign pages)', async () => {
    const cookie = await signIn(api.app, 'admin');
    const response = await api.app.inject({ url: '/orders', headers: { cookie, origin: 'https://evil.example' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('needs no Origin for a bearer token (no ambient credential)', async () => {
    const token = await createToken(api.app, 'operator');
    const response = await api.app.inject({
      method: 'POST',
      url: '/orders',
      headers: bearer(token),
      payload: order(6),
    });
    expect(response.statusCode).toBe(201);
  });

  it('refuses a sign-in posted from a foreign page', async () => {
    const response = await api.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { host: HOST, origin: 'https://evil.example' },
      payload: { username: 'admin', password: TEST_ADMIN_PASSWORD },
    });
    expect(response.statusCode).toBe(403);
    expect(response.cookies).toEqual([]);
  });
});

describe('credentials in URLs', () => {
  it.each(['/orders?access_token=abc', '/orders?token=abc', '/auth/me?api_key=abc', '/ws?token=abc'])(
    'refuses %s with 400 CREDENTIALS_IN_URL',
    async (url) => {
      const response = await api.app.inject({ url, headers: bearer(await createToken(api.app, 'viewer')) });
      expect(response.statusCode).toBe(400);
      expect(json(response)).toMatchObject({ code: 'CREDENTIALS_IN_URL' });
    },
  );

  it('refuses an Authorization header that is not a bearer token', async () => {
    const basic = Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64');
    const response = await api.app.inject({ url: '/orders', headers: { authorization: `Basic ${basic}` } });
    expect(response.statusCode).toBe(401);
    expect(json(response).code).toBe('UNAUTHENTICATED');
  });
});

describe('sign-in throttling', () => {
  const attempt = (username: string, password: string, remoteAddress: string) =>
    api.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password }, remoteAddress });

  it('answers 429 with Retry-After after repeated failures, even for the right password, but only at that address', async () => {
    await createUser(api.app, 'target', 'admin', { password: 'the right password!' });
    for (let i = 0; i < 5; i += 1) {
      expect((await attempt('target', `wrong guess ${i}`, '10.1.1.1')).statusCode).toBe(401);
    }
    const throttled = await attempt('target', 'the right password!', '10.1.1.1');
    expect(throttled.statusCode).toBe(429);
    expect(json(throttled).code).toBe('RATE_LIMITED');
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The attacker's failures never lock the real user out from their own address.
    expect((await attempt('target', 'the right password!', '10.2.2.2')).statusCode).toBe(200);
  });

  it('throttles one address guessing across many usernames', async () => {
    for (let i = 0; i < 20; i += 1) {
      expect((await attempt(`nobody-${i}`, 'guess', '10.3.3.3')).statusCode).toBe(401);
    }
    expect((await attempt('admin', TEST_ADMIN_PASSWORD, '10.3.3.3')).statusCode).toBe(429);
    expect((await attempt('admin', TEST_ADMIN_PASSWORD, '10.4.4.4')).statusCode).toBe(200);
  });

  it('refuses unknown fields, a missing password and an oversized username', async () => {
    for (const payload of [
      { username: 'admin', password: 'x', remember: true },
      { username: 'admin' },
      { username: 'a'.repeat(65), password: 'x' },
    ]) {
      const response = await api.app.inject({ method: 'POST', url: '/auth/login', payload });
      expect(response.statusCode).toBe(400);
      expect(json(response).code).toBe('VALIDATION_FAILED');
    }
  });
});

describe('the throttle never locks for good', () => {
  it('doubles each lock up to the cap, and forgets failures after the window', async () => {
    const throttle = createLoginThrottle(api.app.mongo.db.collection<ThrottleDocument>('throttle_unit'), {
      perUserAddress: 2,
      perAddress: 100,
      baseLockMs: 1000,
      maxLockMs: 4000,
      windowMs: 60_000,
    });
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    const at = (ms: number) => new Date(t0 + ms);
    await throttle.recordFailure('admin', '10.9.9.9', at(0));
    expect(await throttle.retryAfterSeconds('admin', '10.9.9.9', at(0))).toBe(0);
    const waits: number[] = [];
    for (let i = 1; i <= 4; i += 1) {
      await throttle.recordFailure('admin', '10.9.9.9', at(i));
      waits.push(await throttle.retryAfterSeconds('admin', '10.9.9.9', at(i)));
    }
    expect(waits).toEqual([1, 2, 4, 4]);
    expect(await throttle.retryAfterSeconds('admin', '10.9.9.9', at(5000))).toBe(0);
    // A failure after a quiet window starts from zero again.
    await throttle.recordFailure('admin', '10.9.9.9', at(70_000));
    expect(await throttle.retryAfterSeconds('admin', '10.9.9.9', at(70_000))).toBe(0);
    expect(await throttle.retryAfterSeconds('admin', '10.8.8.8', at(4))).toBe(0);
  });
});
