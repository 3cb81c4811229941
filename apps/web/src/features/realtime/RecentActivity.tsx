import { useSyncExternalStore } from 'react';
import { formatAbsolute, formatRelative, STATUS_LABELS } from '../../lib/format.js';
import { useNow } from '../../lib/useNow.js';
import type { ActivityEntry, ActivityStore } from './activity.js';

function describe(entry: ActivityEntry): string {
  switch (entry.kind) {
    case 'created':
      return `Order #${entry.orderId} created for ${entry.customer ?? 'a customer'}`;
    case 'updated':
      return `Order #${entry.orderId} updated${entry.status ? `: ${STATUS_LABELS[entry.status].toLowerCase()}` : ''}`;
    case 'deleted':
      return `Order #${entry.orderId} deleted`;
    case 'left':
      return `Order #${entry.orderId} no longer matches the filters`;
  }
}

/** The latest changes received, newest first: what changed, when, and whether this page made it. */
export function RecentActivity({ activity }: { activity: ActivityStore }) {
  const { entries } = useSyncExternalStore(activity.subscribe, activity.getSnapshot);
  const now = useNow(5000);
  return (
    <section className="panel activity" aria-labelledby="activity-heading">
      <h2 id="activity-heading">Recent activity</h2>
      {entries.length === 0 ? (
        <p className="muted">Nothing yet. Changes appear here as they happen.</p>
      ) : (
        <ol aria-labelledby="activity-heading">
          {entries.map((entry) => {
            const iso = new Date(entry.at).toISOString();
            return (
              <li key={entry.seq} className={`activity-${entry.kind}`}>
                <span>
                  {describe(entry)}
                  {entry.own && ', by you'}
                </span>{' '}
                <time dateTime={iso} title={formatAbsolute(iso)}>
                  {formatRelative(iso, now)}
                </time>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}
