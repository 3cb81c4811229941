import type { ErrorBody } from '@orders/contracts';

/** `ApiError.code` when the server could not be reached at all (so it sent no `ErrorCode`). */
export const NETWORK_ERROR = 'NETWORK';

/** A refusal from the API (its ErrorBody), or a failure to reach it (`status` 0, code `NETWORK_ERROR`). */
export class ApiError extends Error {
  readonly status: number;
  /**
   * The API's `ErrorCode` (compare with its constants), `NETWORK_ERROR`, or `HTTP_<status>` for an answer without
   * an error body. A string, not the union: a newer server may send a code this dashboard does not know yet.
   */
  readonly code: string;
  readonly field: string | undefined;
  /** From `Retry-After` on a 429: how many seconds to wait before trying again. */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, code: string, message: string, field?: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const body = value as Record<string, unknown>;
  return typeof body.code === 'string' && typeof body.message === 'string';
}

/** `Retry-After` in seconds (the API sends delta-seconds; an HTTP date is read too). */
function retryAfterSeconds(response: Response): number | undefined {
  const header = response.headers.get('retry-after');
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

const unauthenticatedListeners = new Set<() => void>();

/**
 * Calls `listener` whenever the API answers 401: the session has ended (signed out elsewhere, expired, revoked, user
 * disabled), whichever request noticed it first. Returns the unsubscribe function.
 */
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticatedListeners.add(listener);
  return () => {
    unauthenticatedListeners.delete(listener);
  };
}

/**
 * One JSON request to the API on this origin. The session cookie goes along by itself (same origin); a refusal
 * becomes an `ApiError` carrying the API's error code, and a 401 also tells every `onUnauthenticated` listener.
 */
export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  // The caller's headers win over these defaults, whatever form (object, pairs, Headers) they come in.
  const headers = new Headers(init.headers);
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw new ApiError(0, NETWORK_ERROR, 'The server cannot be reached.');
  }
  if (response.status === 204) return undefined as T;
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = isErrorBody(body)
      ? new ApiError(
          response.status,
          body.code,
          body.message,
          typeof body.field === 'string' ? body.field : undefined,
          retryAfterSeconds(response),
        )
      : new ApiError(
          response.status,
          'HTTP_' + String(response.status),
          `The server answered ${response.status}.`,
          undefined,
          retryAfterSeconds(response),
        );
    if (response.status === 401) for (const listener of Array.from(unauthenticatedListeners)) listener();
    throw error;
  }
  return body as T;
}
