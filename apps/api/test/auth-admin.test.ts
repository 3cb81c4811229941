import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { hashSecret } from '../src/auth/secrets.js';
import { useAccessApi } from './support/api.js';
import { json, testConfig, TEST_ADMIN_PASSWORD } from './support/app.js';
import { bearer, createToken, signIn } from './support/auth.js';

const api = useAccessApi();

async function createUserThroughApi(username: string, role = 'viewer', extra: Record<string, unknown> = {}) {
  const response = await api.admin.inject({
    method: 'POST',
    url: '/auth/users',
    payload: { username, password: 'a long enough password', role, ...extra },
  });
  expect(response.statusCode).toBe(201);
  return json(response) as { id: string; username: string };
}

describe('users', () => {
  it('creates, lists (never the hash) and refuses a taken username in any letter case', async () => {
    const created = await createUserThroughApi('Vera', 'viewer', { scope: { customer: 'bob' } });
    expect(created).toMatchObject({ username: 'Vera', role: 'viewer', scope: { customer: 'bob' }, disabled: false });
    const listed = await api.admin.inject({ url: '/auth/users' });
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain('password');
    expect(listed.body).not.toContain('scrypt');
    expect((json(listed).users as { username: string }[]).map((u) => u.username)).toContain('Vera');
    const taken = await api.admin.inject({
      method: 'POST',
      url: '/auth/users',
      payload: { username: 'vera', password: 'a long enough password', role: 'admin' },
    });
    expect(taken.statusCode).toBe(409);
    expect(json(taken)).toMatchObject({ code: 'USER_EXISTS', field: 'body/username' });
    const stored = await api.app.auth.service.users.byUsername('vera');
    expect(stored?.password_hash).toMatch(/^scrypt\$10\$8\$1\$/);
  });

  it('refuses a short password, an unknown role, unknown fields and a bad id', async () => {
    const bodies = [
      { username: 'x1', password: 'short', role: 'viewer' },
      { username: 'x2', password: 'a long enough password', role: 'root' },
      { username: 'x3', password: 'a long enough password', role: 'viewer', admin: true },
      { username: 'bad name', password: 'a long enough password', role: 'viewer' },
    ];
    for (const payload of bodies) {
      const response = await api.admin.inject({ method: 'POST', url: '/auth/users', payload });
      expect(response.statusCode).toBe(400);
    }
    const badId = await api.admin.inject({ method: 'PATCH', url: '/auth/users/nope', payload: { disabled: true } });
    expect(badId.statusCode).toBe(400);
    const unknown = await api.admin.inject({
      method: 'PATCH',
      url: '/auth/users/0123456789abcdef01234567',
      payload: { disabled: true },
    });
    expect(unknown.statusCode).toBe(404);
    expect(json(unknown).code).toBe('USER_NOT_FOUND');
    const empty = await api.admin.inject({ method: 'PATCH', url: `/auth/users/0123456789abcdef01234567`, payload: {} });
    expect(empty.statusCode).toBe(400);
  });

  it('disabling a user ends their sessions; enabling lets them sign in again', async () => {
    const user = await createUserThroughApi('dora', 'operator');
    const cookie = await signIn(api.app, 'dora', 'a long enough password');
    const disabled = await api.admin.inject({
      method: 'PATCH',
      url: `/auth/users/${user.id}`,
      payload: { disabled: true },
    });
    expect(disabled.statusCode).toBe(200);
    expect(json(disabled).disabled).toBe(true);
    expect((await api.app.inject({ url: '/auth/me', headers: { cookie } })).statusCode).toBe(401);
    const refused = await api.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'dora', password: 'a long enough password' },
    });
    expect(refused.statusCode).toBe(401);
    await api.admin.inject({ method: 'PATCH', url: `/auth/users/${user.id}`, payload: { disabled: false } });
    expect(await signIn(api.app, 'dora', 'a long enough password')).toMatch(/^orders_session=/);
  });

  it('a password reset ends the old sessions and only the new password works', async () => {
    const user = await createUserThroughApi('pete');
    const cookie = await signIn(api.app, 'pete', 'a long enough password');
    const reset = await api.admin.inject({
      method: 'PATCH',
      url: `/auth/users/${user.id}`,
      payload: { password: 'a brand new password' },
    });
    expect(reset.statusCode).toBe(200);
    expect((await api.app.inject({ url: '/auth/me', headers: { cookie } })).statusCode).toBe(401);
    expect(await signIn(api.app, 'pete', 'a brand new password')).toMatch(/^orders_session=/);
  });

  it('a new role and scope apply to the next request of an existing session', async () => {
    const user = await createUserThroughApi('rita');
    const cookie = await signIn(api.app, 'rita', 'a long enough password');
    await api.admin.inject({
      method: 'PATCH',
      url: `/auth/users/${user.id}`,
      payload: { role: 'operator', scope: { status: ['pending'] } },
    });
    const me = await api.app.inject({ url: '/auth/me', headers: { cookie } });
    expect(json(me)).toEqual({ username: 'rita', kind: 'user', role: 'operator', scope: { status: ['pending'] } });
  });

  it('never leaves the system without an enabled admin', async () => {
    const users = json(await api.admin.inject({ url: '/auth/users' })).users as { id: string; username: string }[];
    const first = users.find((u) => u.username === 'admin');
    expect(first).toBeDefined();
    const demoted = await api.admin.inject({
      method: 'PATCH',
      url: `/auth/users/${first?.id ?? ''}`,
      payload: { role: 'viewer' },
    });
    expect(demoted.statusCode).toBe(403);
    expect(json(demoted).message).toMatch(/only enabled admin/);
  });

  it('a scoped admin may not manage users or tokens', async () => {
    const scoped = await createToken(api.app, 'admin', { scope: { customer: 'bob' } });
    for (const url of ['/auth/users', '/auth/tokens']) {
      const response = await api.app.inject({ url, headers: bearer(scoped) });
      expect(response.statusCode).toBe(403);
    }
  });
});

