import type { Db } from 'mongodb';
import type { AppConfig } from '../config.js';
import { createPasswordHasher, type PasswordHasher } from './password.js';
import type { Authentication, Credential, Principal } from './principal.js';
import { createSessionsStore, SESSIONS_COLLECTION, type SessionDocument, type SessionsStore } from './sessions.js';
import {
  createLoginThrottle,
  DEFAULT_THROTTLE_RULES,
  THROTTLE_COLLECTION,
  type LoginThrottle,
  type ThrottleDocument,
  type ThrottleRules,
} from './throttle.js';
import { createTokensStore, TOKENS_COLLECTION, type TokenDocument, type TokensStore } from './tokens.js';
import { createUsersStore, USERS_COLLECTION, type UserDocument, type UsersStore } from './users.js';

/** Bearer secrets look like this; anything else in an Authorization header is refused without a lookup. */
const BEARER = /^Bearer ([A-Za-z0-9_-]{16,200})$/;

export interface AuthService {
  users: UsersStore;
  sessions: SessionsStore;
  tokens: TokensStore;
  throttle: LoginThrottle;
  hasher: PasswordHasher;
  ensureIndexes(): Promise<void>;
  /** Reads the `Authorization` header (which wins) or the session cookie's secret. */
  authenticate(authorization: string | undefined, sessionSecret: string | undefined): Promise<Authentication>;
  /** Reads a credential again (for a live socket): the principal it now stands for, or null when it ended. */
  recheck(credential: Credential): Promise<Authentication>;
  /** The principal and credential of a freshly created session. */
  sessionPrincipal(user: UserDocument, session: SessionDocument): { principal: Principal; credential: Credential };
}

export interface AuthServiceOptions {
  throttleRules?: ThrottleRules;
}

/** Builds the stores and the credential checks over the database. See docs/ARCHITECTURE.md, "Access control". */
export function createAuthService(db: Db, config: AppConfig, options: AuthServiceOptions = {}): AuthService {
  const users = createUsersStore(db.collection<UserDocument>(USERS_COLLECTION));
  const sessions = createSessionsStore(db.collection<SessionDocument>(SESSIONS_COLLECTION), {
    idleMs: config.auth.sessionIdleMs,
    absoluteMs: config.auth.sessionMaxAgeMs,
  });
  const tokens = createTokensStore(db.collection<TokenDocument>(TOKENS_COLLECTION));
  const throttle = createLoginThrottle(
    db.collection<ThrottleDocument>(THROTTLE_COLLECTION),
    options.throttleRules ?? DEFAULT_THROTTLE_RULES,
  );
  const hasher = createPasswordHasher({ logN: config.auth.scryptLogN, r: 8, p: 1 });

  function sessionPrincipal(user: UserDocument, session: SessionDocument) {
    return {
      principal: userPrincipal(user),
      credential: {
        kind: 'session' as const,
        id: session._id,
        userId: user._id.toHexString(),
        expiresAt: session.idle_expires_at < session.expires_at ? session.idle_expires_at : session.expires_at,
      },
    };
  }

  async function fromSession(session: SessionDocument | null): Promise<Authentication> {
    if (session === null) return { status: 'invalid', reason: 'The session has ended; sign in again' };
    const user = await users.byId(session.user_id.toHexString());
    if (user === null || user.disabled) return { status: 'invalid', reason: 'The session has ended; sign in again' };
    return { status: 'authenticated', ...sessionPrincipal(user, session) };
  }

  function fromToken(token: TokenDocument | null): Authentication {
    if (token === null) return { status: 'invalid', reason: 'The token is unknown, revoked or expired' };
    return {
      status: 'authenticated',
      principal: {
        kind: 'token',
        id: token._id.toHexString(),
        name: token.name,
        role: token.role,
        scope: token.scope,
      },
      credential: { kind: 'token', id: token._id.toHexString(), expiresAt: token.expires_at },
    };
  }

  return {
    users,
    sessions,
    tokens,
    throttle,
    hasher,
    sessionPrincipal,
    async ensureIndexes() {
      await Promise.all([
        users.ensureIndexes(),
        sessions.ensureIndexes(),
        tokens.ensureIndexes(),
        throttle.ensureIndexes(),
      ]);
    },
    async authenticate(authorization, sessionSecret) {
      if (authorization !== undefined) {
        const match = BEARER.exec(authorization.trim());
        if (match === null) return { status: 'invalid', reason: 'Authorization must be "Bearer <token>"' };
        return fromToken(await tokens.resolve(match[1] ?? ''));
      }
      if (sessionSecret !== undefined && sessionSecret !== '')
        return fromSession(await sessions.resolve(sessionSecret));
      return { status: 'anonymous' };
    },
    async recheck(credential) {
      return credential.kind === 'token'
        ? fromToken(await tokens.byId(credential.id))
        : fromSession(await sessions.byId(credential.id));
    },
  };
}

function userPrincipal(user: UserDocument): Principal {
  return { kind: 'user', id: user._id.toHexString(), name: user.username, role: user.role, scope: user.scope };
}
