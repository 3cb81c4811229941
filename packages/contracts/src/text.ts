/*
 * Strict text: every string the API accepts (body fields, query parameters, header values, WebSocket frames) is
 * well-formed Unicode without control characters. Text that breaks these rules is refused, never repaired: a
 * repaired string (U+FFFD, stripped bytes) would be stored and echoed as something the client never sent.
 * See docs/ARCHITECTURE.md, "Abuse limits".
 */

/** Why a string was refused. */
export const TextProblem = {
  /** Bytes that are not UTF-8 (only raw bytes can have this problem; a decoded string cannot). */
  InvalidUtf8: 'invalid_utf8',
  /** A UTF-16 surrogate without its pair, e.g. the JSON escape `\ud800` alone. */
  LoneSurrogate: 'lone_surrogate',
  /** U+0000-U+001F, U+007F or U+0080-U+009F. Tab, newline and carriage return included: no field is multi-line. */
  ControlCharacter: 'control_character',
} as const;
export type TextProblem = (typeof TextProblem)[keyof typeof TextProblem];

/** C0 controls (tab, CR and LF included), DEL, and C1 controls. */
function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

/** The reason `text` is refused, or null when it is acceptable. */
export function textProblem(text: string): TextProblem | null {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (isControl(code)) return TextProblem.ControlCharacter;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      // NaN past the end: a high surrogate at the end is alone.
      if (!(next >= 0xdc00 && next <= 0xdfff)) return TextProblem.LoneSurrogate;
      index += 1;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      return TextProblem.LoneSurrogate;
    }
  }
  return null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes `bytes` as UTF-8, or returns null when they are not UTF-8 (nothing is replaced with U+FFFD). */
export function decodeUtf8Strict(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** A string inside a JSON value that is refused: where it is (`/filter/customer`, a key's path) and why. */
export interface InvalidText {
  path: string;
  problem: TextProblem;
}

/**
 * Finds a refused string (value or key) in a parsed JSON value, or null when every string is acceptable. Depth is bounded by the
 * parser that produced the value; the walk itself is iterative, so a deep value cannot overflow the stack.
 */
export function findInvalidText(value: unknown): InvalidText | null {
  const stack: { path: string; value: unknown }[] = [{ path: '', value }];
  while (stack.length > 0) {
    const next = stack.pop();
    if (next === undefined) break;
    if (typeof next.value === 'string') {
      const problem = textProblem(next.value);
      if (problem !== null) return { path: next.path, problem };
    } else if (Array.isArray(next.value)) {
      next.value.forEach((item: unknown, index) => stack.push({ path: `${next.path}/${index}`, value: item }));
    } else if (next.value !== null && typeof next.value === 'object') {
      for (const [key, item] of Object.entries(next.value)) {
        const path = `${next.path}/${key}`;
        const problem = textProblem(key);
        if (problem !== null) return { path, problem };
        stack.push({ path, value: item });
      }
    }
  }
  return null;
}
