import { AuthErrorCode } from './auth.js';

/**
 * Stable, machine-readable error codes: every HTTP error body carries one (`ErrorBody.code`), and so does the
 * socket's `{type:'error'}` message. Clients switch on these, never on messages.
 */
export const ErrorCode = {
  ValidationFailed: 'VALIDATION_FAILED',
  InvalidJson: 'INVALID_JSON',
  /** Invalid UTF-8, a lone surrogate or a control character in a body string, query parameter or header. */
  InvalidText: 'INVALID_TEXT',
  /** A header that must appear once (Host, Content-Type, If-Match…) was sent more than once. */
  DuplicateHeader: 'DUPLICATE_HEADER',
  ForbiddenKey: 'FORBIDDEN_KEY',
  InvalidCursor: 'INVALID_CURSOR',
  /** `as_of` is in the future or older than the history's retention. */
  AsOfOutOfRange: 'AS_OF_OUT_OF_RANGE',
  RouteNotFound: 'ROUTE_NOT_FOUND',
  OrderNotFound: 'ORDER_NOT_FOUND',
  OrderExists: 'ORDER_EXISTS',
  IdempotencyInFlight: 'IDEMPOTENCY_IN_FLIGHT',
  IdempotencyKeyReused: 'IDEMPOTENCY_KEY_REUSED',
  VersionMismatch: 'VERSION_MISMATCH',
  BodyTooLarge: 'BODY_TOO_LARGE',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  /** Too many requests from this client in the current window; `Retry-After` says when to try again. */
  RateLimited: 'RATE_LIMITED',
  DatabaseUnavailable: 'DATABASE_UNAVAILABLE',
  InternalError: 'INTERNAL_ERROR',
  /** A socket frame that is not a valid client message (the socket stays open, up to a limit). */
  BadMessage: 'BAD_MESSAGE',
  /** Sign-in and access control: UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, … */
  ...AuthErrorCode,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
