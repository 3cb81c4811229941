import type { OrderFilter } from '@orders/contracts';
import { formatAbsolute } from '../../lib/format.js';
import { StatusBadge } from '../orders/components/StatusBadge.js';
import { useBoardAsOf } from './queries.js';

/** The board as it was at `asOf`, read-only: no edits, no deletes, nothing live. */
export function PastBoard({ asOf, filter }: { asOf: string; filter: OrderFilter }) {
  const board = useBoardAsOf(asOf, filter);
  return (
    <section className="past-board" aria-label={`Board as of ${formatAbsolute(asOf)}`}>
      {board.isPending && <p role="status">Loading the board as it was…</p>}
      {board.isError && <p role="alert">The past board could not be loaded: {board.error.message}</p>}
      {board.data?.length === 0 && <p>No orders at that moment.</p>}
      {board.data && board.data.length > 0 && (
        <ul className="past-orders">
          {board.data.map((order) => (
            <li key={order.id}>
              <article className={`card status-${order.status}`} aria-label={`Order #${String(order.id)} as it was`}>
                <div className="card-head">
                  <h3 className="card-title">Order #{order.id}</h3>
                  <StatusBadge status={order.status} />
                </div>
                <dl className="card-details">
                  <div>
                    <dt>Customer</dt>
                    <dd>{order.customer_name}</dd>
                  </div>
                  <div>
                    <dt>Product</dt>
                    <dd>{order.product_name}</dd>
                  </div>
                </dl>
              </article>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
