import { describe, expect, it } from 'vitest';
import { backoffDelay } from '@orders/contracts';
import { DEFAULT_RECONNECT_BACKOFF as DEFAULT_BACKOFF } from './socket.js';

describe('the default reconnect timing', () => {
  const worst = { ...DEFAULT_BACKOFF, random: () => 0.999999 };

  it('doubles the ceiling with each attempt and stops at the cap', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((attempt) => backoffDelay(attempt, worst));
    expect(ceilings).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999]);
  });

  it('draws uniformly below the ceiling (full jitter), down to no wait at all', () => {
    expect(backoffDelay(4, { ...DEFAULT_BACKOFF, random: () => 0 })).toBe(0);
    expect(backoffDelay(4, { ...DEFAULT_BACKOFF, random: () => 0.5 })).toBe(2000);
  });

  it('stays finite for absurd attempt counts', () => {
    expect(backoffDelay(10_000, worst)).toBe(29999);
  });
});
