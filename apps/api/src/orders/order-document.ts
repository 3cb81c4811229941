import type { Order, OrderStatus } from '@orders/contracts';

/**
 * How an order is stored in MongoDB. The order id is `_id` (DESIGN decision 2), so a delete event's
 * `documentKey` names the order. Dates are BSON dates; the wire shape uses ISO strings.
 */
export interface OrderDocument {
  _id: number;
  customer_name: string;
  product_name: string;
  status: OrderStatus;
  created_at: Date;
  updated_at: Date;
  version: number;
  /** Who made the last write through the API (username or token name); absent for writes by other clients. */
  updated_by?: string;
}

/** Maps a stored document to its wire shape. */
export function toOrder(doc: OrderDocument): Order {
  return {
    id: Number(doc._id),
    customer_name: doc.customer_name,
    product_name: doc.product_name,
    status: doc.status,
    created_at: toIso(doc.created_at),
    updated_at: toIso(doc.updated_at),
    version: Number(doc.version),
    ...(typeof doc.updated_by === 'string' && { updated_by: doc.updated_by }),
  };
}

function toIso(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}
