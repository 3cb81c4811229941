import type { ConnectionState } from '@orders/client';

const LABELS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

const HINTS: Record<ConnectionState, string> = {
  connecting: 'Loading the board and opening the live feed',
  live: 'Changes appear as they happen',
  reconnecting: 'Connection lost; reconnecting and catching up',
  offline: 'Cannot reach the server; retrying',
};

/** Live / reconnecting / offline, in words (not only colour), announced politely when it changes. */
export function ConnectionIndicator({ state }: { state: ConnectionState }) {
  return (
    <div
      className={`connection connection-${state}`}
      role="status"
      aria-label={`Connection: ${LABELS[state]}`}
      title={HINTS[state]}
    >
      <span className="connection-dot" aria-hidden="true" />
      {LABELS[state]}
    </div>
  );
}
