import { ORDER_STATUSES, type Order, type OrderStatus } from '@orders/contracts';
import { useId, useState } from 'react';
import { STATUS_LABELS } from '../../../lib/format.js';
import { deleteOrder, updateOrder } from '../api.js';
import { describeBulk, runBulk } from '../bulk.js';

/**
 * What to do with the selected orders: change their status or delete them, each write versioned (an order changed by
 * someone else meanwhile is refused and named), and the outcome in one sentence. The server decides who may: the
 * buttons only follow the role.
 */
export function BulkActions({
  selected,
  loadedCount,
  onSelectAll,
  onClearSelection,
  canEdit,
  canDelete,
}: {
  /** The selected orders as the board shows them (their versions go in If-Match). */
  selected: readonly Order[];
  loadedCount: number;
  onSelectAll: () => void;
  onClearSelection: () => void;
  canEdit: boolean;
  canDelete: boolean;
}) {
  const prefix = useId();
  const [status, setStatus] = useState<OrderStatus>('shipped');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ text: string; failed: boolean } | null>(null);
  if (!canEdit && !canDelete) return null;

  const run = async (done: string, write: (order: Order) => Promise<unknown>) => {
    const orders = [...selected];
    setBusy(true);
    setOutcome(null);
    const failures = await runBulk(orders, write);
    setBusy(false);
    setOutcome({ text: describeBulk(done, orders.length, failures), failed: failures.length > 0 });
    if (failures.length === 0) onClearSelection();
  };

  return (
    <section className="panel bulk" aria-labelledby={`${prefix}-heading`}>
      <h2 id={`${prefix}-heading`}>Selected orders</h2>
      <p>
        {selected.length} selected{' '}
        <button type="button" onClick={onSelectAll} disabled={loadedCount === 0}>
          Select all loaded ({loadedCount})
        </button>{' '}
        <button type="button" onClick={onClearSelection} disabled={selected.length === 0}>
          Clear selection
        </button>
      </p>
      {canEdit && (
        <div className="bulk-status">
          <label htmlFor={`${prefix}-status`}>New status</label>
          <select
            id={`${prefix}-status`}
            value={status}
            onChange={(e) => {
              const picked = ORDER_STATUSES.find((candidate) => candidate === e.target.value);
              if (picked !== undefined) setStatus(picked);
            }}
          >
            {ORDER_STATUSES.map((candidate) => (
              <option key={candidate} value={candidate}>
                {STATUS_LABELS[candidate]}
              </option>
            ))}
          </select>
          <button
            type="button"
            disabled={busy || selected.length === 0}
            onClick={() =>
              void run(`Changed to ${STATUS_LABELS[status]}:`, (order) =>
                updateOrder(order.id, { status }, order.version),
              )
            }
          >
            Change status
          </button>
        </div>
      )}
      {canDelete && (
        <button
          type="button"
          className="danger"
          disabled={busy || selected.length === 0}
          onClick={() => void run('Deleted', (order) => deleteOrder(order.id, order.version))}
        >
          Delete selected
        </button>
      )}
      {busy && <p role="status">Working…</p>}
      {outcome !== null && <p role={outcome.failed ? 'alert' : 'status'}>{outcome.text}</p>}
    </section>
  );
}
