import type { FastifyRequest } from 'fastify';
import { ErrorCode, decodeUtf8Strict, findInvalidText } from '@orders/contracts';
import { HttpError } from './errors.js';

/** Keys that could change an object's prototype once the body is copied or merged somewhere. */
function forbiddenKey(key: string, value: unknown): boolean {
  if (key === '__proto__') return true;
  return key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype');
}

/**
 * The only body parser: JSON. Compared with Fastify's default it names the failure (INVALID_JSON vs
 * FORBIDDEN_KEY with the offending key) instead of one generic message. The reviver sees decoded keys, so
 * escaped spellings such as "\u005f_proto__" are caught too. The bytes must be UTF-8 and every string (key or
 * value) free of lone surrogates and control characters (INVALID_TEXT): text is refused, never repaired into
 * U+FFFD. See docs/ARCHITECTURE.md, "Abuse limits".
 */
export function parseJsonBody(
  request: FastifyRequest,
  bytes: Buffer,
  done: (error: Error | null, value?: unknown) => void,
): void {
  if (bytes.length === 0) {
    // A DELETE may carry a JSON content type with no body; anything else with an empty body is a mistake.
    if (request.method === 'DELETE') {
      done(null, undefined);
      return;
    }
    done(
      new HttpError(400, ErrorCode.InvalidJson, 'The body is empty but the content type is application/json', {
        field: 'body',
      }),
    );
    return;
  }
  const body = decodeUtf8Strict(bytes);
  if (body === null) {
    done(new HttpError(400, ErrorCode.InvalidText, 'The body is not valid UTF-8', { field: 'body' }));
    return;
  }
  const found: { key: string | null } = { key: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body, (key, value: unknown) => {
      if (found.key === null && forbiddenKey(key, value)) found.key = key;
      return value;
    });
  } catch {
    done(new HttpError(400, ErrorCode.InvalidJson, 'The body is not valid JSON', { field: 'body' }));
    return;
  }
  if (found.key !== null) {
    const field = `body/${found.key}`;
    done(new HttpError(400, ErrorCode.ForbiddenKey, `${field} is not an accepted field`, { field }));
    return;
  }
  const invalid = findInvalidText(parsed);
  if (invalid !== null) {
    const field = `body${invalid.path}`;
    const what = invalid.problem === 'lone_surrogate' ? 'a lone surrogate' : 'a control character';
    done(new HttpError(400, ErrorCode.InvalidText, `${field} contains ${what}`, { field }));
    return;
  }
  done(null, parsed);
}
