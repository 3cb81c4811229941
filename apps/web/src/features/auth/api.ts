import type {
  ApiToken,
  CreatedToken,
  CreateTokenBody,
  CreateUserBody,
  LoginBody,
  Me,
  TokenListResponse,
  UpdateUserBody,
  User,
  UserListResponse,
} from '@orders/contracts';
import { ApiError, request } from '../../lib/http.js';

/** `POST /auth/login`: sets the session cookie and answers who signed in; 401 on bad credentials, 429 when throttled. */
export function signIn(body: LoginBody): Promise<Me> {
  return request<Me>('/auth/login', { method: 'POST', body: JSON.stringify(body) });
}

/** `POST /auth/logout`: ends the session on the server (every API process, every open socket). */
export async function signOut(): Promise<void> {
  await request<unknown>('/auth/logout', { method: 'POST' });
}

/** `GET /auth/me`: who this page is signed in as, or `null` when it is not. */
export async function fetchMe(signal?: AbortSignal): Promise<Me | null> {
  try {
    return await request<Me>('/auth/me', { signal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** `GET /auth/users` (admin). */
export async function fetchUsers(signal?: AbortSignal): Promise<User[]> {
  return (await request<UserListResponse>('/auth/users', { signal })).users;
}

/** `POST /auth/users` (admin); 409 USER_EXISTS when the username is taken. */
export function createUser(body: CreateUserBody): Promise<User> {
  return request<User>('/auth/users', { method: 'POST', body: JSON.stringify(body) });
}

/** `PATCH /auth/users/:id` (admin): role, scope, disabled, or a new password. */
export function updateUser(id: string, changes: UpdateUserBody): Promise<User> {
  return request<User>(`/auth/users/${encodeURIComponent(id)}`, { method: 'PATCH', body: JSON.stringify(changes) });
}

/** `GET /auth/tokens` (admin): every token, without its secret. */
export async function fetchTokens(signal?: AbortSignal): Promise<ApiToken[]> {
  return (await request<TokenListResponse>('/auth/tokens', { signal })).tokens;
}

/** `POST /auth/tokens` (admin): the answer carries the secret, the only time it is ever sent. */
export function createToken(body: CreateTokenBody): Promise<CreatedToken> {
  return request<CreatedToken>('/auth/tokens', { method: 'POST', body: JSON.stringify(body) });
}

/** `DELETE /auth/tokens/:id` (admin): the token stops working at once, on live sockets too. */
export async function revokeToken(id: string): Promise<void> {
  await request<unknown>(`/auth/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' });
}
