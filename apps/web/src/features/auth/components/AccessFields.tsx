import { ORDER_STATUSES, ROLES, type OrderStatus, type Role } from '@orders/contracts';
import { STATUS_LABELS } from '../../../lib/format.js';
import { ROLE_HINTS, ROLE_LABELS } from '../scope.js';

/** What a scope form holds: a customer substring and the statuses ticked (none: every status). */
export interface ScopeDraft {
  customer: string;
  statuses: OrderStatus[];
}

export const EMPTY_SCOPE_DRAFT: ScopeDraft = { customer: '', statuses: [] };

/** A role picker, with what the picked role may do said beside it. */
export function RoleSelect({
  id,
  value,
  onChange,
  label = 'Role',
}: {
  id: string;
  value: Role;
  onChange: (role: Role) => void;
  label?: string;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        aria-describedby={`${id}-hint`}
        value={value}
        onChange={(e) => {
          const role = ROLES.find((r) => r === e.target.value);
          if (role) onChange(role);
        }}
      >
        {ROLES.map((role) => (
          <option key={role} value={role}>
            {ROLE_LABELS[role]}
          </option>
        ))}
      </select>
      <p id={`${id}-hint`} className="field-hint">
        {ROLE_LABELS[value]} {ROLE_HINTS[value]}.
      </p>
    </div>
  );
}

/** The scope of a user or token: which customer's orders and which statuses it may see (empty: every order). */
export function ScopeFields({
  idPrefix,
  draft,
  onChange,
}: {
  idPrefix: string;
  draft: ScopeDraft;
  onChange: (draft: ScopeDraft) => void;
}) {
  const toggle = (status: OrderStatus, checked: boolean) =>
    onChange({
      ...draft,
      statuses: checked ? [...draft.statuses, status] : draft.statuses.filter((s) => s !== status),
    });
  return (
    <fieldset className="scope-fields">
      <legend>Sees (leave empty for every order)</legend>
      <div className="field">
        <label htmlFor={`${idPrefix}-scope-customer`}>Only customers containing</label>
        <input
          id={`${idPrefix}-scope-customer`}
          autoComplete="off"
          value={draft.customer}
          onChange={(e) => onChange({ ...draft, customer: e.target.value })}
        />
      </div>
      <div className="scope-statuses" role="group" aria-label="Only statuses">
        {ORDER_STATUSES.map((status) => (
          <label key={status} className="check">
            <input
              type="checkbox"
              checked={draft.statuses.includes(status)}
              onChange={(e) => toggle(status, e.target.checked)}
            />
            {STATUS_LABELS[status]}
          </label>
        ))}
      </div>
    </fieldset>
  );
}
