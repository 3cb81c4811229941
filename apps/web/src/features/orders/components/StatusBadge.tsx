import type { OrderStatus } from '@orders/contracts';
import { STATUS_LABELS } from '../../../lib/format.js';

const STATUS_ICONS: Record<OrderStatus, string> = { pending: '◷', shipped: '➜', delivered: '✓' };

/** The status as a badge: colour plus an icon plus the word, so it does not rely on colour alone. */
export function StatusBadge({ status }: { status: OrderStatus }) {
  return (
    <span className={`badge badge-${status}`}>
      <span aria-hidden="true">{STATUS_ICONS[status]} </span>
      {STATUS_LABELS[status]}
    </span>
  );
}
