import { describe, expect, it } from 'vitest';
import { decodeUtf8Strict, findInvalidText, textProblem } from './text.js';

describe('textProblem', () => {
  it('accepts ordinary text, accents, CJK and astral characters (surrogate pairs)', () => {
    for (const text of ['Bob', 'Zoë Ångström', '東京', 'emoji \u{1F600} ok', '', ' spaced out ']) {
      expect(textProblem(text)).toBeNull();
    }
  });

  it('refuses lone surrogates: high alone, low alone, high at the end, reversed pair', () => {
    for (const text of ['\ud800', 'a\udc00b', 'end\ud83d', '\ude00\ud83d']) {
      expect(textProblem(text)).toBe('lone_surrogate');
    }
  });

  it('refuses NUL, tab, newline, carriage return, escape, DEL and C1 controls', () => {
    for (const text of ['\u0000', 'a\tb', 'a\nb', 'a\rb', '\u001b[31m', 'del\u007f', 'c1\u0085']) {
      expect(textProblem(text)).toBe('control_character');
    }
  });
});

describe('decodeUtf8Strict', () => {
  it('decodes UTF-8 and refuses invalid sequences instead of replacing them', () => {
    expect(decodeUtf8Strict(Buffer.from('Zoë \u{1F600}', 'utf8'))).toBe('Zoë \u{1F600}');
    expect(decodeUtf8Strict(Uint8Array.from([0x42, 0xff, 0x42]))).toBeNull();
    expect(decodeUtf8Strict(Uint8Array.from([0xc3]))).toBeNull();
    // CESU-8 (an encoded surrogate) is not UTF-8.
    expect(decodeUtf8Strict(Uint8Array.from([0xed, 0xa0, 0x80]))).toBeNull();
  });

  it('keeps a byte order mark rather than silently dropping it', () => {
    expect(decodeUtf8Strict(Uint8Array.from([0xef, 0xbb, 0xbf, 0x41]))).toBe('\ufeffA');
  });
});

describe('findInvalidText', () => {
  it('finds a refused string value or key anywhere, with its path', () => {
    expect(findInvalidText({ a: ['ok', { b: 'x\u0000' }] })).toEqual({ path: '/a/1/b', problem: 'control_character' });
    expect(findInvalidText({ ['k\ud800']: 1 })).toEqual({ path: '/k\ud800', problem: 'lone_surrogate' });
    expect(findInvalidText('\n')).toEqual({ path: '', problem: 'control_character' });
  });

  it('accepts values whose strings are all acceptable, and non-string leaves', () => {
    expect(findInvalidText({ a: [1, true, null, 'ok'], b: { c: 'Zoë' } })).toBeNull();
  });
});
