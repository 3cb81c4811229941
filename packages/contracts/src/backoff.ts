/** Retry timing: capped exponential backoff with full jitter. */
export interface BackoffOptions {
  /** Ceiling of the first attempt's delay (ms). */
  readonly baseMs: number;
  /** No delay exceeds this (ms). */
  readonly capMs: number;
  /** Uniform in [0, 1); pass a seeded source to make delays reproducible. Defaults to `Math.random`. */
  readonly random?: () => number;
}

/** The exponent stops growing here, long before `2 ** n` could overflow to Infinity. */
const MAX_DOUBLINGS = 30;

/**
 * Delay before retry `attempt` (1-based): uniform in [0, min(capMs, baseMs·2^(attempt-1))), whole milliseconds.
 * Full jitter spreads the retries of many clients (dashboards after a restart, API processes after a database
 * outage) over the whole window instead of letting them retry in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const doublings = Math.max(0, Math.min(Math.floor(attempt) - 1, MAX_DOUBLINGS));
  const ceiling = Math.max(0, Math.min(options.capMs, options.baseMs * 2 ** doublings));
  const random = options.random ?? Math.random;
  return Math.floor(random() * ceiling);
}
