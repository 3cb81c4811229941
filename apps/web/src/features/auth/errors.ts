import { ApiError, NETWORK_ERROR } from '../../lib/http.js';

/** "30 seconds", "2 minutes": a wait as people say it (rounded up, never "0 seconds"). */
export function formatWait(seconds: number): string {
  const whole = Math.max(1, Math.ceil(seconds));
  if (whole < 90) return `${whole} ${whole === 1 ? 'second' : 'seconds'}`;
  const minutes = Math.ceil(whole / 60);
  return `${minutes} minutes`;
}

/** Why a sign-in failed, for the person at the form. Never says whether the username exists. */
export function describeSignInProblem(error: unknown): string {
  if (!(error instanceof ApiError)) return 'Sign-in failed: something went wrong. Try again.';
  if (error.status === 401) return 'Wrong username or password.';
  if (error.status === 429) {
    return error.retryAfterSeconds === undefined
      ? 'Too many sign-in attempts. Wait a while, then try again.'
      : `Too many sign-in attempts. Try again in ${formatWait(error.retryAfterSeconds)}.`;
  }
  if (error.code === NETWORK_ERROR) return 'Sign-in failed: the server cannot be reached.';
  if (error.status === 400) return 'Enter a username and a password.';
  return `Sign-in failed: ${error.message}`;
}

/** Why an admin action was refused, for the admin page's messages. */
export function describeAdminProblem(error: unknown, action: string): string {
  if (!(error instanceof ApiError)) return `Could not ${action}: something went wrong.`;
  if (error.code === NETWORK_ERROR) return `Could not ${action}: the server cannot be reached.`;
  if (error.status === 403) return `Could not ${action}: your role does not allow it.`;
  return `Could not ${action}: ${error.message}`;
}
