import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { usePermissions } from '../../auth/permissions.js';
import { useDebouncedValue } from '../../../lib/useDebouncedValue.js';
import { ChangesChart } from '../../realtime/ChangesChart.js';
import { ConnectionIndicator } from '../../realtime/ConnectionIndicator.js';
import { RecentActivity } from '../../realtime/RecentActivity.js';
import { useAnnounceChanges } from '../../realtime/changeAnnouncements.js';
import { PhoneCollapsible } from '../../../lib/PhoneCollapsible.js';
import { SkipLink } from '../../../lib/SkipLink.js';
import { useOrderSocket, type AccessCloseCode } from '../../realtime/useOrderSocket.js';
import { AsOfControl } from '../../history/AsOfControl.js';
import { OrderTimeline } from '../../history/OrderTimeline.js';
import { PastBoard } from '../../history/PastBoard.js';
import { boardFilter, NO_FILTERS, readBoardUrl, useBoardUrl } from '../boardUrl.js';
import { exportHref } from '../api.js';
import { useOrderList } from '../queries.js';
import { SHORTCUTS, useBoardShortcuts } from '../shortcuts.js';
import { BulkActions } from './BulkActions.js';
import { CreateOrderForm } from './CreateOrderForm.js';
import { OrderBoard } from './OrderBoard.js';
import { OrderFilters } from './OrderFilters.js';
import { OrderPanel } from './OrderPanel.js';
import { StatusCounts } from './StatusCounts.js';

/** How long the search waits for typing to pause before it refilters and resubscribes. */
export const SEARCH_DEBOUNCE_MS = 300;

/**
 * The whole page: header with the connection state and the account, filters and live figures, the create form (for
 * roles that may create) and the board. `onAccessClosed` hears of the server closing the socket for access reasons.
 * The filters, search, sort and open order live in the URL (see boardUrl.ts), so they survive a reload, sign-in and
 * the admin page.
 */
