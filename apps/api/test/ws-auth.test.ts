import { describe, expect, it } from 'vitest';
import { CloseCode } from '@orders/contracts';
import { useAccessApi } from './support/api.js';
import { bearer, createToken, createUser, signIn, upgradeStatus } from './support/auth.js';

const api = useAccessApi({ listen: true });

describe('the upgrade', () => {
  it.each(['https://evil.example', 'null', 'file://', 'chrome-extension://abcdefghijklmnop', 'http://127.0.0.1:1'])(
    'refuses Origin %s with 403 even with valid credentials',
    async (origin) => {
      const token = await createToken(api.app, 'admin');
      expect(await upgradeStatus(api.wsUrl, { ...bearer(token), origin })).toBe(403);
    },
  );

  it('accepts its own origin, a CORS_ORIGIN one, and a script with no Origin', async () => {
    const token = await createToken(api.app, 'viewer');
    expect(await upgradeStatus(api.wsUrl, { ...bearer(token), origin: api.baseUrl })).toBe(101);
    expect(await upgradeStatus(api.wsUrl, { ...bearer(token), origin: 'http://localhost:5173' })).toBe(101);
    expect(await upgradeStatus(api.wsUrl, bearer(token))).toBe(101);
  });

  it('refuses upgrades on any path but /ws', async () => {
    const token = await createToken(api.app, 'admin');
    for (const path of ['/orders', '/healthz', '/ws/', '/nope']) {
      expect(await upgradeStatus(`${api.baseUrl.replace('http', 'ws')}${path}`, bearer(token))).toBe(404);
    }
  });
});

describe('credentials ending close live sockets', () => {
  it('a sign-out closes that session’s sockets with 4401, and only those', async () => {
    await createUser(api.app, 'sam', 'viewer');
    const cookieA = await signIn(api.app, 'sam');
    const cookieB = await signIn(api.app, 'sam');
    const a = await api.subscribe({ cookie: cookieA, origin: api.baseUrl });
    const b = await api.subscribe({ cookie: cookieB, origin: api.baseUrl });
    const out = await api.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie: cookieA, origin: 'http://localhost:80' },
    });
    expect(out.statusCode).toBe(204);
    expect(await a.closed()).toBe(CloseCode.Unauthenticated);
    expect(b.closeCode).toBeNull();
  });

  it('revoking a token closes its sockets with 4401', async () => {
    const created = await api.admin.inject({
      method: 'POST',
      url: '/auth/tokens',
      payload: { name: 'ci', role: 'viewer' },
    });
    const { id, token } = JSON.parse(created.body) as { id: string; token: string };
    const client = await api.subscribe(bearer(token));
    expect((await api.admin.inject({ method: 'DELETE', url: `/auth/tokens/${id}` })).statusCode).toBe(204);
    expect(await client.closed()).toBe(CloseCode.Unauthenticated);
  });

  it('disabling a user closes their sockets with 4401; a role or scope change with 4403', async () => {
    const disabledId = await createUser(api.app, 'dan', 'viewer');
    const changedId = await createUser(api.app, 'cat', 'viewer');
    const dan = await api.subscribe({ cookie: await signIn(api.app, 'dan'), origin: api.baseUrl });
    const cat = await api.subscribe({ cookie: await signIn(api.app, 'cat'), origin: api.baseUrl });
    await api.admin.inject({ method: 'PATCH', url: `/auth/users/${disabledId}`, payload: { disabled: true } });
    await api.admin.inject({
      method: 'PATCH',
      url: `/auth/users/${changedId}`,
      payload: { scope: { customer: 'bob' } },
    });
    expect(await dan.closed()).toBe(CloseCode.Unauthenticated);
    expect(await cat.closed()).toBe(CloseCode.Forbidden);
  });

  it('a token that expires closes its sockets with 4401 when it does', async () => {
    const token = await createToken(api.app, 'viewer', { expiresAt: new Date(Date.now() + 3000) });
    const client = await api.subscribe(bearer(token));
    expect(await client.closed()).toBe(CloseCode.Unauthenticated);
    expect(await upgradeStatus(api.wsUrl, bearer(token))).toBe(401);
  });
});
