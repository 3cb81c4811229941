/*
 * The chaos run's credentials. Every API process starts with the same admin password; once the first is up the run
 * signs in over HTTP and makes one admin token (tokens live in the database, so it holds on every process and
 * across restarts). The writer, the clients' sockets and snapshots, and the probes all send it.
 */

/** The admin password the run's API processes start with (ORDERS_ADMIN_PASSWORD). */
export const CHAOS_ADMIN_PASSWORD = 'chaos-run-admin-password';

let headers: Readonly<Record<string, string>> = {};

/** The `Authorization` header to send (empty before `signIn`). */
export function authHeaders(): Readonly<Record<string, string>> {
  return headers;
}

/** Signs in as the admin at `baseUrl` and makes the run's token. */
export async function signIn(baseUrl: string): Promise<void> {
  const login = await fetch(`${baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: CHAOS_ADMIN_PASSWORD }),
  });
  if (login.status !== 200) throw new Error(`chaos: sign-in failed with ${login.status}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
  const created = await fetch(`${baseUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, origin: baseUrl },
    body: JSON.stringify({ name: 'chaos-run', role: 'admin', expires_in_days: 1 }),
  });
  if (created.status !== 201) throw new Error(`chaos: token creation failed with ${created.status}`);
  const { token } = (await created.json()) as { token: string };
  headers = { authorization: `Bearer ${token}` };
}
