import type { Collection } from 'mongodb';
import type { OrderDocument } from './stack.js';

/** The statuses seeded orders cycle through. */
export const SEED_STATUSES = ['pending', 'shipped', 'delivered'] as const;

/**
 * The stored documents of orders `from` to `to` (inclusive), as the large-book tests and benchmarks seed them:
 * order `id` was created and last updated `id` seconds after `base` (so a higher id is newer), by one of 997
 * customers, in status `SEED_STATUSES[id % 3]`.
 */
export function seedDocuments(from: number, to: number, base: number): OrderDocument[] {
  const docs: OrderDocument[] = [];
  for (let id = from; id <= to; id++) {
    const at = new Date(base + id * 1000);
    docs.push({
      _id: id,
      customer_name: `Customer ${id % 997}`,
      product_name: `Product ${id}`,
      status: SEED_STATUSES[id % SEED_STATUSES.length] ?? 'pending',
      created_at: at,
      updated_at: at,
      version: 1,
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
