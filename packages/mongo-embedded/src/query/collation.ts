import { badValue, location, MongoServerError, type Doc } from './errors.js';
import { isNumber, isPlainObject, toDouble, withStringCompare } from './values.js';

/**
 * A collation the engine supports: locale `en` at strengths 1-3, with or without `numericOrdering`. Every other
 * option must keep its default value. `simple` (binary order) is represented by `null`.
 */
export interface Collation {
  readonly locale: string;
  readonly strength: 1 | 2 | 3;
  readonly numericOrdering: boolean;
  readonly compare: (a: string, b: string) => number;
  /** Equal strings under this collation give equal keys (for hashing: distinct, unique indexes). */
  readonly key: (s: string) => string;
}

const SUPPORTED_LOCALES = new Set(['en', 'en_US']);

/** Options mongod accepts, with the only value this engine supports when it is not the default. */
const DEFAULTS: Record<string, unknown> = {
  caseLevel: false,
  caseFirst: 'off',
  alternate: 'non-ignorable',
  maxVariable: 'punct',
  normalization: false,
  backwards: false,
};

const cache = new Map<string, Collation>();

function unsupported(field: string, spec: Doc): MongoServerError {
  return badValue(
    `Collation option '${field}' is not supported by this engine (supported: locale 'simple' or 'en', strength 1-3, numericOrdering) in: ${JSON.stringify(spec)}`,
  );
}

/**
 * Parses a `collation` option. Returns null for the simple collation (no option, or `{ locale: 'simple' }`).
 * Throws mongod's errors for malformed specifications (40414 missing locale, 40415 unknown field, 2 bad value) and
 * BadValue naming what this engine supports for valid collations it does not implement (other locales, strength 4-5,
 * non-default caseFirst/alternate/...).
 */
export function parseCollation(raw: unknown): Collation | null {
  if (raw === undefined || raw === null) return null;
  if (!isPlainObject(raw)) {
    throw new MongoServerError(14, 'TypeMismatch', "BSON field 'collation' is the wrong type, expected type 'object'");
  }
  const locale = raw.locale;
  if (locale === undefined) {
    throw location(40414, "BSON field 'locale' is missing but a required field");
  }
  if (typeof locale !== 'string') {
    throw new MongoServerError(14, 'TypeMismatch', "BSON field 'locale' is the wrong type, expected type 'string'");
  }
  let strength = 3;
  let numericOrdering = false;
  for (const [field, value] of Object.entries(raw)) {
    if (field === 'locale' || field === 'version') continue;
    if (field === 'strength') {
      if (!isNumber(value) || !Number.isInteger(toDouble(value))) {
        throw new MongoServerError(14, 'TypeMismatch', "BSON field 'strength' is the wrong type, expected a number");
      }
      strength = toDouble(value);
      if (strength < 1 || strength > 5) {
        throw badValue(`Field 'strength' must be an integer 1 through 5. Got: ${strength}`);
      }
    } else if (field === 'numericOrdering') {
      if (typeof value !== 'boolean') {
        throw new MongoServerError(
          14,
          'TypeMismatch',
          "BSON field 'numericOrdering' is the wrong type, expected type 'bool'",
        );
      }
      numericOrdering = value;
    } else if (field in DEFAULTS) {
      if (value !== DEFAULTS[field]) throw unsupported(field, raw);
    } else {
      throw location(40415, `BSON field 'collation.${field}' is an unknown field.`);
    }
  }
  if (locale === 'simple') {
    if (Object.keys(raw).some((k) => k !== 'locale')) {
      throw badValue("If 'locale' is set to 'simple', no other fields may be set");
    }
    return null;
  }
  if (!SUPPORTED_LOCALES.has(locale)) {
    let known: boolean;
    try {
      known = Intl.Collator.supportedLocalesOf([locale.replace('_', '-')]).length > 0;
    } catch {
      known = false;
    }
    if (!known) throw badValue(`Field 'locale' is invalid in: ${JSON.stringify(raw)}`);
    throw unsupported('locale', raw);
  }
  if (strength > 3) throw unsupported('strength', raw);
  return collationOf('en', strength as 1 | 2 | 3, numericOrdering);
}

function collationOf(locale: string, strength: 1 | 2 | 3, numericOrdering: boolean): Collation {
  const id = `${locale}/${strength}/${numericOrdering}`;
  let c = cache.get(id);
  if (c) return c;
  // ICU strengths: primary ignores case and accents, secondary ignores case, tertiary ignores neither.
  const sensitivity = strength === 1 ? 'base' : strength === 2 ? 'accent' : 'variant';
  const collator = new Intl.Collator('en', { sensitivity, numeric: numericOrdering, usage: 'sort' });
  const foldDigits = (s: string): string =>
    numericOrdering ? s.replace(/\d+/g, (d) => d.replace(/^0+(?=\d)/, '')) : s;
  const key =
    strength === 1
      ? (s: string) => foldDigits(s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase())
      : strength === 2
        ? (s: string) => foldDigits(s.normalize('NFD').toLowerCase())
        : (s: string) => foldDigits(s.normalize('NFD'));
  c = { locale, strength, numericOrdering, compare: (a, b) => collator.compare(a, b), key };
  cache.set(id, c);
  return c;
}

/** Whether two collations order and compare strings identically (null = simple). */
export function sameCollation(a: Collation | null, b: Collation | null): boolean {
  return a === b;
}

/** The collation as listIndexes/listCollections show it (mongod fills in every field). */
export function collationSpec(c: Collation): Doc {
  return {
    locale: c.locale,
    caseLevel: false,
    caseFirst: 'off',
    strength: c.strength,
    numericOrdering: c.numericOrdering,
    alternate: 'non-ignorable',
    maxVariable: 'punct',
    normalization: false,
    backwards: false,
    version: '57.1',
  };
}

/** Runs a synchronous computation with `collation`'s string order in force (no-op for the simple collation). */
export function withCollation<T>(collation: Collation | null, fn: () => T): T {
  return collation ? withStringCompare(collation.compare, fn) : fn();
}
