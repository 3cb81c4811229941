import { searchTermsOf } from '@orders/contracts';
import type { Collection } from 'mongodb';
import type { OrderDocument } from './stack.js';

/** The statuses seeded orders cycle through. */
export const SEED_STATUSES = ['pending', 'shipped', 'delivered'] as const;

/**
 * The stored documents of orders `from` to `to` (inclusive), as the large-book tests and benchmarks seed them:
 * order `id` was created and last updated `id` seconds after `base` (so a higher id is newer), by one of 997
 * customers, in status `SEED_STATUSES[id % 3]`, with the search terms the API would store.
 */
export function seedDocuments(from: number, to: number, base: number): OrderDocument[] {
  const docs: OrderDocument[] = [];
  for (let id = from; id <= to; id++) {
    const at = new Date(base + id * 1000);
    const names = { customer_name: `Customer ${id % 997}`, product_name: `Product ${id}` };
    docs.push({
      _id: id,
      ...names,
      status: SEED_STATUSES[id % SEED_STATUSES.length] ?? 'pending',
      created_at: at,
      updated_at: at,
      version: 1,
      // The search terms the API keeps with every order it writes.
      search: searchTermsOf(names),
    });
  }
  return docs;
}

/** Inserts orders 1 to `count` (see `seedDocuments`) straight into the collection, `batch` documents at a time. */
export async function seedOrders(
  orders: Collection<OrderDocument>,
  count: number,
  base: number,
  batch = 5000,
): Promise<void> {
  for (let start = 1; start <= count; start += batch) {
    await orders.insertMany(seedDocuments(start, Math.min(start + batch - 1, count), base));
  }
}
