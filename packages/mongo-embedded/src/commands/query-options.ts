import {
  evaluateExpression,
  hasTextQuery,
  MongoServerError,
  parseCollation,
  textIndexOf,
  type Collation,
  type Doc,
  type TextIndex,
  type TextScores,
} from '../query/index.js';
import type { Collection } from '../storage/store.js';
import { isDoc } from './util.js';

/** What a command's `collation` and `let` options change about its queries. */
export interface QueryOptions {
  collation: Collation | null;
  vars: Record<string, unknown> | undefined;
  /** Set when the filter has `$text`: the collection's text index and the scores of the matches. */
  text?: { index: TextIndex; scores: TextScores };
}

/** No collation, no variables: the hot paths' options, shared so they allocate nothing. */
export const SIMPLE: QueryOptions = { collation: null, vars: undefined };

const VARIABLE_NAME = /^[a-z\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*$/;

/**
 * Evaluates a command's `let` document once, as mongod does: each value is an expression without a current
 * document (`$$NOW`, literals, operators), bound as `$$name` for the whole command.
 */
export function readLet(raw: unknown, command: string): Record<string, unknown> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isDoc(raw)) {
    throw new MongoServerError(
      14,
      'TypeMismatch',
      `BSON field '${command}.let' is the wrong type, expected type 'object'`,
    );
  }
  const now = new Date();
  const vars: Record<string, unknown> = {};
  for (const [name, expr] of Object.entries(raw)) {
    if (!VARIABLE_NAME.test(name)) {
      throw new MongoServerError(
        16867,
        'Location16867',
        `'${name}' starts with an invalid character for a user variable name`,
      );
    }
    evaluateExpression(expr, {}, { validateOnly: true });
    vars[name] = evaluateExpression(expr, {}, { now, vars }) ?? null;
  }
  return vars;
}

/** The collation a command runs under: its own, else the collection's default, else simple. */
export function effectiveCollation(raw: unknown, coll: Collection | undefined): Collation | null {
  if (raw !== undefined && raw !== null) return parseCollation(raw);
  const fallback = coll?.options.collation;
  return fallback === undefined ? null : parseCollation(fallback);
}

/** Both options, or the shared SIMPLE when neither is given (the common case). */
export function queryOptions(
  collationRaw: unknown,
  letVars: Record<string, unknown> | undefined,
  coll: Collection | undefined,
): QueryOptions {
  const collation = effectiveCollation(collationRaw, coll);
  return collation === null && letVars === undefined ? SIMPLE : { collation, vars: letVars };
}

/**
 * Adds what `$text` needs when the filter uses it: the collection's text index (error 27 without one) and a fresh
 * score table. Filters without `$text` get `opts` back unchanged.
 */
export function withTextSearch(opts: QueryOptions, coll: Collection | undefined, filter: Doc): QueryOptions {
  if (!hasTextQuery(filter)) return opts;
  let index: TextIndex | null = null;
  for (const i of coll?.indexes ?? []) index ??= textIndexOf(i.spec);
  if (!index) {
    if (coll) throw new MongoServerError(27, 'IndexNotFound', 'text index required for $text query');
    index = { weights: {}, defaultLanguage: 'english' };
  }
  return { ...opts, text: { index, scores: new WeakMap() } };
}

/** Whether a namespace is a view (created with `viewOn`). */
export function isView(coll: Collection | undefined): boolean {
  return coll !== undefined && typeof coll.options.viewOn === 'string';
}

/** mongod's answer to a write, index or other collection-only operation on a view. */
export function viewNotSupported(coll: Collection): MongoServerError {
  return new MongoServerError(166, 'CommandNotSupportedOnView', `Namespace ${coll.ns} is a view, not a collection`);
}

/** Refuses `coll` when it is a view. */
export function requireNotView(coll: Collection | undefined): void {
  if (coll && isView(coll)) throw viewNotSupported(coll);
}

/** The source collection and full pipeline a view reads through (views may be defined on views). */
export function resolveView(
  getCollection: (name: string) => Collection | undefined,
  view: Collection,
): { source: string; pipeline: Doc[] } {
  const pipeline: Doc[] = [];
  let current: Collection | undefined = view;
  let source = view.name;
  for (let depth = 0; current && isView(current); depth++) {
    if (depth > 20) {
      throw new MongoServerError(
        165,
        'ViewDepthLimitExceeded',
        `View depth too deep or view cycle detected; maximum depth is 20`,
      );
    }
    const own = current.options.pipeline;
    pipeline.unshift(...(Array.isArray(own) ? (own as Doc[]) : []));
    source = current.options.viewOn as string;
    current = getCollection(source);
  }
  return { source, pipeline };
}
