import { ORDER_STATUSES, type OrderFilter } from '@orders/contracts';
import { STATUS_LABELS } from '../../../lib/format.js';
import { useStatusCounts } from '../queries.js';

/** How many orders of each status are on the board (for the current filter). */
export function StatusCounts({ filter }: { filter: OrderFilter }) {
  const counts = useStatusCounts(filter);
  return (
    <section className="panel counts" aria-labelledby="counts-heading">
      <h2 id="counts-heading">By status</h2>
      <dl>
        {ORDER_STATUSES.map((status) => (
          <div key={status} className={`count count-${status}`}>
            <dt>{STATUS_LABELS[status]}</dt>
            <dd>{counts ? counts[status].toLocaleString() : '–'}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
