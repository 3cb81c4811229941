import type { Order } from '@orders/contracts';
import { memo, useLayoutEffect, useRef, type KeyboardEvent, type SubmitEvent } from 'react';
import { formatAbsolute, formatRelative } from '../../../lib/format.js';
import type { WriteProblem } from '../errors.js';
import { OrderFields, type OrderDraft } from './OrderFields.js';
import { StatusBadge } from './StatusBadge.js';

/** An edit in progress on one card; kept by the board so it survives the card scrolling out of view or moving. */
export interface EditState {
  id: number;
  /** The version the person started from; sent as If-Match. */
  baseVersion: number;
  draft: OrderDraft;
  problem: WriteProblem | null;
}

/**
 * Where focus goes on a card after an action: into the edit form, back to Edit or Delete, onto "Keep" when a delete
 * is to be confirmed, or onto the card itself (the next card, after a delete).
 */
export type CardFocus = 'form' | 'edit' | 'delete' | 'keep' | 'card';

interface OrderCardProps {
  order: Order;
  /** Moves focus to this part of the card once it is shown; `onFocused` is told it happened. */
  focus?: CardFocus;
  onFocused?: () => void;
  now: number;
  saving: boolean;
  editing: EditState | null;
  confirmingDelete: boolean;
  canEdit: boolean;
  canDelete: boolean;
  onEdit: (order: Order) => void;
  onDraftChange: (draft: OrderDraft) => void;
  onSave: (order: Order, edit: EditState) => void;
  onCancelEdit: () => void;
  onAskDelete: (id: number | null) => void;
  onDelete: (order: Order) => void;
  onShowHistory?: (id: number) => void;
}

/**
 * One order on the board: what it is, its status, when it last changed and by whom, and what the signed-in role may
 * do to it.
 */
