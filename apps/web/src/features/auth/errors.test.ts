import { ErrorCode } from '@orders/contracts';
import { describe, expect, it } from 'vitest';
import { ApiError, NETWORK_ERROR } from '../../lib/http.js';
import { describeAdminProblem, describeSignInProblem, formatWait } from './errors.js';

describe('formatWait', () => {
  it('says seconds under a minute and a half, whole minutes (rounded up) above, never zero', () => {
    expect(formatWait(0)).toBe('1 second');
    expect(formatWait(1)).toBe('1 second');
    expect(formatWait(29.2)).toBe('30 seconds');
    expect(formatWait(89)).toBe('89 seconds');
    expect(formatWait(90)).toBe('2 minutes');
    expect(formatWait(900)).toBe('15 minutes');
  });
});

describe('describeSignInProblem', () => {
  it('never says whether the username exists', () => {
    expect(describeSignInProblem(new ApiError(401, ErrorCode.InvalidCredentials, 'Wrong username or password'))).toBe(
      'Wrong username or password.',
    );
  });

  it('gives the wait of a 429 when the server sent one, and a plain request to wait when not', () => {
    const throttled = (seconds?: number) =>
      new ApiError(429, ErrorCode.RateLimited, 'Too many attempts', undefined, seconds);
    expect(describeSignInProblem(throttled(600))).toBe('Too many sign-in attempts. Try again in 10 minutes.');
    expect(describeSignInProblem(throttled())).toBe('Too many sign-in attempts. Wait a while, then try again.');
  });

  it('tells an unreachable server from a refusal, and says something for anything else', () => {
    expect(describeSignInProblem(new ApiError(0, NETWORK_ERROR, 'unreachable'))).toBe(
      'Sign-in failed: the server cannot be reached.',
    );
    expect(describeSignInProblem(new ApiError(503, ErrorCode.DatabaseUnavailable, 'The database is down'))).toBe(
      'Sign-in failed: The database is down',
    );
    expect(describeSignInProblem(new TypeError('boom'))).toBe('Sign-in failed: something went wrong. Try again.');
  });
});

describe('describeAdminProblem', () => {
  it('says when the role does not allow the action', () => {
    expect(describeAdminProblem(new ApiError(403, ErrorCode.Forbidden, 'Admins only'), 'create the token')).toBe(
      'Could not create the token: your role does not allow it.',
    );
  });
});
