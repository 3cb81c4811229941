import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, type ErrorBody } from '@orders/contracts';
import { isDatabaseUnavailable } from './driver-errors.js';
import { HttpError } from './errors.js';

/** Paths the API owns; the dashboard's SPA fallback never answers them. */
const API_PREFIXES = ['/orders', '/ws', '/docs', '/openapi.json', '/healthz', '/readyz'];

/** Builds the one error body every error response uses. */
export function errorBody(statusCode: number, code: string, message: string, field?: string): ErrorBody {
  const body: ErrorBody = { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', code, message };
  if (field !== undefined) body.field = field;
  return body;
}

interface MappedError {
  body: ErrorBody;
  headers: Record<string, string>;
}

/** Maps anything a handler or Fastify throws to a status and body; never exposes a 5xx's internals. */
export function mapError(error: unknown): MappedError {
  if (error instanceof HttpError) {
    return { body: errorBody(error.statusCode, error.code, error.message, error.field), headers: { ...error.headers } };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      body: errorBody(503, ErrorCode.DatabaseUnavailable, 'The database is unavailable; retry shortly'),
      headers: { 'retry-after': '1' },
    };
  }
  // Anything can be thrown (`throw undefined` included): only an object has fields to read.
  const fastifyError = (typeof error === 'object' && error !== null ? error : {}) as Partial<FastifyError> & {
    validationContext?: string;
  };
  if (Array.isArray(fastifyError.validation) && fastifyError.validation.length > 0) {
    const first = fastifyError.validation[0]!;
    const part = fastifyError.validationContext ?? 'body';
    const field = `${part}${first.instancePath}`;
    return {
      body: errorBody(400, ErrorCode.ValidationFailed, `${field} ${first.message ?? 'is invalid'}`, field),
      headers: {},
    };
  }
  const message = typeof fastifyError.message === 'string' ? fastifyError.message : '';
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        body: errorBody(413, ErrorCode.BodyTooLarge, 'The request body is larger than the limit', 'body'),
        headers: {},
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        body: errorBody(
          415,
          ErrorCode.UnsupportedMediaType,
          'Send the body as application/json',
          'headers/content-type',
        ),
        headers: {},
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        body: errorBody(
          400,
          ErrorCode.InvalidJson,
          'The body is empty but the content type is application/json',
          'body',
        ),
        headers: {},
      };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { body: errorBody(400, ErrorCode.InvalidJson, 'The body is not valid JSON', 'body'), headers: {} };
    default:
      // Any other code (or none) is mapped by its status below.
      break;
  }
  const statusCode = typeof fastifyError.statusCode === 'number' ? fastifyError.statusCode : 500;
  if (statusCode === 400 && error instanceof SyntaxError) {
    return { body: errorBody(400, ErrorCode.InvalidJson, 'The body is not valid JSON', 'body'), headers: {} };
  }
  if (statusCode >= 400 && statusCode < 500) {
    const code =
      typeof fastifyError.code === 'string' && !fastifyError.code.startsWith('FST_')
        ? fastifyError.code
        : codeFor(statusCode);
    return { body: errorBody(statusCode, code, message || (STATUS_CODES[statusCode] ?? 'Bad request')), headers: {} };
  }
  // A 5xx keeps its status (a plugin's 503 stays a 503) but never its message.
  const serverStatus = statusCode >= 500 && statusCode < 600 ? statusCode : 500;
  return { body: errorBody(serverStatus, ErrorCode.InternalError, 'Internal server error'), headers: {} };
}

/** A stable code from a status's reason phrase: 405 → METHOD_NOT_ALLOWED. */
function codeFor(statusCode: number): string {
  return (STATUS_CODES[statusCode] ?? 'Error').toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

function isApiPath(url: string): boolean {
  const path = url.split('?', 1)[0] ?? url;
  return API_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/** Installs the one error handler and the not-found handler (with the dashboard's SPA fallback). */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { body, headers } = mapError(error);
    if (body.statusCode >= 500) {
      request.log.error({ err: error, statusCode: body.statusCode, code: body.code }, 'request failed');
    } else {
      const reason = error instanceof Error ? error.message : String(error);
      request.log.info({ statusCode: body.statusCode, code: body.code, field: body.field, reason }, 'request rejected');
    }
    return reply.code(body.statusCode).headers(headers).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] ?? request.url;
    const lastSegment = path.slice(path.lastIndexOf('/') + 1);
    const wantsPage =
      (request.method === 'GET' || request.method === 'HEAD') && !isApiPath(path) && !lastSegment.includes('.');
    if (wantsPage && app.dashboardAvailable) {
      return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').sendFile('index.html');
    }
    const message =
      wantsPage && path === '/'
        ? 'The dashboard is not built: run npm run build (or set WEB_DIST_DIR)'
        : `Route ${request.method} ${path} does not exist`;
    return reply.code(404).send(errorBody(404, ErrorCode.RouteNotFound, message));
  });
}
