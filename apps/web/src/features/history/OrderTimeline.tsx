import type { FieldChange, HistoryEntry } from '@orders/contracts';
import { formatAbsolute } from '../../lib/format.js';
import { useOrderTimeline } from './queries.js';

const OPERATION_LABEL = { created: 'Created', updated: 'Updated', deleted: 'Deleted' } as const;
const FIELD_LABEL: Record<string, string> = {
  customer_name: 'Customer',
  product_name: 'Product',
  status: 'Status',
  created_at: 'Created at',
};

function shown(value: FieldChange['before']): string {
  return value === null ? '—' : String(value);
}

function ChangeLine({ change }: { change: FieldChange }) {
  return (
    <li>
      {FIELD_LABEL[change.field] ?? change.field}: {shown(change.before)} → {shown(change.after)}
    </li>
  );
}

function TimelineEntry({ entry }: { entry: HistoryEntry }) {
  const changes = entry.changes.filter((change) => change.field !== 'created_at');
  return (
    <li className="timeline-entry">
      <p className="timeline-head">
        <strong>{OPERATION_LABEL[entry.operation]}</strong> by <span className="timeline-actor">{entry.actor}</span>{' '}
        <time dateTime={entry.committed_at}>{formatAbsolute(entry.committed_at)}</time>
      </p>
      {changes.length > 0 && (
        <ul className="timeline-changes">
          {changes.map((change) => (
            <ChangeLine key={change.field} change={change} />
          ))}
        </ul>
      )}
    </li>
  );
}

/** Who changed an order, what and when: its recorded history, newest first, updated live while open. */
export function OrderTimeline({ id, onClose }: { id: number; onClose: () => void }) {
  const timeline = useOrderTimeline(id);
  const headingId = `timeline-${String(id)}-title`;
  return (
    <section className="timeline" aria-labelledby={headingId}>
      <div className="timeline-top">
        <h2 id={headingId}>History of order #{id}</h2>
        <button type="button" onClick={onClose}>
          Close history
        </button>
      </div>
      {timeline.isPending && <p role="status">Loading the history…</p>}
      {timeline.isError && <p role="alert">The history could not be loaded: {timeline.error.message}</p>}
      {timeline.data?.entries.length === 0 && <p>No recorded changes.</p>}
      {timeline.data && timeline.data.entries.length > 0 && (
        <ol className="timeline-entries" aria-label={`Changes of order #${String(id)}, newest first`}>
          {timeline.data.entries.map((entry) => (
            <TimelineEntry key={entry.position} entry={entry} />
          ))}
        </ol>
      )}
    </section>
  );
}
