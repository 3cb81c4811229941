import { TEST_ADMIN_PASSWORD } from './app.js';
import { registerCredentials } from './auth.js';
import { spawnServer, stopServer, type ServerProcess } from './server-process.js';

/** The real API server (`server.ts`) in its own process, with an admin token made on start. */
export interface ApiProcess extends ServerProcess {
  /** ws://127.0.0.1:port/ws */
  wsUrl: string;
  /**
   * `Authorization` header of an admin token made on start (empty when the database did not answer then); sockets
   * to this process send it too (see `registerCredentials`).
   */
  auth: Record<string, string>;
}

/** Starts `server.ts` on a free 127.0.0.1 port; resolves once it logs that it listens. */
export async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  const server = await spawnServer({
    ...process.env,
    ORDERS_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    AUTH_SCRYPT_LOG_N: '10',
    // Tests send bursts from one address as one admin; the rate-limit tests set their own limits.
    RATE_LIMIT_MAX: '0',
    RATE_LIMIT_ADDRESS_MAX: '0',
    RATE_LIMIT_IN_FLIGHT: '0',
    ...env,
  });
  const auth = await adminToken(server.baseUrl).catch(() => ({}));
  registerCredentials(server.baseUrl, auth);
  return { ...server, wsUrl: `${server.baseUrl.replace('http', 'ws')}/ws`, auth };
}

/** Signs in as the admin and creates a token, over HTTP as a script would; its `Authorization` header. */
export async function adminToken(baseUrl: string): Promise<Record<string, string>> {
  const login = await fetch(`${baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }),
  });
  if (login.status !== 200) throw new Error(`sign-in failed: ${login.status}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
  const created = await fetch(`${baseUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, origin: baseUrl },
    body: JSON.stringify({ name: 'test-admin', role: 'admin' }),
  });
  if (created.status !== 201) throw new Error(`token creation failed: ${created.status}`);
  const { token } = (await created.json()) as { token: string };
  return { authorization: `Bearer ${token}` };
}

export { stopServer as stopApiProcess };
