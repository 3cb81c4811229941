import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  CreatedTokenSchema,
  CreateTokenBodySchema,
  CreateUserBodySchema,
  DEFAULT_TOKEN_DAYS,
  ErrorBodySchema,
  LoginBodySchema,
  MeSchema,
  SESSION_COOKIE,
  TokenListResponseSchema,
  TokenParamsSchema,
  UpdateUserBodySchema,
  UserListResponseSchema,
  UserParamsSchema,
  UserSchema,
  type Me,
} from '@orders/contracts';
import type { AppConfig } from '../config.js';
import { KdfBusyError } from '../auth/password.js';
import type { Principal } from '../auth/principal.js';
import { toApiToken } from '../auth/tokens.js';
import { normalizeScope, toUser, type UserDocument } from '../auth/users.js';
import { ErrorCode } from '@orders/contracts';
import { forbidden, HttpError } from '../errors.js';

type ErrorResponses<C extends number> = { [K in C]: typeof ErrorBodySchema };

function errors<const C extends number>(...codes: C[]): ErrorResponses<C> {
  const descriptions: Record<number, string> = {
    400: 'Invalid input; `field` names it',
    401: 'No valid credentials (UNAUTHENTICATED) or a wrong username or password (INVALID_CREDENTIALS)',
    403: 'The role, the scope or the request origin does not allow this (FORBIDDEN)',
    404: 'No such user or token',
    409: 'The username is taken',
    429: 'Too many attempts; retry after Retry-After seconds (RATE_LIMITED)',
    503: 'Database unavailable',
  };
  const entries = codes.map((code) => [code, { ...ErrorBodySchema, description: descriptions[code] ?? 'Error' }]);
  return Object.fromEntries(entries) as ErrorResponses<C>;
}

const DAY_MS = 86_400_000;

function me(principal: Principal): Me {
  return { username: principal.name, kind: principal.kind, role: principal.role, scope: principal.scope };
}

/** User and token management is for admins with no scope: a scoped admin could otherwise widen its own reach. */
function requireUnscopedAdmin(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (principal === null) throw forbidden('Sign in first');
  if (principal.scope !== null) throw forbidden('Managing users and tokens needs an admin without a scope');
  return principal;
}

function rateLimited(seconds: number): HttpError {
  return new HttpError(429, ErrorCode.RateLimited, `Too many attempts; retry in ${seconds} s`, {
    headers: { 'retry-after': String(seconds) },
  });
}

/**
 * Sign-in, sign-out, who am I; users and API tokens (admin). Every route declares its access in `config`.
 * See docs/ARCHITECTURE.md, "Access control".
 */