describe('API tokens', () => {
  it('shows the secret once, stores only its hash, lists without it, and revocation takes effect at once', async () => {
    const created = await api.admin.inject({
      method: 'POST',
      url: '/auth/tokens',
      payload: { name: 'seed script', role: 'operator', scope: { status: ['pending'] }, expires_in_days: 7 },
    });
    expect(created.statusCode).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const body = json(created) as { id: string; token: string; expires_at: string; created_by: string };
    expect(body).toMatchObject({ name: 'seed script', role: 'operator', scope: { status: ['pending'] } });
    expect(body.created_by).toBe('root');
    expect(body.token).toMatch(/^ord_[A-Za-z0-9_-]{43}$/);
    const days = (Date.parse(body.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    const stored = await api.app.auth.service.tokens.collection.find({}).toArray();
    expect(JSON.stringify(stored)).not.toContain(body.token);
    expect(stored.some((doc) => doc.hash === hashSecret(body.token))).toBe(true);

    const listed = await api.admin.inject({ url: '/auth/tokens' });
    expect(listed.body).not.toContain(body.token);
    expect(listed.body).not.toContain(hashSecret(body.token));

    const me = await api.app.inject({ url: '/auth/me', headers: bearer(body.token) });
    expect(json(me)).toEqual({
      username: 'seed script',
      kind: 'token',
      role: 'operator',
      scope: { status: ['pending'] },
    });
    const revoked = await api.admin.inject({ method: 'DELETE', url: `/auth/tokens/${body.id}` });
    expect(revoked.statusCode).toBe(204);
    expect((await api.app.inject({ url: '/auth/me', headers: bearer(body.token) })).statusCode).toBe(401);
    const again = await api.admin.inject({ method: 'DELETE', url: `/auth/tokens/${body.id}` });
    expect(again.statusCode).toBe(404);
    expect(json(again).code).toBe('TOKEN_NOT_FOUND');
  });

  it('refuses a bad body: no name, unknown role, days out of range, unknown fields', async () => {
    for (const payload of [
      { role: 'viewer' },
      { name: 'x', role: 'root' },
      { name: 'x', role: 'viewer', expires_in_days: 0 },
      { name: 'x', role: 'viewer', expires_in_days: 100_000 },
      { name: 'x', role: 'viewer', secret: 'mine' },
    ]) {
      expect((await api.admin.inject({ method: 'POST', url: '/auth/tokens', payload })).statusCode).toBe(400);
    }
  });
});

describe('first start', () => {
  it('with no ORDERS_ADMIN_PASSWORD, generates one into DATA_DIR/initial-admin.txt (0600) and it signs in', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'orders-first-start-'));
    const lines: string[] = [];
    const config = testConfig(api.database.uri, { DATA_DIR: dataDir });
    const fresh = buildApp(
      { ...config, auth: { ...config.auth, adminPassword: undefined } },
      {
        logger: {
          level: 'info',
          stream: { write: (line: string) => lines.push(line) },
        },
      },
    );
    try {
      await fresh.ready();
      const file = join(dataDir, 'initial-admin.txt');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const password = /password: (\S+)/.exec(await readFile(file, 'utf8'))?.[1] ?? '';
      expect(password.length).toBeGreaterThanOrEqual(20);
      expect(lines.join('\n')).toContain(file);
      expect(lines.join('\n')).not.toContain(password);
      expect(await signIn(fresh, 'admin', password)).toMatch(/^orders_session=/);
    } finally {
      await fresh.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('with ORDERS_ADMIN_PASSWORD, the admin signs in with it', async () => {
    expect(await signIn(api.app, 'admin', TEST_ADMIN_PASSWORD)).toMatch(/^orders_session=/);
  });
});
