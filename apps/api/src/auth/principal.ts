import type { Role, Scope } from '@orders/contracts';

/**
 * Who is making a request: a signed-in user or an API token. `name` is the username or the token's name (it is
 * what `updated_by` records); `scope` confines what it sees and writes (null: every order).
 */
export interface Principal {
  kind: 'user' | 'token';
  id: string;
  name: string;
  role: Role;
  scope: Scope | null;
}

/**
 * The credential behind a principal, kept so a live socket can be closed when it ends: the session (by the
 * hash of its cookie) or the token, and when it lapses if nothing else happens.
 */
export type Credential =
  { kind: 'session'; id: string; userId: string; expiresAt: Date } | { kind: 'token'; id: string; expiresAt: Date };

/** The outcome of reading a request's credentials. */
export type Authentication =
  | { status: 'anonymous' }
  /** Credentials were sent but are not valid (unknown, expired, revoked, disabled user, malformed). */
  | { status: 'invalid'; reason: string }
  | { status: 'authenticated'; principal: Principal; credential: Credential };
