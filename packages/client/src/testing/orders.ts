import type { Order, OrderEvent } from '@orders/contracts';

const BASE = Date.parse('2026-03-01T09:00:00.000Z');

/** The ISO time `minutes` after a fixed base time: test orders are ordered by it. */
export function orderTime(minutes: number): string {
  return new Date(BASE + minutes * 60_000).toISOString();
}

/** A test order created and last updated `minutes` after a fixed base time. */
export function makeOrder(id: number, minutes: number, overrides: Partial<Order> = {}): Order {
  const stamp = orderTime(minutes);
  return {
    id,
    customer_name: `Customer ${id}`,
    product_name: `Product ${id}`,
    status: 'pending',
    created_at: stamp,
    updated_at: stamp,
    version: 1,
    ...overrides,
  };
}

/** `order.created` at `position` (by default one named after the order's id and version). */
export function created(order: Order, position = `p${order.id}.${order.version}`): OrderEvent {
  return { type: 'order.created', order, position };
}

/** `order.updated` at `position` (by default one named after the order's id and version). */
export function updated(order: Order, position = `p${order.id}.${order.version}`): OrderEvent {
  return { type: 'order.updated', order, position };
}

/** `order.deleted` at `position`. */
export function deleted(id: number, position = `d${id}`): OrderEvent {
  return { type: 'order.deleted', id, position };
}

/** `order.left` (the order no longer matches the subscription's filter) at `position`. */
export function left(id: number, position = `l${id}`): OrderEvent {
  return { type: 'order.left', id, position };
}
