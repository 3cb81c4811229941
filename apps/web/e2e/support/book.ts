import type { Collection } from 'mongodb';
import type { OrderDocument } from './stack.js';

/** The statuses a generated book cycles through, by id. */
export const BOOK_STATUSES = ['pending', 'shipped', 'delivered'] as const;

/**
 * Order `id` of a generated book: one order per second from `base`, so the highest id is the newest; statuses in turn
 * by id, about a thousand distinct customers.
 */
export function bookDocument(id: number, base: number): OrderDocument {
  const at = new Date(base + id * 1000);
  return {
    _id: id,
    customer_name: `Customer ${id % 997}`,
    product_name: `Product ${id}`,
    status: BOOK_STATUSES[id % 3]!,
    created_at: at,
    updated_at: at,
    version: 1,
  };
}

/** Orders 1 … `count` of the book from `base`, in batches of `batch` ids. */
export function* bookBatches(count: number, base: number, batch: number): Generator<OrderDocument[]> {
  for (let start = 1; start <= count; start += batch) {
    const docs: OrderDocument[] = [];
    for (let id = start; id < start + batch && id <= count; id++) docs.push(bookDocument(id, base));
    yield docs;
  }
}

/** Writes a book of `count` orders straight to the collection, `batch` orders per `insertMany`. */
export async function seedBook(
  orders: Collection<OrderDocument>,
  count: number,
  { base = Date.now() - count * 1000, batch = 10_000 }: { base?: number; batch?: number } = {},
): Promise<void> {
  for (const docs of bookBatches(count, base, batch)) await orders.insertMany(docs, { ordered: false });
}

/**
 * The indexes the API creates at start (its repository's `ensureIndexes`: the list order and the per-status counts),
 * under the same names, so that a book written before the API starts is indexed as the API would have it.
 */
export async function createListIndexes(orders: Collection<OrderDocument>): Promise<void> {
  await orders.createIndex({ updated_at: -1, _id: -1 }, { name: 'updated_at_desc_id_desc' }, {});
  await orders.createIndex({ status: 1 }, { name: 'status' }, {});
}
