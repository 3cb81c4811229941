import type { OrderStatus } from '@orders/contracts';
import { useMemo, useState, type Dispatch, type ReactNode, type SetStateAction } from 'react';
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
import { normalizeFilter, useOrderList } from '../queries.js';
import { CreateOrderForm } from './CreateOrderForm.js';
import { OrderBoard } from './OrderBoard.js';
import { OrderFilters } from './OrderFilters.js';
import { StatusCounts } from './StatusCounts.js';

/** How long the customer search waits for typing to pause before it refilters and resubscribes. */
export const CUSTOMER_SEARCH_DEBOUNCE_MS = 300;

/** The filters picked on the board. Kept by the page above the board, so they survive sign-in and the admin page. */
export interface BoardFilters {
  statuses: OrderStatus[];
  customer: string;
}

export const NO_FILTERS: BoardFilters = { statuses: [], customer: '' };

/**
 * The whole page: header with the connection state and the account, filters and live figures, the create form (for
 * roles that may create) and the board. `onAccessClosed` hears of the server closing the socket for access reasons.
 */
export function Dashboard({
  account,
  onAccessClosed,
  filters,
  onFiltersChange,
}: {
  account?: ReactNode;
  onAccessClosed?: (code: AccessCloseCode) => void;
  filters: BoardFilters;
  onFiltersChange: Dispatch<SetStateAction<BoardFilters>>;
}) {
  const { statuses, customer } = filters;
  const setStatuses = (next: OrderStatus[]) => onFiltersChange((current) => ({ ...current, statuses: next }));
  const setCustomer = (next: string) => onFiltersChange((current) => ({ ...current, customer: next }));
  const settledCustomer = useDebouncedValue(customer, CUSTOMER_SEARCH_DEBOUNCE_MS);
  const filter = useMemo(
    () => normalizeFilter({ status: statuses, customer: settledCustomer }),
    [statuses, settledCustomer],
  );
  const { connection, activity, loadOlder } = useOrderSocket(filter, onAccessClosed);
  useAnnounceChanges(activity);
  const permissions = usePermissions();
  // While a past board is shown the live list stays observed, and patched by the socket, so "back to live" shows
  // it at once, with every event that arrived meanwhile.
  useOrderList(filter);
  const [asOf, setAsOf] = useState<string | null>(null);
  const [timelineId, setTimelineId] = useState<number | null>(null);

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
              onStatusesChange={setStatuses}
              customer={customer}
              onCustomerChange={setCustomer}
            />
          </PhoneCollapsible>
          <StatusCounts filter={filter} />
          <ChangesChart activity={activity} />
          <RecentActivity activity={activity} />
        </div>
        <main id="main" className="main" tabIndex={-1}>
          <AsOfControl asOf={asOf} onChange={setAsOf} />
          {timelineId !== null && (
            <OrderTimeline
              id={timelineId}
              onClose={() => {
                setTimelineId(null);
              }}
            />
          )}
          {asOf === null ? (
            <>
              {permissions.createOrders && <CreateOrderForm />}
              <OrderBoard
                filter={filter}
                onNeedOlder={loadOlder}
                onShowHistory={setTimelineId}
                canEdit={permissions.editOrders}
                canDelete={permissions.deleteOrders}
              />
            </>
          ) : (
            <PastBoard asOf={asOf} filter={filter} />
          )}
        </main>
      </div>
    </div>
  );
}
