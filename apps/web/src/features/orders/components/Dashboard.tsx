import type { OrderStatus } from '@orders/contracts';
import { useMemo, useState } from 'react';
import { useDebouncedValue } from '../../../lib/useDebouncedValue.js';
import { ChangesChart } from '../../realtime/ChangesChart.js';
import { ConnectionIndicator } from '../../realtime/ConnectionIndicator.js';
import { RecentActivity } from '../../realtime/RecentActivity.js';
import { useOrderSocket } from '../../realtime/useOrderSocket.js';
import { normalizeFilter } from '../queries.js';
import { CreateOrderForm } from './CreateOrderForm.js';
import { OrderBoard } from './OrderBoard.js';
import { OrderFilters } from './OrderFilters.js';
import { StatusCounts } from './StatusCounts.js';

/** How long the customer search waits for typing to pause before it refilters and resubscribes. */
export const CUSTOMER_SEARCH_DEBOUNCE_MS = 300;

/** The whole page: header with the connection state, filters and live figures, the create form and the board. */
export function Dashboard() {
  const [statuses, setStatuses] = useState<OrderStatus[]>([]);
  const [customer, setCustomer] = useState('');
  const settledCustomer = useDebouncedValue(customer, CUSTOMER_SEARCH_DEBOUNCE_MS);
  const filter = useMemo(
    () => normalizeFilter({ status: statuses, customer: settledCustomer }),
    [statuses, settledCustomer],
  );
  const { connection, activity, loadOlder } = useOrderSocket(filter);

  return (
    <div className="app">
      <header className="app-header">
        <h1>Orders</h1>
        <ConnectionIndicator state={connection} />
      </header>
      <div className="layout">
        <div className="sidebar">
          <OrderFilters
            statuses={statuses}
            onStatusesChange={setStatuses}
            customer={customer}
            onCustomerChange={setCustomer}
          />
          <StatusCounts filter={filter} />
          <ChangesChart activity={activity} />
          <RecentActivity activity={activity} />
        </div>
        <main className="main">
          <CreateOrderForm />
          <OrderBoard filter={filter} onNeedOlder={loadOlder} />
        </main>
      </div>
    </div>
  );
}
