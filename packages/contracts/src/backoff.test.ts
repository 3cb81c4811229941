import { describe, expect, it } from 'vitest';
import { backoffDelay } from './index.js';

const justBelowOne = 1 - Number.EPSILON;

describe('backoffDelay', () => {
  it('doubles the window per attempt up to the cap', () => {
    const options = { baseMs: 100, capMs: 1000, random: () => justBelowOne };
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, options))).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('spreads delays over the whole window (full jitter), starting at zero', () => {
    expect(backoffDelay(3, { baseMs: 100, capMs: 1000, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { baseMs: 100, capMs: 1000, random: () => 0.5 })).toBe(200);
  });

  it('is reproducible with a given random source', () => {
    const sequence = (): (() => number) => {
      const values = [0.1, 0.7, 0.3];
      let i = 0;
      return () => values[i++ % values.length] ?? 0;
    };
    const first = sequence();
    const second = sequence();
    const delays = (random: () => number): number[] =>
      [1, 2, 3].map((attempt) => backoffDelay(attempt, { baseMs: 50, capMs: 10_000, random }));
    expect(delays(first)).toEqual(delays(second));
    expect(delays(sequence())).toEqual([5, 70, 60]);
  });

  it('stays finite and capped for huge attempt numbers and never goes negative for attempt 0', () => {
    const options = { baseMs: 500, capMs: 30_000, random: () => justBelowOne };
    expect(backoffDelay(10_000, options)).toBe(29_999);
    expect(backoffDelay(0, options)).toBe(499);
    expect(backoffDelay(1, { baseMs: 500, capMs: 30_000 })).toBeLessThan(500);
  });
});
