import { badValue, location, MongoServerError, type Doc } from './errors.js';
import { isArray, isPlainObject } from './values.js';

/**
 * `$text` search over a text index, as this engine implements it: words are letters and digits; matching ignores
 * case and diacritics unless `$caseSensitive`/`$diacriticSensitive`; English stop words are skipped and words are
 * reduced by a light suffix stemmer (plural `s`/`es`/`ies`, `ing`, `ed`, `ly`), not the full Snowball stemmer
 * mongod uses, so rare forms can stem differently. Languages: `english` (or `en`) and `none` (no stemming, no stop
 * words). Scores follow mongod's formula shape (term frequency damped per repeat, field weights, length factor).
 */
export interface TextIndex {
  /** Field path → weight; `$**` indexes every string field. */
  weights: Record<string, number>;
  defaultLanguage: string;
}

/** Scores of the documents a `$text` query matched, keyed by document identity. */
export type TextScores = WeakMap<Doc, number>;

const STOP_WORDS = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below between both ' +
    'but by can did do does doing down during each few for from further had has have having he her here hers herself ' +
    'him himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only ' +
    'or other our ours ourselves out over own same she should so some such than that the their theirs them themselves ' +
    'then there these they this those through to too under until up very was we were what when where which while who ' +
    'whom why will with you your yours yourself yourselves'
  ).split(' '),
);

const LANGUAGES = new Map([
  ['english', 'english'],
  ['en', 'english'],
  ['none', 'none'],
]);

interface Normalise {
  caseSensitive: boolean;
  diacriticSensitive: boolean;
  language: string;
}

function stem(word: string): string {
  if (word.length <= 3) return word;
  if (word.endsWith('ies') && word.length > 4) return `${word.slice(0, -3)}y`;
  if (/(ss|sh|ch|x|z)es$/.test(word)) return word.slice(0, -2);
  if (word.endsWith('s') && !word.endsWith('ss') && !word.endsWith('us') && !word.endsWith('is'))
    return word.slice(0, -1);
  if (word.endsWith('ing') && word.length > 5) return word.slice(0, -3);
  if (word.endsWith('ed') && word.length > 4) return word.slice(0, -2);
  if (word.endsWith('ly') && word.length > 4) return word.slice(0, -2);
  return word;
}

/** Splits text into index terms (normalised, stop words dropped, stemmed). */
export function tokenize(text: string, n: Normalise): string[] {
  let s = n.caseSensitive ? text : text.toLowerCase();
  if (!n.diacriticSensitive) s = s.normalize('NFD').replace(/\p{M}/gu, '');
  const words = s.match(/[\p{L}\p{N}]+/gu) ?? [];
  if (n.language === 'none') return words;
  const out: string[] = [];
  for (const w of words) {
    const lower = n.caseSensitive ? w.toLowerCase() : w;
    if (STOP_WORDS.has(lower)) continue;
    out.push(n.caseSensitive ? w : stem(w));
  }
  return out;
}

function stringsAt(value: unknown, parts: string[], i: number, out: string[]): void {
  if (i === parts.length) {
    if (typeof value === 'string') out.push(value);
    else if (isArray(value)) for (const el of value) if (typeof el === 'string') out.push(el);
    return;
  }
  if (isArray(value)) {
    for (const el of value) stringsAt(el, parts, i, out);
    return;
  }
  if (isPlainObject(value)) stringsAt(value[parts[i] as string], parts, i + 1, out);
}

function allStrings(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (isArray(value)) for (const el of value) allStrings(el, out);
  else if (isPlainObject(value)) for (const v of Object.values(value)) allStrings(v, out);
}

/** The text index described by an index specification (`key: { _fts: 'text', _ftsx: 1 }`, `weights`). */
export function textIndexOf(spec: Doc): TextIndex | null {
  const key = spec.key;
  if (!isPlainObject(key) || key._fts !== 'text') return null;
  const weights: Record<string, number> = {};
  if (isPlainObject(spec.weights)) {
    for (const [field, w] of Object.entries(spec.weights)) weights[field] = Number(w);
  }
  const lang = typeof spec.default_language === 'string' ? spec.default_language : 'english';
  return { weights, defaultLanguage: lang };
}

/**
 * Rewrites a text index specification the way mongod stores it: `{ title: 'text' }` becomes key
 * `{ _fts: 'text', _ftsx: 1 }` with `weights: { title: 1 }`. Other specifications are returned unchanged.
 */
