import { ErrorCode } from '@orders/contracts';
import { describe, expect, it, vi } from 'vitest';
import { apiError, json } from '../test/fakeApi.js';
import { ApiError, onUnauthenticated, request } from './http.js';

describe('request', () => {
  it('reads Retry-After in seconds, or as an HTTP date, from a 429', async () => {
    const seconds = apiError(429, ErrorCode.RateLimited, 'Too many attempts');
    seconds.headers.set('retry-after', '17');
    vi.stubGlobal('fetch', () => Promise.resolve(seconds));
    await expect(request('/auth/login', { method: 'POST', body: '{}' })).rejects.toMatchObject({
      status: 429,
      code: ErrorCode.RateLimited,
      retryAfterSeconds: 17,
    });

    const dated = apiError(429, ErrorCode.RateLimited, 'Too many attempts');
    dated.headers.set('retry-after', new Date(Date.now() + 120_000).toUTCString());
    vi.stubGlobal('fetch', () => Promise.resolve(dated));
    const error = await request('/auth/login').catch((e: unknown) => e);
    if (!(error instanceof ApiError)) throw new Error('expected an ApiError');
    expect(error.retryAfterSeconds).toBeGreaterThan(100);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(120);
  });

  it('tells every listener of a 401 until it unsubscribes, and no listener of other refusals', async () => {
    const heard: string[] = [];
    const stopFirst = onUnauthenticated(() => heard.push('first'));
    const stopSecond = onUnauthenticated(() => heard.push('second'));
    vi.stubGlobal('fetch', () => Promise.resolve(apiError(401, ErrorCode.Unauthenticated, 'Sign in first')));
    await expect(request('/orders')).rejects.toMatchObject({ status: 401 });
    expect(heard).toEqual(['first', 'second']);

    stopFirst();
    await expect(request('/orders')).rejects.toMatchObject({ status: 401 });
    expect(heard).toEqual(['first', 'second', 'second']);

    vi.stubGlobal('fetch', () => Promise.resolve(apiError(403, ErrorCode.Forbidden, 'Admins only')));
    await expect(request('/auth/users')).rejects.toMatchObject({ status: 403 });
    vi.stubGlobal('fetch', () => Promise.resolve(json(200, { ok: true })));
    await expect(request('/auth/me')).resolves.toEqual({ ok: true });
    expect(heard).toEqual(['first', 'second', 'second']);
    stopSecond();
  });
});
