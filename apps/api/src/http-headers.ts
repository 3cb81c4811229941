import { ErrorCode } from '@orders/contracts';
import { HttpError } from './errors.js';

/** The ETag of an order version: a strong validator, `"<version>"`. */
export function etag(version: number): string {
  return `"${version}"`;
}

/**
 * Parses an `If-Match` header into the version the client expects. Accepts `"3"`, `3` and `W/"3"`
 * (clients and proxies vary); `*` or no header means "any version". Anything else is a 400.
 */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return undefined;
  const match = /^(?:W\/)?"?(\d{1,15})"?$/.exec(value);
  const version = match === null ? NaN : Number(match[1]);
  if (!Number.isSafeInteger(version) || version < 1 || value.endsWith('"') !== /^(?:W\/)?"/.test(value)) {
    throw new HttpError(400, ErrorCode.ValidationFailed, 'headers/if-match must be an order version such as "3"', {
      field: 'headers/if-match',
    });
  }
  return version;
}