export function Dashboard({
  account,
  onAccessClosed,
}: {
  account?: ReactNode;
  onAccessClosed?: (code: AccessCloseCode) => void;
}) {
  const [url, setUrl] = useBoardUrl();
  const { statuses, sort } = url;
  // The box shows what is typed at once; the URL (and the list) follow once typing pauses.
  const [searchText, setSearchText] = useState(url.q);
  const [urlSearch, setUrlSearch] = useState(url.q);
  if (url.q !== urlSearch) {
    // The URL moved on its own (back, forward, clear filters): the box shows what it says.
    setUrlSearch(url.q);
    setSearchText(url.q);
  }
  const settledSearch = useDebouncedValue(searchText, SEARCH_DEBOUNCE_MS);
  useEffect(() => {
    // Refining a search replaces its history entry; starting or ending one adds an entry, so back undoes it.
    const searching = readBoardUrl(window.location.search).q !== '';
    setUrl((current) => ({ ...current, q: settledSearch }), searching && settledSearch !== '' ? 'replace' : 'push');
  }, [settledSearch, setUrl]);
  const filter = useMemo(() => boardFilter({ statuses, q: url.q, sort }), [statuses, url.q, sort]);
  const { connection, activity, loadOlder } = useOrderSocket(filter, onAccessClosed);
  useAnnounceChanges(activity);
  const permissions = usePermissions();
  // While a past board is shown the live list stays observed, and patched by the socket, so "back to live" shows
  // it at once, with every event that arrived meanwhile.
  const loaded = useOrderList(filter).data?.orders;
  const [asOf, setAsOf] = useState<string | null>(null);
  const [selectedIds, setSelectedIds] = useState<ReadonlySet<number>>(new Set());
  // Only orders the board still shows stay selected: one that left the filter or was deleted drops out.
  const selected = useMemo(() => (loaded ?? []).filter((order) => selectedIds.has(order.id)), [loaded, selectedIds]);
  const selectOrder = (id: number, picked: boolean) =>
    setSelectedIds((current) => {
      const next = new Set(current);
      if (picked) next.add(id);
      else next.delete(id);
      return next;
    });
  const searchRef = useRef<HTMLInputElement>(null);
  const [showShortcuts, setShowShortcuts] = useState(false);
  useBoardShortcuts({
    focusSearch: () => searchRef.current?.focus(),
    toggleHelp: () => setShowShortcuts((shown) => !shown),
  });
  const [timelineId, setTimelineId] = useState<number | null>(null);
  const openOrder = (id: number | null) => setUrl((current) => ({ ...current, order: id }));

  return (
    <div className="app">
      <SkipLink target="main" />
      <header className="app-header">
        <h1>Orders</h1>
        <ConnectionIndicator state={connection} />
        {account}
      </header>
      <div className="layout">
        <div className="sidebar">
          <PhoneCollapsible label="Filters and search">
            <OrderFilters
              statuses={statuses}
              onStatusesChange={(next) => setUrl((current) => ({ ...current, statuses: next }))}
              search={searchText}
              onSearchChange={setSearchText}
              sort={sort}
              onSortChange={(next) => setUrl((current) => ({ ...current, sort: next }))}
              onClear={() => {
                setSearchText('');
                setUrl((current) => ({ ...current, ...NO_FILTERS }));
              }}
              searchRef={searchRef}
            />
            <p className="export">
              {/* A plain link: the browser downloads it with the session cookie, streamed by the server. */}
              <a href={exportHref(filter)} download="orders.csv">
                Export these orders as CSV
              </a>
            </p>
          </PhoneCollapsible>
          <StatusCounts filter={filter} />
          <ChangesChart activity={activity} />
          <RecentActivity activity={activity} />
        </div>
        <main id="main" className="main" tabIndex={-1}>
          <AsOfControl asOf={asOf} onChange={setAsOf} />
          {url.order !== null && (
            <OrderPanel
              key={url.order}
              id={url.order}
              filter={filter}
              onClose={() => {
                openOrder(null);
              }}
            />
          )}
          {timelineId !== null && (
            <OrderTimeline
              id={timelineId}
              onClose={() => {
                setTimelineId(null);
              }}
            />
          )}
          {showShortcuts && (
            <section className="panel shortcuts" aria-labelledby="shortcuts-heading">
              <h2 id="shortcuts-heading">Keyboard shortcuts</h2>
              <dl>
                {SHORTCUTS.map((shortcut) => (
                  <div key={shortcut.key}>
                    <dt>
                      <kbd>{shortcut.key}</kbd>
                    </dt>
                    <dd>{shortcut.does}</dd>
                  </div>
                ))}
              </dl>
              <button type="button" onClick={() => setShowShortcuts(false)}>
                Close shortcuts
              </button>
            </section>
          )}
          {asOf === null ? (
            <>
              {permissions.createOrders && <CreateOrderForm />}
              <BulkActions
                selected={selected}
                loadedCount={loaded?.length ?? 0}
                onSelectAll={() => setSelectedIds(new Set((loaded ?? []).map((order) => order.id)))}
                onClearSelection={() => setSelectedIds(new Set())}
                canEdit={permissions.editOrders}
                canDelete={permissions.deleteOrders}
              />
              <OrderBoard
                filter={filter}
                onNeedOlder={loadOlder}
                onShowHistory={setTimelineId}
                onOpen={openOrder}
                selectedIds={selectedIds}
                onSelect={permissions.editOrders || permissions.deleteOrders ? selectOrder : undefined}
                canEdit={permissions.editOrders}
                canDelete={permissions.deleteOrders}
              />
            </>
          ) : (
            // A past board is read from the history by status only: the search and the sort are the live board's.
            <PastBoard asOf={asOf} filter={filter.status ? { status: filter.status } : {}} />
          )}
        </main>
      </div>
    </div>
  );
}