export function normaliseTextIndexSpec(spec: Doc): Doc {
  const key = spec.key;
  if (!isPlainObject(key) || !Object.values(key).includes('text')) return spec;
  const weights: Record<string, unknown> = isPlainObject(spec.weights) ? { ...spec.weights } : {};
  const out: Doc = { ...spec };
  for (const [field, kind] of Object.entries(key)) {
    if (kind !== 'text') {
      throw new MongoServerError(67, 'CannotCreateIndex', 'compound text indexes are not supported by this engine');
    }
    if (!(field in weights)) weights[field] = 1;
  }
  out.key = { _fts: 'text', _ftsx: 1 };
  out.weights = weights;
  out.default_language = typeof spec.default_language === 'string' ? spec.default_language : 'english';
  if (!LANGUAGES.has(out.default_language as string)) {
    throw location(17262, `language override unsupported: ${String(out.default_language)}`);
  }
  out.language_override = typeof spec.language_override === 'string' ? spec.language_override : 'language';
  out.textIndexVersion = 3;
  return out;
}

interface Query {
  terms: string[];
  phrases: string[];
  negated: Set<string>;
  normalise: Normalise;
}

function parseQuery(arg: unknown, index: TextIndex): Query {
  if (!isPlainObject(arg)) throw badValue('$text expects an object');
  for (const k of Object.keys(arg)) {
    if (!['$search', '$language', '$caseSensitive', '$diacriticSensitive'].includes(k)) {
      throw badValue(`extra fields in $text`);
    }
  }
  const search = arg.$search;
  if (typeof search !== 'string') throw badValue('$search required to be a string');
  const languageRaw = arg.$language ?? index.defaultLanguage;
  const language = typeof languageRaw === 'string' ? LANGUAGES.get(languageRaw) : undefined;
  if (language === undefined) throw badValue(`language override unsupported: ${JSON.stringify(languageRaw)}`);
  const normalise: Normalise = {
    caseSensitive: arg.$caseSensitive === true,
    diacriticSensitive: arg.$diacriticSensitive === true,
    language,
  };
  const phrases: string[] = [];
  let rest = search.replace(/"([^"]*)"/g, (_m, phrase: string) => {
    if (phrase.trim() !== '') phrases.push(phrase);
    return ' ';
  });
  const negated = new Set<string>();
  rest = rest.replace(/(^|\s)-([\p{L}\p{N}]+)/gu, (_m, lead: string, word: string) => {
    for (const t of tokenize(word, normalise)) negated.add(t);
    return lead;
  });
  const terms = [...new Set([...tokenize(rest, normalise), ...phrases.flatMap((p) => tokenize(p, normalise))])];
  return { terms, phrases, negated, normalise };
}

/**
 * Compiles a `$text` query against a text index: the predicate matches documents containing any search term and
 * every phrase and none of the negated terms, and records each match's score in `scores`.
 */
export function compileTextQuery(arg: unknown, index: TextIndex, scores: TextScores): (doc: Doc) => boolean {
  const q = parseQuery(arg, index);
  const fields = Object.entries(index.weights);
  return (doc) => {
    if (q.terms.length === 0) return false;
    let score = 0;
    let matched = false;
    const texts: string[] = [];
    for (const [field, weight] of fields) {
      const strings: string[] = [];
      if (field === '$**') allStrings(doc, strings);
      else stringsAt(doc, field.split('.'), 0, strings);
      for (const raw of strings) {
        texts.push(raw);
        const tokens = tokenize(raw, q.normalise);
        if (tokens.some((t) => q.negated.has(t))) return false;
        if (tokens.length === 0) continue;
        const counts = new Map<string, number>();
        for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
        for (const term of q.terms) {
          const count = counts.get(term);
          if (count === undefined) continue;
          matched = true;
          let freq = 0;
          for (let k = 0; k < count; k++) freq += 1 / 2 ** k;
          const coeff = (0.5 * count) / tokens.length + 0.5;
          const exact = raw.toLowerCase() === term ? 1.1 : 1;
          score += weight * freq * coeff * exact;
        }
      }
    }
    if (!matched) return false;
    for (const phrase of q.phrases) {
      const needle = q.normalise.caseSensitive ? phrase : phrase.toLowerCase();
      const found = texts.some((t) => (q.normalise.caseSensitive ? t : t.toLowerCase()).includes(needle));
      if (!found) return false;
    }
    scores.set(doc, score);
    return true;
  };
}

/** Whether a filter uses `$text` at its top level (directly or inside `$and`). */
export function hasTextQuery(filter: Doc): boolean {
  if ('$text' in filter) return true;
  const and = filter.$and;
  return isArray(and) && and.some((f) => isPlainObject(f) && hasTextQuery(f));
}
