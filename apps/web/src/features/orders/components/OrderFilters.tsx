import { ORDER_STATUSES, type OrderStatus } from '@orders/contracts';
import { useId } from 'react';
import { STATUS_LABELS } from '../../../lib/format.js';

interface OrderFiltersProps {
  statuses: readonly OrderStatus[];
  onStatusesChange: (statuses: OrderStatus[]) => void;
  customer: string;
  onCustomerChange: (customer: string) => void;
}

/** Status checkboxes (none ticked means all) and a customer search. */
export function OrderFilters({ statuses, onStatusesChange, customer, onCustomerChange }: OrderFiltersProps) {
  const prefix = useId();
  const toggle = (status: OrderStatus, checked: boolean) =>
    onStatusesChange(checked ? [...statuses, status] : statuses.filter((s) => s !== status));
  return (
    <search className="panel filters" aria-labelledby={`${prefix}-heading`}>
      <h2 id={`${prefix}-heading`}>Filters</h2>
      <fieldset>
        <legend>Status</legend>
        {ORDER_STATUSES.map((status) => (
          <label key={status} className={`check check-${status}`}>
            <input
              type="checkbox"
              name="status"
              value={status}
              checked={statuses.includes(status)}
              onChange={(e) => toggle(status, e.target.checked)}
            />
            {STATUS_LABELS[status]}
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor={`${prefix}-customer`}>Customer</label>
        <input
          id={`${prefix}-customer`}
          type="search"
          placeholder="Search by name"
          autoComplete="off"
          value={customer}
          onChange={(e) => onCustomerChange(e.target.value)}
        />
      </div>
    </search>
  );
}
