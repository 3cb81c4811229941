import { MAX_SEARCH_LENGTH, ORDER_STATUSES, searchProblem, type OrderSort, type OrderStatus } from '@orders/contracts';
import { useId, type Ref } from 'react';
import { STATUS_LABELS } from '../../../lib/format.js';

const SORT_LABELS: Record<OrderSort, string> = {
  updated: 'Last update',
  created: 'Creation time',
  id: 'Order id',
};

interface OrderFiltersProps {
  statuses: readonly OrderStatus[];
  onStatusesChange: (statuses: OrderStatus[]) => void;
  search: string;
  onSearchChange: (search: string) => void;
  sort: OrderSort;
  onSortChange: (sort: OrderSort) => void;
  /** Back to every order, unsearched, by last update. */
  onClear: () => void;
  /** The search box (the `/` shortcut focuses it). */
  searchRef?: Ref<HTMLInputElement>;
}

/** Status checkboxes (none ticked means all), one search over id, customer and product, the sort, and a reset. */
export function OrderFilters({
  statuses,
  onStatusesChange,
  search,
  onSearchChange,
  sort,
  onSortChange,
  onClear,
  searchRef,
}: OrderFiltersProps) {
  const prefix = useId();
  const toggle = (status: OrderStatus, checked: boolean) =>
    onStatusesChange(checked ? [...statuses, status] : statuses.filter((s) => s !== status));
  // Text with nothing to search for (only punctuation) is not sent; the reader is told why nothing narrows.
  const problem = search.trim() === '' ? null : searchProblem(search.trim());
  const filtered = statuses.length > 0 || search !== '' || sort !== 'updated';
  return (
    <search className="panel filters" aria-labelledby={`${prefix}-heading`}>
      <h2 id={`${prefix}-heading`}>Filters</h2>
      <div className="field">
        <label htmlFor={`${prefix}-search`}>Search</label>
        <input
          id={`${prefix}-search`}
          ref={searchRef}
          type="search"
          placeholder="Order id, customer or product"
          autoComplete="off"
          maxLength={MAX_SEARCH_LENGTH}
          value={search}
          aria-invalid={problem !== null}
          aria-describedby={problem === null ? undefined : `${prefix}-search-problem`}
          onChange={(e) => onSearchChange(e.target.value)}
        />
        {problem !== null && (
          <p id={`${prefix}-search-problem`} className="field-hint">
            The search {problem}.
          </p>
        )}
      </div>
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
        <label htmlFor={`${prefix}-sort`}>Sort by</label>
        <select
          id={`${prefix}-sort`}
          value={sort}
          onChange={(e) => {
            const picked = (Object.keys(SORT_LABELS) as OrderSort[]).find((key) => key === e.target.value);
            if (picked !== undefined) onSortChange(picked);
          }}
        >
          {(Object.keys(SORT_LABELS) as OrderSort[]).map((key) => (
            <option key={key} value={key}>
              {SORT_LABELS[key]}, newest first
            </option>
          ))}
        </select>
      </div>
      <button type="button" onClick={onClear} disabled={!filtered}>
        Clear filters
      </button>
    </search>
  );
}