export const OrderCard = memo(function OrderCard({
  order,
  focus,
  onFocused,
  now,
  saving,
  editing,
  confirmingDelete,
  canEdit,
  canDelete,
  onEdit,
  onDraftChange,
  onSave,
  onCancelEdit,
  onAskDelete,
  onDelete,
  onShowHistory,
}: OrderCardProps) {
  const titleId = `order-${order.id}-title`;
  const errorId = `order-${order.id}-error`;
  const rootRef = useRef<HTMLElement>(null);
  const isEditing = editing !== null && canEdit;

  useLayoutEffect(() => {
    const root = rootRef.current;
    if (!focus || !root) return;
    const target =
      focus === 'card'
        ? root
        : focus === 'form'
          ? root.querySelector<HTMLElement>('input, select')
          : root.querySelector<HTMLElement>(`[data-focus="${focus}"]`);
    // The asked-for control may not exist (a role without Edit): the card itself is the next best place.
    (target ?? root).focus();
    onFocused?.();
  }, [focus, onFocused, isEditing, confirmingDelete]);

  // Escape backs out of whatever the card is in the middle of, the way a dialog would.
  const onKeyDown = (event: KeyboardEvent<HTMLElement>) => {
    if (event.key !== 'Escape') return;
    if (isEditing) {
      event.preventDefault();
      onCancelEdit();
    } else if (confirmingDelete) {
      event.preventDefault();
      onAskDelete(null);
    }
  };

  if (editing && canEdit) {
    const submit = (event: SubmitEvent<HTMLFormElement>) => {
      event.preventDefault();
      onSave(order, editing);
    };
    return (
      <article
        ref={rootRef}
        className={`card card-editing status-${order.status}`}
        aria-labelledby={titleId}
        tabIndex={-1}
        onKeyDown={onKeyDown}
      >
        <h3 id={titleId} className="card-title">
          Order #{order.id}
        </h3>
        <form className="order-form" aria-label={`Edit order #${order.id}`} onSubmit={submit} noValidate>
          <OrderFields
            idPrefix={`edit-${order.id}`}
            draft={editing.draft}
            onChange={onDraftChange}
            invalidField={editing.problem?.field}
            errorId={errorId}
          />
          {editing.problem && (
            <p id={errorId} className="form-error" role="alert">
              {editing.problem.message}
            </p>
          )}
          {order.version > editing.baseVersion && (
            // Said before Save, so nobody types a long change only to have it refused with 412.
            <p className="form-note" role="status">
              Order #{order.id} has been changed elsewhere since you started editing; saving now would be refused.{' '}
              <button type="button" onClick={() => onEdit(order)}>
                Start again from the latest
              </button>
            </p>
          )}
          <div className="form-actions">
            <button type="submit" className="primary">
              Save
            </button>
            <button type="button" onClick={onCancelEdit}>
              Cancel
            </button>
          </div>
        </form>
      </article>
    );
  }

  return (
    <article
      ref={rootRef}
      className={`card status-${order.status}`}
      aria-labelledby={titleId}
      aria-busy={saving || undefined}
      tabIndex={-1}
      onKeyDown={onKeyDown}
    >
      <div className="card-head">
        <h3 id={titleId} className="card-title">
          Order #{order.id}
        </h3>
        <StatusBadge status={order.status} />
      </div>
      <dl className="card-details">
        <div>
          <dt>Customer</dt>
          <dd>{order.customer_name}</dd>
        </div>
        <div>
          <dt>Product</dt>
          <dd>{order.product_name}</dd>
        </div>
      </dl>
      <details className="card-more">
        <summary>
          Details<span className="visually-hidden"> of order #{order.id}</span>
        </summary>
        <dl className="card-facts">
          <div>
            <dt>Created</dt>
            <dd>
              <time dateTime={order.created_at}>{formatAbsolute(order.created_at)}</time>
            </dd>
          </div>
          <div>
            <dt>Last changed</dt>
            <dd>
              <time dateTime={order.updated_at}>{formatAbsolute(order.updated_at)}</time>
            </dd>
          </div>
          <div>
            <dt>Changed by</dt>
            {/* Only writes made through the API name their author. */}
            <dd>{order.updated_by ?? 'another client (not recorded)'}</dd>
          </div>
          <div>
            <dt>Version</dt>
            <dd>{order.version}</dd>
          </div>
        </dl>
      </details>
      <div className="card-foot">
        <p className="card-updated">
          Updated{' '}
          <time dateTime={order.updated_at} title={formatAbsolute(order.updated_at)}>
            {formatRelative(order.updated_at, now)}
          </time>
          {order.updated_by !== undefined && (
            // Only writes made through the API name their author; another client's write shows no one.
            <>
              {' by '}
              <span className="card-actor">{order.updated_by}</span>
            </>
          )}
          {saving && <span className="saving"> · Saving…</span>}
        </p>
        {confirmingDelete && canDelete ? (
          <div className="card-actions confirm" role="group" aria-label={`Confirm deleting order #${order.id}`}>
            <span>Delete order #{order.id}?</span>
            {/* "Keep" comes first and takes focus: a second Enter on what was the Delete button keeps the order. */}
            <button type="button" data-focus="keep" onClick={() => onAskDelete(null)}>
              Keep
            </button>
            <button type="button" className="danger" onClick={() => onDelete(order)}>
              Yes, delete
            </button>
          </div>
        ) : (
          <div className="card-actions">
            {canEdit && (
              <button
                type="button"
                data-focus="edit"
                onClick={() => onEdit(order)}
                aria-label={`Edit order #${order.id}`}
              >
                Edit
              </button>
            )}
            {canDelete && (
              <button
                type="button"
                data-focus="delete"
                onClick={() => onAskDelete(order.id)}
                aria-label={`Delete order #${order.id}`}
              >
                Delete
              </button>
            )}
            {/* Every role may read the timeline: it shows what the board already shows, over time. */}
            {onShowHistory && (
              <button
                type="button"
                onClick={() => onShowHistory(order.id)}
                aria-label={`History of order #${order.id}`}
              >
                History
              </button>
            )}
          </div>
        )}
      </div>
    </article>
  );
});
