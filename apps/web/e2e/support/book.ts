import type { Collection } from 'mongodb';
import type { OrderDocument } from './stack.js';

/**
 * The indexes the API creates at start (its repository's `ensureIndexes`: the two list orders, the per-status counts
 * and the search terms), under the same names, so that a book written before the API starts is indexed as the API
 * would have it.
 */
export async function createListIndexes(orders: Collection<OrderDocument>): Promise<void> {
  await orders.createIndex({ updated_at: -1, _id: -1 }, { name: 'updated_at_desc_id_desc' }, {});
  await orders.createIndex({ status: 1 }, { name: 'status' }, {});
  await orders.createIndex({ created_at: -1, _id: -1 }, { name: 'created_at_desc_id_desc' }, {});
  await orders.createIndex({ search: 1 }, { name: 'search' }, {});
}
