import type { Db } from 'mongodb';
import type { AppConfig } from '../config.js';
import { CredentialCache } from './cache.js';
import { createPasswordHasher, type PasswordHasher } from './password.js';
import type { Authentication, Credential, Principal } from './principal.js';
import { hashSecret } from './secrets.js';
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

/** The cache key of the credentials a request carries (the header wins); null for none or a malformed header. */
function cacheKey(authorization: string | undefined, sessionSecret: string | undefined): string | null {
  if (authorization !== undefined) {
    const match = BEARER.exec(authorization.trim());
    return match === null ? null : `token:${match[1] ?? ''}`;
  }
  return sessionSecret !== undefined && sessionSecret !== '' ? `session:${sessionSecret}` : null;
}

/** A revocation the watcher did not bring (a missed change) holds on REST within this. */
const CACHE_TTL_MS = 1000;
const CACHE_MAX_ENTRIES = 10_000;

export interface AuthService {
  users: UsersStore;
  sessions: SessionsStore;
  tokens: TokensStore;
  throttle: LoginThrottle;
  hasher: PasswordHasher;
  /** Resolved credentials of the last second; the auth watcher's news forgets entries as it arrives. */
  cache: CredentialCache;
  ensureIndexes(): Promise<void>;
  /** Reads the `Authorization` header (which wins) or the session cookie's secret. */
  authenticate(authorization: string | undefined, sessionSecret: string | undefined): Promise<Authentication>;
  /**
   * The principal these credentials resolved to within the cache's TTL, without reading the database; null when
   * there is none cached (never read, expired, forgotten). Only for bookkeeping such as rate limits: it is no
   * authentication.
   */
  peek(authorization: string | undefined, sessionSecret: string | undefined): Principal | null;
  /** Reads a credential again (for a live socket): the principal it now stands for, or null when it ended. */
  recheck(credential: Credential): Promise<Authentication>;
  /** The principal and credential of a freshly created session. */
  sessionPrincipal(user: UserDocument, session: SessionDocument): { principal: Principal; credential: Credential };
}

export interface AuthServiceOptions {
  throttleRules?: ThrottleRules;
  /** The credential cache's clock (tests); default `Date.now`. */
  now?: () => number;
}

/** Builds the stores and the credential checks over the database. See docs/ARCHITECTURE.md, "Access control". */
export function createAuthService(db: Db, config: AppConfig, options: AuthServiceOptions = {}): AuthService {
  const cache = new CredentialCache({
    ttlMs: CACHE_TTL_MS,
    maxEntries: CACHE_MAX_ENTRIES,
    ...(options.now !== undefined && { now: options.now }),
  });
  // Every change this process makes to a credential forgets its cached entries once the database has it, so the
  // next request on this process reads the new state.
  const usersStore = createUsersStore(db.collection<UserDocument>(USERS_COLLECTION));
  const users: UsersStore = {
    ...usersStore,
    async update(id, changes, now) {
      const updated = await usersStore.update(id, changes, now);
      cache.forgetUser(id);
      return updated;
    },
  };
  const sessionsStore = createSessionsStore(db.collection<SessionDocument>(SESSIONS_COLLECTION), {
    idleMs: config.auth.sessionIdleMs,
    absoluteMs: config.auth.sessionMaxAgeMs,
  });
  const sessions: SessionsStore = {
    ...sessionsStore,
    async revoke(secret) {
      await sessionsStore.revoke(secret);
      cache.forgetSession(hashSecret(secret));
    },
    async revokeAllOf(userId) {
      await sessionsStore.revokeAllOf(userId);
      cache.forgetUser(userId.toHexString());
    },
  };
  const tokensStore = createTokensStore(db.collection<TokenDocument>(TOKENS_COLLECTION));
  const tokens: TokensStore = {
    ...tokensStore,
    async revoke(id) {
      const revoked = await tokensStore.revoke(id);
      cache.forgetToken(id);
      return revoked;
    },
  };
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
    cache,
    sessionPrincipal,
    async ensureIndexes() {
      await Promise.all([
        users.ensureIndexes(),
        sessions.ensureIndexes(),
        tokens.ensureIndexes(),
        throttle.ensureIndexes(),
      ]);
    },
    peek(authorization, sessionSecret) {
      const key = cacheKey(authorization, sessionSecret);
      return key === null ? null : (cache.get(key)?.principal ?? null);
    },
    async authenticate(authorization, sessionSecret) {
      let key: string;
      let lookup: () => Promise<Authentication>;
      if (authorization !== undefined) {
        const match = BEARER.exec(authorization.trim());
        if (match === null) return { status: 'invalid', reason: 'Authorization must be "Bearer <token>"' };
        const secret = match[1] ?? '';
        key = `token:${secret}`;
        lookup = async () => fromToken(await tokens.resolve(secret));
      } else if (sessionSecret !== undefined && sessionSecret !== '') {
        key = `session:${sessionSecret}`;
        lookup = async () => fromSession(await sessions.resolve(sessionSecret));
      } else {
        return { status: 'anonymous' };
      }
      const cached = cache.get(key);
      if (cached !== undefined) return cached;
      const epoch = cache.epoch;
      const result = await lookup();
      if (result.status === 'authenticated') cache.set(key, result, epoch);
      return result;
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
