import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { App } from '../src/app.js';
import { CredentialCache } from '../src/auth/cache.js';
import type { Authentication } from '../src/auth/principal.js';
import { json, startApp, startDatabase, testConfig, type EmbeddedDatabase } from './support/app.js';
import { bearer, createToken, createUser, signIn } from './support/auth.js';

/*
 * Resolved credentials are cached for at most a second per process (see docs/ARCHITECTURE.md, "Access control"):
 * a busy client stops costing a database read per request, yet a revocation is refused at once on the process
 * that made it and as soon as the news arrives on another.
 */

type Authenticated = Extract<Authentication, { status: 'authenticated' }>;

function tokenResult(id: string, expiresAt = new Date(10_000_000)): Authenticated {
  return {
    status: 'authenticated',
    principal: { kind: 'token', id, name: id, role: 'viewer', scope: null },
    credential: { kind: 'token', id, expiresAt },
  };
}

function sessionResult(id: string, userId: string): Authenticated {
  return {
    status: 'authenticated',
    principal: { kind: 'user', id: userId, name: userId, role: 'viewer', scope: null },
    credential: { kind: 'session', id, userId, expiresAt: new Date(10_000_000) },
  };
}

/** Waits (bounded) until `request` is answered 401: the other instance has learnt of the change. */
async function eventually401(request: () => Promise<{ statusCode: number }>): Promise<void> {
  await vi.waitFor(
    async () => {
      expect((await request()).statusCode).toBe(401);
    },
    { timeout: 5000, interval: 50 },
  );
}

describe('the credential cache', () => {
  it('serves an entry for its TTL only, and never past its credential’s own expiry', () => {
    let now = 1_000;
    const cache = new CredentialCache({ ttlMs: 1000, maxEntries: 10, now: () => now });
    cache.set('a', tokenResult('a'), cache.epoch);
    cache.set('b', tokenResult('b', new Date(1_500)), cache.epoch);
    now = 1_499;
    expect(cache.get('a')?.credential.id).toBe('a');
    expect(cache.get('b')?.credential.id).toBe('b');
    now = 1_500;
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.credential.id).toBe('a');
    now = 2_000;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps at most maxEntries, dropping the oldest first', () => {
    const cache = new CredentialCache({ ttlMs: 1000, maxEntries: 2, now: () => 0 });
    for (const key of ['a', 'b', 'c']) cache.set(key, tokenResult(key), cache.epoch);
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('c')?.credential.id).toBe('c');
  });

  it('forgets by session, token or user, and drops a lookup that began before a forget', () => {
    const cache = new CredentialCache({ ttlMs: 1000, maxEntries: 10, now: () => 0 });
    cache.set('t', tokenResult('t1'), cache.epoch);
    cache.set('s1', sessionResult('s1', 'u1'), cache.epoch);
    cache.set('s2', sessionResult('s2', 'u1'), cache.epoch);
    cache.set('s3', sessionResult('s3', 'u2'), cache.epoch);
    cache.forgetToken('t1');
    expect(cache.get('t')).toBeUndefined();
    cache.forgetSession('s3');
    expect(cache.get('s3')).toBeUndefined();
    cache.forgetUser('u1');
    expect(cache.size).toBe(0);

    const before = cache.epoch;
    cache.forgetToken('t1');
    cache.set('t', tokenResult('t1'), before);
    expect(cache.get('t')).toBeUndefined();
    cache.set('t', tokenResult('t1'), cache.epoch);
    cache.clear();
    expect(cache.get('t')).toBeUndefined();
  });
});

describe('two API processes on one database', () => {
  let database: EmbeddedDatabase;
  let a: App;
  let b: App;
  let admin: Record<string, string>;

  beforeAll(async () => {
    database = await startDatabase();
    const config = testConfig(database.uri);
    a = await startApp(config);
    b = await startApp(config);
    admin = bearer(await createToken(a, 'admin', { name: 'cache-admin' }));
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await database.close();
  });

  it('reads a busy token from the database once, not once per request', async () => {
    const token = await createToken(a, 'viewer', { name: 'busy' });
    const lookups = vi.spyOn(a.auth.service.tokens, 'resolve');
    for (let i = 0; i < 5; i++) {
      expect((await a.inject({ method: 'GET', url: '/orders', headers: bearer(token) })).statusCode).toBe(200);
    }
    expect(lookups).toHaveBeenCalledTimes(1);
    lookups.mockRestore();
  });

  it('refuses a revoked token right after the revocation on that process, and soon after on the other', async () => {
    const token = await createToken(a, 'viewer', { name: 'revoked-soon' });
    const read = (app: App) => app.inject({ method: 'GET', url: '/orders', headers: bearer(token) });
    expect((await read(a)).statusCode).toBe(200);
    expect((await read(b)).statusCode).toBe(200);
    const { tokens } = json(await a.inject({ method: 'GET', url: '/auth/tokens', headers: admin })) as unknown as {
      tokens: { id: string; name: string }[];
    };
    const id = tokens.find((entry) => entry.name === 'revoked-soon')?.id;
    expect((await a.inject({ method: 'DELETE', url: `/auth/tokens/${String(id)}`, headers: admin })).statusCode).toBe(
      204,
    );

    const refused = await read(a);
    expect(refused.statusCode).toBe(401);
    expect(json(refused).code).toBe('UNAUTHENTICATED');
    await eventually401(() => read(b));
  });

  it('refuses a signed-out session and a disabled user’s session at once on that process, soon after on the other', async () => {
    const cookie = await signIn(a, 'admin');
    const asSession = (app: App) => app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } });
    expect((await asSession(a)).statusCode).toBe(200);
    expect((await asSession(b)).statusCode).toBe(200);
    const out = await a.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie, host: 'orders.test', origin: 'http://orders.test' },
    });
    expect(out.statusCode).toBe(204);
    expect((await asSession(a)).statusCode).toBe(401);
    await eventually401(() => asSession(b));

    const userId = await createUser(a, 'dora', 'viewer');
    const doraCookie = await signIn(a, 'dora');
    const asDora = (app: App) => app.inject({ method: 'GET', url: '/orders', headers: { cookie: doraCookie } });
    expect((await asDora(a)).statusCode).toBe(200);
    expect((await asDora(b)).statusCode).toBe(200);
    const disabled = await a.inject({
      method: 'PATCH',
      url: `/auth/users/${userId}`,
      headers: admin,
      payload: { disabled: true },
    });
    expect(disabled.statusCode).toBe(200);
    expect((await asDora(a)).statusCode).toBe(401);
    await eventually401(() => asDora(b));
  });
});
