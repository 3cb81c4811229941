import { ORDER_STATUSES, type OrderStatus } from '@orders/contracts';
import { STATUS_LABELS } from '../../../lib/format.js';

/** Values of the editable fields while a person types them. */
export interface OrderDraft {
  customer_name: string;
  product_name: string;
  status: OrderStatus;
}

interface OrderFieldsProps {
  idPrefix: string;
  draft: OrderDraft;
  onChange: (draft: OrderDraft) => void;
  /** The field the server refused, marked invalid and described by `errorId`. */
  invalidField: string | undefined;
  errorId: string;
}

/** Customer, product and status inputs, shared by the create form and the card editor. */
export function OrderFields({ idPrefix, draft, onChange, invalidField, errorId }: OrderFieldsProps) {
  const invalid = (field: string) =>
    invalidField === field ? { 'aria-invalid': true as const, 'aria-describedby': errorId } : {};
  return (
    <>
      <div className="field">
        <label htmlFor={`${idPrefix}-customer`}>Customer</label>
        <input
          id={`${idPrefix}-customer`}
          name="customer_name"
          required
          maxLength={200}
          autoComplete="off"
          value={draft.customer_name}
          onChange={(e) => onChange({ ...draft, customer_name: e.target.value })}
          {...invalid('customer_name')}
        />
      </div>
      <div className="field">
        <label htmlFor={`${idPrefix}-product`}>Product</label>
        <input
          id={`${idPrefix}-product`}
          name="product_name"
          required
          maxLength={200}
          autoComplete="off"
          value={draft.product_name}
          onChange={(e) => onChange({ ...draft, product_name: e.target.value })}
          {...invalid('product_name')}
        />
      </div>
      <div className="field">
        <label htmlFor={`${idPrefix}-status`}>Status</label>
        <select
          id={`${idPrefix}-status`}
          name="status"
          value={draft.status}
          onChange={(e) => onChange({ ...draft, status: e.target.value as OrderStatus })}
          {...invalid('status')}
        >
          {ORDER_STATUSES.map((status) => (
            <option key={status} value={status}>
              {STATUS_LABELS[status]}
            </option>
          ))}
        </select>
      </div>
    </>
  );
}
