import { describe, expect, it } from 'vitest';
import { MATCH_ALL_ORDERS, matchesOrderFilter, matchesPreparedFilter, prepareOrderFilter } from './index.js';

const alice = { status: 'pending', customer_name: 'Alice Martin' } as const;
const bob = { status: 'shipped', customer_name: 'BOB' } as const;

describe('the order filter rule', () => {
  it('keeps every order without a filter, with an empty filter or with an empty status list', () => {
    expect(prepareOrderFilter(undefined)).toBe(MATCH_ALL_ORDERS);
    expect(prepareOrderFilter({})).toBe(MATCH_ALL_ORDERS);
    for (const filter of [undefined, {}, { status: [] }]) {
      expect(matchesOrderFilter(alice, filter)).toBe(true);
      expect(matchesOrderFilter(bob, filter)).toBe(true);
    }
  });

  it('keeps only the listed statuses', () => {
    expect(matchesOrderFilter(alice, { status: ['pending'] })).toBe(true);
    expect(matchesOrderFilter(bob, { status: ['pending'] })).toBe(false);
    expect(matchesOrderFilter(bob, { status: ['delivered', 'shipped'] })).toBe(true);
  });

  it('matches the customer as a substring, ignoring case on both sides', () => {
    expect(matchesOrderFilter(alice, { customer: 'MART' })).toBe(true);
    expect(matchesOrderFilter(bob, { customer: 'ob' })).toBe(true);
    expect(matchesOrderFilter(alice, { customer: 'bob' })).toBe(false);
  });

  it('needs both parts to match when both are given', () => {
    expect(matchesOrderFilter(alice, { status: ['pending'], customer: 'alice' })).toBe(true);
    expect(matchesOrderFilter(alice, { status: ['shipped'], customer: 'alice' })).toBe(false);
    expect(matchesOrderFilter(alice, { status: ['pending'], customer: 'bob' })).toBe(false);
  });

  it('gives filters that match the same orders the same key, and different filters different keys', () => {
    const a = prepareOrderFilter({ status: ['shipped', 'pending'], customer: 'Al' });
    const b = prepareOrderFilter({ status: ['pending', 'shipped'], customer: 'aL' });
    const c = prepareOrderFilter({ status: ['pending'], customer: 'al' });
    expect(a.key).toBe(b.key);
    expect(a.key).not.toBe(c.key);
    expect(a.key).not.toBe(MATCH_ALL_ORDERS.key);
    expect(matchesPreparedFilter(a, alice)).toBe(true);
    expect(matchesPreparedFilter(c, bob)).toBe(false);
  });
});
