import type { IncomingMessage } from 'node:http';
import { ErrorCode, decodeUtf8Strict, textProblem, type TextProblem } from '@orders/contracts';
import { HttpError } from './errors.js';

/*
 * Text at the door: the request line and every header value are checked before routing, so no handler, log line
 * or database query ever sees text the client did not mean (or meant to smuggle). Bodies are checked by the JSON
 * parser. See docs/ARCHITECTURE.md, "Abuse limits".
 */

/**
 * Headers that carry one value: a second copy is either an attack (two Host headers routed differently by a proxy
 * and by us) or a client bug. Node keeps the first copy of most of these and silently drops the rest, and joins
 * If-Match or Idempotency-Key copies with ", ", so a duplicate is refused instead.
 */
const SINGLE_VALUE_HEADERS = new Set([
  'host',
  'authorization',
  'content-length',
  'content-type',
  'if-match',
  'idempotency-key',
  'origin',
  'proxy-authorization',
  'referer',
  'user-agent',
]);

const PROBLEM_WORDS: Record<TextProblem, string> = {
  invalid_utf8: 'is not valid UTF-8',
  lone_surrogate: 'contains a lone surrogate',
  control_character: 'contains a control character',
};

function invalidText(field: string, problem: TextProblem): HttpError {
  return new HttpError(400, ErrorCode.InvalidText, `${field} ${PROBLEM_WORDS[problem]}`, { field });
}

/**
 * Decodes percent-escapes into bytes, then the bytes as strict UTF-8. Node hands over the request line and header
 * values as latin1 (one char per byte), so `latin1` turns them back into the bytes the client sent.
 */
function decodeComponent(raw: string, plusIsSpace: boolean): { text: string } | { problem: TextProblem } {
  const spaced = plusIsSpace ? raw.replaceAll('+', ' ') : raw;
  const unescaped = spaced.replace(/%([0-9a-fA-F]{2})/g, (_match, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
  const text = decodeUtf8Strict(Buffer.from(unescaped, 'latin1'));
  if (text === null) return { problem: 'invalid_utf8' };
  const problem = textProblem(text);
  return problem === null ? { text } : { problem };
}

function isPrintableAscii(value: string): boolean {
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}

/** The first problem with the request's URL: the path, then each query parameter (named when its name is valid). */
export function urlTextError(url: string): HttpError | null {
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  if (!isPrintableAscii(path) || path.includes('%')) {
    const decoded = decodeComponent(path, false);
    if ('problem' in decoded) return invalidText('url', decoded.problem);
  }
  if (queryStart === -1) return null;
  for (const pair of url.slice(queryStart + 1).split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const rawName = equals === -1 ? pair : pair.slice(0, equals);
    const name = decodeComponent(rawName, true);
    if ('problem' in name) return invalidText('querystring', name.problem);
    if (equals === -1) continue;
    const value = decodeComponent(pair.slice(equals + 1), true);
    if ('problem' in value) return invalidText(`querystring/${name.text}`, value.problem);
  }
  return null;
}

/**
 * The first problem with the request's headers: a repeated single-value header, or a value that is not UTF-8 or
 * holds a control character (a tab inside a value is allowed: HTTP defines it as whitespace there).
 */
export function headerTextError(rawHeaders: readonly string[]): HttpError | null {
  const seen = new Set<string>();
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = (rawHeaders[index] ?? '').toLowerCase();
    if (SINGLE_VALUE_HEADERS.has(name)) {
      if (seen.has(name)) {
        return new HttpError(400, ErrorCode.DuplicateHeader, `headers/${name} must be sent once`, {
          field: `headers/${name}`,
        });
      }
      seen.add(name);
    }
    const value = rawHeaders[index + 1] ?? '';
    if (isPrintableAscii(value)) continue;
    const text = decodeUtf8Strict(Buffer.from(value, 'latin1'));
    if (text === null) return invalidText(`headers/${name}`, 'invalid_utf8');
    const problem = textProblem(text.replaceAll('\t', ' '));
    if (problem !== null) return invalidText(`headers/${name}`, problem);
  }
  return null;
}

/** The first text problem in the request line or headers, or null. */
export function requestTextError(raw: IncomingMessage): HttpError | null {
  return headerTextError(raw.rawHeaders) ?? urlTextError(raw.url ?? '/');
}
