import { Type, type Static } from '@sinclair/typebox';
import { ORDER_STATUSES, OrderStatusSchema, type Order } from './order.js';

/**
 * Roles, weakest first: each role can do everything the ones before it can.
 * `viewer` reads and subscribes; `operator` also creates and updates orders; `admin` also deletes orders and
 * manages users and tokens. See docs/ARCHITECTURE.md, "Access control".
 */
export const Role = {
  Viewer: 'viewer',
  Operator: 'operator',
  Admin: 'admin',
} as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ROLES: readonly Role[] = Object.values(Role);

export const RoleSchema = Type.Union(
  ROLES.map((role) => Type.Literal(role)),
  { $id: 'Role', description: 'viewer | operator | admin' },
);

/** True when `role` grants at least what `required` grants. */
export function roleAllows(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}

/**
 * What a user or token may see and write: a filter of the subscription's shape. An empty scope (`{}`) or `null`
 * means every order. A scoped principal never learns of an order outside its scope by any path.
 */
export const ScopeSchema = Type.Object(
  {
    customer: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Case-insensitive substring of customer_name' }),
    ),
    status: Type.Optional(
      Type.Array(OrderStatusSchema, { minItems: 1, maxItems: ORDER_STATUSES.length, uniqueItems: true }),
    ),
  },
  { $id: 'Scope', additionalProperties: false },
);
export type Scope = Static<typeof ScopeSchema>;

const NullableScopeSchema = Type.Union([ScopeSchema, Type.Null()], {
  description: 'null: every order',
});

/** True when `order` lies inside `scope` (a null or empty scope holds every order). Same rule as a filter. */
export function orderInScope(order: Pick<Order, 'customer_name' | 'status'>, scope: Scope | null): boolean {
  if (scope === null) return true;
  if (scope.status !== undefined && !scope.status.includes(order.status)) return false;
  if (scope.customer !== undefined && !order.customer_name.toLowerCase().includes(scope.customer.toLowerCase())) {
    return false;
  }
  return true;
}

export const USERNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$';
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

const UsernameSchema = Type.String({
  pattern: USERNAME_PATTERN,
  description: '1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit',
});
const NewPasswordSchema = Type.String({
  minLength: MIN_PASSWORD_LENGTH,
  maxLength: MAX_PASSWORD_LENGTH,
  description: `${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters`,
});

export const LoginBodySchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
  },
  { $id: 'LoginBody', additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBodySchema>;

/** Who the caller is: the answer of `GET /auth/me` and of a successful `POST /auth/login`. */
export const MeSchema = Type.Object(
  {
    /** A user's username, or a token's name. */
    username: Type.String(),
    kind: Type.Union([Type.Literal('user'), Type.Literal('token')]),
    role: RoleSchema,
    scope: NullableScopeSchema,
  },
  { $id: 'Me', additionalProperties: false },
);
export type Me = Static<typeof MeSchema>;

/** A user as the API shows it: never the password hash. */
export const UserSchema = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    role: RoleSchema,
    scope: NullableScopeSchema,
    disabled: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'User', additionalProperties: false },
);
export type User = Static<typeof UserSchema>;

export const UserListResponseSchema = Type.Object(
  { users: Type.Array(UserSchema) },
  { $id: 'UserListResponse', additionalProperties: false },
);
export type UserListResponse = Static<typeof UserListResponseSchema>;

export const CreateUserBodySchema = Type.Object(
  {
    username: UsernameSchema,
    password: NewPasswordSchema,
    role: RoleSchema,
    scope: Type.Optional(NullableScopeSchema),
  },
  { $id: 'CreateUserBody', additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBodySchema>;

/** Any subset: a new role, a new scope (`null` lifts it), disable/enable, or a password reset. */
export const UpdateUserBodySchema = Type.Object(
  {
    role: Type.Optional(RoleSchema),
    scope: Type.Optional(NullableScopeSchema),
    disabled: Type.Optional(Type.Boolean()),
    password: Type.Optional(NewPasswordSchema),
  },
  { $id: 'UpdateUserBody', additionalProperties: false, minProperties: 1 },
);
export type UpdateUserBody = Static<typeof UpdateUserBodySchema>;

export const UserParamsSchema = Type.Object(
  { id: Type.String({ pattern: '^[0-9a-f]{24}$' }) },
  { additionalProperties: false },
);
export type UserParams = Static<typeof UserParamsSchema>;

export const DEFAULT_TOKEN_DAYS = 90;
export const MAX_TOKEN_DAYS = 3650;

/** An API token as listed: never its secret. */
export const ApiTokenSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: RoleSchema,
    scope: NullableScopeSchema,
    expires_at: Type.String({ format: 'date-time' }),
    created_at: Type.String({ format: 'date-time' }),
    /** Username of the admin who created it. */
    created_by: Type.String(),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { $id: 'ApiToken', additionalProperties: false },
);
export type ApiToken = Static<typeof ApiTokenSchema>;

export const TokenListResponseSchema = Type.Object(
  { tokens: Type.Array(ApiTokenSchema) },
  { $id: 'TokenListResponse', additionalProperties: false },
);
export type TokenListResponse = Static<typeof TokenListResponseSchema>;

export const CreateTokenBodySchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
    role: RoleSchema,
    scope: Type.Optional(NullableScopeSchema),
    expires_in_days: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_TOKEN_DAYS, description: `default ${DEFAULT_TOKEN_DAYS}` }),
    ),
  },
  { $id: 'CreateTokenBody', additionalProperties: false },
);
export type CreateTokenBody = Static<typeof CreateTokenBodySchema>;

/** The answer to `POST /auth/tokens`: the only time the secret is ever shown. */
export const CreatedTokenSchema = Type.Composite(
  [
    ApiTokenSchema,
    Type.Object({ token: Type.String({ description: 'Send as Authorization: Bearer <token>; shown once' }) }),
  ],
  { $id: 'CreatedToken', additionalProperties: false },
);
export type CreatedToken = Static<typeof CreatedTokenSchema>;

export const TokenParamsSchema = Type.Object(
  { id: Type.String({ pattern: '^[0-9a-f]{24}$' }) },
  { additionalProperties: false },
);
export type TokenParams = Static<typeof TokenParamsSchema>;

/** Error codes of sign-in and access control (see `ErrorBody.code`); throttled sign-ins answer `ErrorCode.RateLimited`. */
export const AuthErrorCode = {
  /** No valid credentials (none, expired, revoked, disabled user): sign in again. */
  Unauthenticated: 'UNAUTHENTICATED',
  /** Valid credentials, but the role or scope does not allow this request (or it came from a foreign site). */
  Forbidden: 'FORBIDDEN',
  /** Wrong username or password; says nothing about which. */
  InvalidCredentials: 'INVALID_CREDENTIALS',
  /** A credential was sent in the URL (query string), where it would end up in logs and history. */
  CredentialsInUrl: 'CREDENTIALS_IN_URL',
  UserExists: 'USER_EXISTS',
  UserNotFound: 'USER_NOT_FOUND',
  TokenNotFound: 'TOKEN_NOT_FOUND',
} as const;
export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

/** Name of the session cookie set by `POST /auth/login`. */
export const SESSION_COOKIE = 'orders_session';
