/*
 * The search rule, one text box over id, customer and product, shared by the API's queries, the subscription
 * filter and the dashboard's cached lists. It is chosen so that an index can serve it: the words of an order's
 * customer_name and product_name, case-folded, are its search terms (the API stores them as the `search` array,
 * with a multikey index), and an order matches a search when every word of the search is the start of one of its
 * terms, or when the search is an order id (`1042` or `#1042`) and the order has that id.
 * See docs/ARCHITECTURE.md, "Search and sort".
 */

/** The longest search text accepted (characters). */
export const MAX_SEARCH_LENGTH = 100;
/** The most words a search may have: each is one index lookup. */
export const MAX_SEARCH_WORDS = 8;

/** Anything but a letter or a digit separates words. */
const WORD_SEPARATOR = /[^\p{L}\p{N}]+/u;
const ORDER_ID_TEXT = /^\s*#?(\d{1,16})\s*$/;

/** The distinct case-folded words of `text`, in order of first appearance. */
export function searchWords(text: string): string[] {
  const words = new Set<string>();
  for (const word of text.toLowerCase().split(WORD_SEPARATOR)) if (word !== '') words.add(word);
  return [...words];
}

/** The search terms of an order: the distinct words of its customer and product names, case-folded. */
export function searchTermsOf(order: { readonly customer_name: string; readonly product_name: string }): string[] {
  return searchWords(`${order.customer_name} ${order.product_name}`);
}

/** A search prepared for matching many orders. */
export interface PreparedSearch {
  /** Equal for searches that match the same orders, whatever their spelling (case, punctuation, word order). */
  readonly key: string;
  /** Every one must start one of an order's terms. */
  readonly words: readonly string[];
  /** The order id the text names, when it is one (`1042`, `#1042`). */
  readonly id: number | null;
}

/** Why a search text is refused, or null when it can be searched for. */
export function searchProblem(text: string): string | null {
  if (text.length > MAX_SEARCH_LENGTH) return `must have at most ${String(MAX_SEARCH_LENGTH)} characters`;
  const words = searchWords(text);
  if (words.length === 0) return 'must contain a letter or a digit';
  if (words.length > MAX_SEARCH_WORDS) return `must have at most ${String(MAX_SEARCH_WORDS)} words`;
  return null;
}

/** Prepares a search text; null when it is refused (see `searchProblem`). */
export function prepareSearch(text: string): PreparedSearch | null {
  if (searchProblem(text) !== null) return null;
  const words = searchWords(text).sort();
  const idText = ORDER_ID_TEXT.exec(text)?.[1];
  const id = idText === undefined ? null : Number(idText);
  return { key: words.join(' '), words, id: id !== null && Number.isSafeInteger(id) && id >= 1 ? id : null };
}

/** The fields of an order a search looks at; a field that is absent matches nothing. */
export interface SearchFields {
  readonly id?: number;
  readonly customer_name: string;
  readonly product_name?: string;
}

/** Whether an order matches a prepared search. */
export function matchesSearch(search: PreparedSearch, order: SearchFields): boolean {
  if (search.id !== null && order.id === search.id) return true;
  const terms = searchWords(
    order.product_name === undefined ? order.customer_name : `${order.customer_name} ${order.product_name}`,
  );
  return search.words.every((word) => terms.some((term) => term.startsWith(word)));
}
