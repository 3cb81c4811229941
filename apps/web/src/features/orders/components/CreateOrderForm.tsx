import { useId, useState, type SubmitEvent } from 'react';
import { useAnnouncer } from '../../../lib/announcer.js';
import { useCreateOrder } from '../mutations.js';
import { describeWriteProblem, WriteProblemCode, type WriteProblem } from '../errors.js';
import { OrderFields, type OrderDraft } from './OrderFields.js';

const EMPTY_DRAFT: OrderDraft = { customer_name: '', product_name: '', status: 'pending' };

/**
 * Creates an order. The card appears on the board at once; the form keeps what was typed until the server accepts
 * it, so a refusal (duplicate id, invalid field) can be fixed rather than retyped.
 */
export function CreateOrderForm() {
  const prefix = useId();
  const [orderId, setOrderId] = useState('');
  const [draft, setDraft] = useState<OrderDraft>(EMPTY_DRAFT);
  const [problem, setProblem] = useState<WriteProblem | null>(null);
  const createOrder = useCreateOrder();
  const { announce } = useAnnouncer();
  const errorId = `${prefix}-error`;

  function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    const id = Number(orderId);
    if (!Number.isSafeInteger(id) || id < 1) {
      setProblem({
        code: WriteProblemCode.Validation,
        field: 'id',
        message: 'Order id must be a whole number from 1 up.',
      });
      return;
    }
    setProblem(null);
    createOrder.mutate(
      { id, customer_name: draft.customer_name.trim(), product_name: draft.product_name.trim(), status: draft.status },
      {
        onSuccess: (order) => {
          announce(`Order #${order.id} created.`);
          setOrderId('');
          setDraft(EMPTY_DRAFT);
        },
        onError: (error) => setProblem(describeWriteProblem(error, 'create', id)),
      },
    );
  }

  return (
    <section className="panel create-panel" aria-labelledby={`${prefix}-heading`}>
      <h2 id={`${prefix}-heading`}>New order</h2>
      <form className="order-form" aria-labelledby={`${prefix}-heading`} onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={`${prefix}-id`}>Order id</label>
          <input
            id={`${prefix}-id`}
            name="id"
            inputMode="numeric"
            pattern="[0-9]*"
            required
            autoComplete="off"
            value={orderId}
            onChange={(e) => setOrderId(e.target.value)}
            {...(problem?.field === 'id' ? { 'aria-invalid': true, 'aria-describedby': errorId } : {})}
          />
        </div>
        <OrderFields
          idPrefix={prefix}
          draft={draft}
          onChange={setDraft}
          invalidField={problem?.field}
          errorId={errorId}
        />
        <div className="form-actions">
          <button type="submit" className="primary">
            Create order
          </button>
        </div>
        {problem && (
          <p id={errorId} className="form-error" role="alert">
            {problem.message}
          </p>
        )}
      </form>
    </section>
  );
}
