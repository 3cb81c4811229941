import { describe, expect, it } from 'vitest';
import { matchesOrderFilter, prepareSearch, searchProblem, searchTermsOf } from './index.js';

const gloves = {
  id: 1042,
  status: 'pending',
  customer_name: 'Alice Martin',
  product_name: 'Winter-gloves (XL)',
} as const;

describe('the search rule', () => {
  it('makes an order’s terms from the words of both names, case-folded, once each', () => {
    expect(searchTermsOf({ customer_name: 'Alice ALICE', product_name: 'Winter-gloves (XL)' })).toEqual([
      'alice',
      'winter',
      'gloves',
      'xl',
    ]);
    expect(searchTermsOf({ customer_name: 'Élodie Ørsted', product_name: '東京 mug' })).toEqual([
      'élodie',
      'ørsted',
      '東京',
      'mug',
    ]);
  });

  it('finds an order when every word starts one of its terms, or by its id', () => {
    for (const q of ['glo', 'GLOVES', 'alice glo', 'xl, martin', '1042', '#1042', ' #1042 ']) {
      expect(matchesOrderFilter(gloves, { q }), q).toBe(true);
    }
    for (const q of ['loves', 'alice hat', '104', '#10420', 'martinez']) {
      expect(matchesOrderFilter(gloves, { q }), q).toBe(false);
    }
  });

  it('gives one key to searches that find the same orders', () => {
    expect(prepareSearch('Gloves alice')?.key).toBe(prepareSearch('ALICE, gloves')?.key);
  });

  it('refuses a search without a letter or digit, too long or with too many words, and such a filter finds nothing', () => {
    expect(searchProblem('-- !')).toMatch(/letter or a digit/);
    expect(searchProblem('a'.repeat(101))).toMatch(/at most 100/);
    expect(searchProblem('a b c d e f g h i')).toMatch(/at most 8 words/);
    expect(searchProblem('a b c d e f g h')).toBeNull();
    expect(matchesOrderFilter(gloves, { q: '***' })).toBe(false);
  });
});