const authRoutes: FastifyPluginCallbackTypebox<{ config: AppConfig }> = (fastify, { config }, done) => {
  const { service } = fastify.auth;
  const { users, sessions, tokens, throttle, hasher } = service;

  function setSessionCookie(request: FastifyRequest, reply: FastifyReply, secret: string): void {
    reply.setCookie(SESSION_COOKIE, secret, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      // Behind a TLS-terminating proxy the request itself is plain HTTP, but the browser's Origin says https.
      secure: request.protocol === 'https' || request.headers.origin?.startsWith('https://') === true,
      maxAge: Math.floor(config.auth.sessionMaxAgeMs / 1000),
    });
  }

  fastify.post(
    '/auth/login',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in: sets the session cookie',
        description:
          'A wrong username and a wrong password get the same answer. Repeated failures from one address are ' +
          'answered 429 with Retry-After.',
        body: LoginBodySchema,
        response: { 200: MeSchema, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (request, reply) => {
      // Login CSRF: a foreign page must not sign the browser in as someone else.
      if (!fastify.auth.sameSite(request, false)) throw forbidden('Sign in from this site');
      const { username, password } = request.body;
      const address = request.ip;
      const wait = await throttle.retryAfterSeconds(username, address);
      if (wait > 0) throw rateLimited(wait);
      let user: UserDocument | null;
      let valid: boolean;
      try {
        user = await users.byUsername(username);
        valid = user === null ? await hasher.verifyDummy(password) : await hasher.verify(password, user.password_hash);
      } catch (error) {
        if (error instanceof KdfBusyError) throw rateLimited(1);
        throw error;
      }
      if (user === null || !valid || user.disabled) {
        await throttle.recordFailure(username, address);
        request.log.info({ address }, 'sign-in failed');
        throw new HttpError(401, ErrorCode.InvalidCredentials, 'Wrong username or password');
      }
      await throttle.recordSuccess(username, address);
      const { secret, session } = await sessions.create(user._id);
      setSessionCookie(request, reply, secret);
      request.log.info({ actor: user.username }, 'signed in');
      return me(service.sessionPrincipal(user, session).principal);
    },
  );

  fastify.post(
    '/auth/logout',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign out: ends the session on every API process and clears the cookie',
        response: { 204: Type.Null({ description: 'Signed out (also when there was no session)' }), ...errors(403) },
      },
    },
    async (request, reply) => {
      const secret = request.cookies[SESSION_COOKIE];
      if (secret !== undefined && secret !== '') {
        if (!fastify.auth.sameSite(request, true)) throw forbidden('Sign out from this site');
        await sessions.revoke(secret);
      }
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );

  fastify.get(
    '/auth/me',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['auth'],
        summary: 'Who is signed in (or whose token this is), with role and scope',
        response: { 200: MeSchema, ...errors(401) },
      },
    },
    (request) => {
      if (request.principal === null) throw forbidden('Sign in first');
      return me(request.principal);
    },
  );

  fastify.get(
    '/auth/users',
    {
      config: { access: 'admin' },
      schema: { tags: ['auth'], summary: 'List users', response: { 200: UserListResponseSchema, ...errors(401, 403) } },
    },
    async (request) => {
      requireUnscopedAdmin(request);
      return { users: (await users.list()).map(toUser) };
    },
  );

  fastify.post(
    '/auth/users',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['auth'],
        summary: 'Create a user',
        body: CreateUserBodySchema,
        response: { 201: UserSchema, ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const actor = requireUnscopedAdmin(request);
      const { username, password, role, scope } = request.body;
      const result = await users.create({
        username,
        passwordHash: await hasher.hash(password),
        role,
        scope: normalizeScope(scope),
      });
      if (result.status === 'exists') {
        throw new HttpError(409, ErrorCode.UserExists, `User ${username} already exists`, { field: 'body/username' });
      }
      request.log.info({ actor: actor.name, user: username, role }, 'user created');
      return reply.code(201).send(toUser(result.user));
    },
  );

  fastify.patch(
    '/auth/users/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['auth'],
        summary: 'Change a user: role, scope, disabled, or a new password',
        description:
          'Disabling a user or setting a new password ends their sessions (their live sockets close with 4401); ' +
          'a new role or scope closes their live sockets with 4403.',
        params: UserParamsSchema,
        body: UpdateUserBodySchema,
        response: { 200: UserSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const actor = requireUnscopedAdmin(request);
      const { id } = request.params;
      const { role, scope, disabled, password } = request.body;
      const current = await users.byId(id);
      if (current === null) throw userNotFound(id);
      const losesAdmin = current.role === 'admin' && ((role !== undefined && role !== 'admin') || disabled === true);
      if (losesAdmin && !current.disabled && (await enabledAdmins()) <= 1) {
        throw forbidden('This is the only enabled admin; make another admin first');
      }
      const updated = await users.update(id, {
        ...(role !== undefined && { role }),
        ...(scope !== undefined && { scope }),
        ...(disabled !== undefined && { disabled }),
        ...(password !== undefined && { passwordHash: await hasher.hash(password) }),
      });
      if (updated === null) throw userNotFound(id);
      if (disabled === true || password !== undefined) await sessions.revokeAllOf(updated._id);
      request.log.info(
        { actor: actor.name, user: updated.username, changed: Object.keys(request.body) },
        'user changed',
      );
      return toUser(updated);
    },
  );

  async function enabledAdmins(): Promise<number> {
    return users.collection.countDocuments({ role: 'admin', disabled: false });
  }

  fastify.get(
    '/auth/tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['auth'],
        summary: 'List API tokens (never their secrets)',
        response: { 200: TokenListResponseSchema, ...errors(401, 403) },
      },
    },
    async (request) => {
      requireUnscopedAdmin(request);
      return { tokens: (await tokens.list()).map(toApiToken) };
    },
  );

  fastify.post(
    '/auth/tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['auth'],
        summary: 'Create an API token; its secret is in the answer, once',
        description: `Send it as Authorization: Bearer <token>. Expires after expires_in_days (default ${DEFAULT_TOKEN_DAYS}).`,
        body: CreateTokenBodySchema,
        response: { 201: CreatedTokenSchema, ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const actor = requireUnscopedAdmin(request);
      const { name, role, scope, expires_in_days: days = DEFAULT_TOKEN_DAYS } = request.body;
      const { secret, token } = await tokens.create({
        name,
        role,
        scope: normalizeScope(scope),
        expiresAt: new Date(Date.now() + days * DAY_MS),
        createdBy: actor.name,
      });
      request.log.info({ actor: actor.name, token: name, role }, 'token created');
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ...toApiToken(token), token: secret });
    },
  );

  fastify.delete(
    '/auth/tokens/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke an API token (its live sockets close with 4401 on every API process)',
        params: TokenParamsSchema,
        response: { 204: Type.Null({ description: 'Revoked' }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const actor = requireUnscopedAdmin(request);
      if (!(await tokens.revoke(request.params.id))) {
        throw new HttpError(404, ErrorCode.TokenNotFound, `Token ${request.params.id} does not exist`, {
          field: 'params/id',
        });
      }
      request.log.info({ actor: actor.name, token: request.params.id }, 'token revoked');
      return reply.code(204).send(null);
    },
  );
  done();
};

function userNotFound(id: string): HttpError {
  return new HttpError(404, ErrorCode.UserNotFound, `User ${id} does not exist`, { field: 'params/id' });
}

export default authRoutes;
