import { ErrorCode, type Order } from '@orders/contracts';
import { ApiError, NETWORK_ERROR } from './api.js';

/** One order a bulk action could not change, and why, in a few words. */
export interface BulkFailure {
  id: number;
  reason: string;
}

/** How many writes a bulk action has in flight at once: enough to be quick, few enough to stay polite. */
const BULK_CONCURRENCY = 4;

/** Why one write of a bulk action was refused, as it reads after "#1003 ". */
export function bulkFailureReason(error: unknown): string {
  if (!(error instanceof ApiError)) return 'failed';
  switch (error.code) {
    case ErrorCode.VersionMismatch:
      return 'changed by someone else';
    case ErrorCode.OrderNotFound:
      return 'no longer exists';
    case ErrorCode.Forbidden:
      return 'not allowed';
    case NETWORK_ERROR:
      return 'not sent: the server cannot be reached';
    default:
      return error.message;
  }
}

/**
 * Runs `write` for every order, a few at a time, and returns the ones that failed, in the orders' order. Each write
 * carries the version the board showed, so an order someone else changed meanwhile is refused, never overwritten.
 */
export async function runBulk(
  orders: readonly Order[],
  write: (order: Order) => Promise<unknown>,
): Promise<BulkFailure[]> {
  const failures = new Map<number, BulkFailure>();
  let next = 0;
  async function worker(): Promise<void> {
    while (next < orders.length) {
      const order = orders[next++];
      if (order === undefined) return;
      try {
        await write(order);
      } catch (error) {
        failures.set(order.id, { id: order.id, reason: bulkFailureReason(error) });
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(BULK_CONCURRENCY, orders.length) }, worker));
  return orders.flatMap((order) => failures.get(order.id) ?? []);
}

/** The outcome of a bulk action in one sentence: what was done, or how many failed and why, order by order. */
export function describeBulk(done: string, attempted: number, failures: readonly BulkFailure[]): string {
  if (failures.length === 0) return `${done} ${String(attempted)} ${attempted === 1 ? 'order' : 'orders'}.`;
  const reasons = failures.map((failure) => `#${String(failure.id)} ${failure.reason}`).join('; ');
  return `${String(failures.length)} of ${String(attempted)} failed: ${reasons}.`;
}
