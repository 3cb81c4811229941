import { ErrorCode } from '@orders/contracts';

/**
 * An error a handler throws to answer a specific 4xx/5xx; the error handler turns it into an `ErrorBody`.
 * `field` follows the convention `<part>/<path>`: `body/status`, `querystring/cursor`, `params/id`,
 * `headers/if-match`, or just `body` when the body as a whole is wrong.
 */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: ErrorCode;
  readonly field: string | undefined;
  /** Response headers to add (e.g. the current ETag on a 412). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    statusCode: number,
    code: ErrorCode,
    message: string,
    options: { field?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.code = code;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }
}

export function orderNotFound(id: number): HttpError {
  return new HttpError(404, ErrorCode.OrderNotFound, `Order ${id} does not exist`, { field: 'params/id' });
}

/** 401: no valid credentials. `WWW-Authenticate` tells API clients which scheme to use. */
export function unauthenticated(message = 'Sign in or send Authorization: Bearer <token>'): HttpError {
  return new HttpError(401, ErrorCode.Unauthenticated, message, {
    headers: { 'www-authenticate': 'Bearer realm="orders"' },
  });
}

/** 403: the credentials are valid but do not allow this request. */
export function forbidden(message: string): HttpError {
  return new HttpError(403, ErrorCode.Forbidden, message);
}
