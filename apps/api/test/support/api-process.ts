import { TEST_ADMIN_PASSWORD, TEST_SERVER_ENV } from './app.js';
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
    ...TEST_SERVER_ENV,
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
