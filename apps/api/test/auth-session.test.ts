import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { json, startApp, startDatabase, testConfig, TEST_ADMIN_PASSWORD, type EmbeddedDatabase } from './helpers.js';
import { createUser, signIn } from './support/auth.js';

let database: EmbeddedDatabase;
let app: App;

beforeAll(async () => {
  database = await startDatabase();
  app = await startApp(testConfig(database.uri));
});
afterAll(async () => {
  await app.close();
  await database.close();
});

describe('sign-in', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie and /auth/me says who is signed in', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'admin', password: TEST_ADMIN_PASSWORD },
    });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ username: 'admin', kind: 'user', role: 'admin', scope: null });
    const cookie = response.cookies.find((c) => c.name === 'orders_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie?.secure).toBeUndefined();
    const me = await app.inject({ url: '/auth/me', headers: { cookie: `orders_session=${cookie?.value ?? ''}` } });
    expect(me.statusCode).toBe(200);
    expect(json(me)).toEqual({ username: 'admin', kind: 'user', role: 'admin', scope: null });
  });

  it('answers a wrong password and an unknown user alike', async () => {
    await createUser(app, 'olga', 'operator');
    const wrong = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'olga', password: 'not the password' },
      remoteAddress: '10.0.0.1',
    });
    const unknown = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'nobody', password: 'not the password' },
      remoteAddress: '10.0.0.1',
    });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(json(wrong)).toEqual(json(unknown));
    expect(json(wrong)).toMatchObject({ code: 'INVALID_CREDENTIALS', message: 'Wrong username or password' });
    expect(await signIn(app, 'olga')).toMatch(/^orders_session=/);
  });
});
