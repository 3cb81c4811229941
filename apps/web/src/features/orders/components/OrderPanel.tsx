import { ErrorCode, type Order } from '@orders/contracts';
import { useEffect, useEffectEvent, useRef, useState, type ReactNode } from 'react';
import { OrderTimeline } from '../../history/OrderTimeline.js';
import { formatAbsolute, STATUS_LABELS } from '../../../lib/format.js';
import { ApiError } from '../api.js';
import { findOrder } from '../cache.js';
import { useOrderList, useOrderLookup, type ListFilter } from '../queries.js';

/** The links that open an order's panel from its card. */
export const OPENER = '[data-order-open]';

/** The element that opens an order's panel from its card: focus returns there when the panel closes. */
export function openerSelector(id: number): string {
  return `[data-order-open="${String(id)}"]`;
}

/** Every field of an order, with exact local times. */
function OrderFacts({ order }: { order: Order }) {
  const time = (iso: string) => <time dateTime={iso}>{formatAbsolute(iso)}</time>;
  const facts: [string, ReactNode][] = [
    ['Order id', `#${String(order.id)}`],
    ['Customer', order.customer_name],
    ['Product', order.product_name],
    ['Status', STATUS_LABELS[order.status]],
    ['Created', time(order.created_at)],
    ['Last updated', time(order.updated_at)],
    // Only writes through the API name their author.
    ['Last changed by', order.updated_by ?? 'Not recorded (written outside the API)'],
    ['Version', order.version],
  ];
  return (
    <dl className="panel-facts">
      {facts.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * One order seen whole: every field, exact local times, who changed it last, its version and its history. The board's
 * live copy is shown when the window holds the order (the feed keeps it current); otherwise it is read by id, so a
 * shared link opens any order. Escape or Close closes it and focus returns to the order's card (or to where it was).
 */
export function OrderPanel({ id, filter, onClose }: { id: number; filter: ListFilter; onClose: () => void }) {
  const live = findOrder(useOrderList(filter).data, id);
  const lookup = useOrderLookup(live === undefined ? id : undefined);
  const order = live ?? lookup.data;
  const [showHistory, setShowHistory] = useState(false);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const returnTo = useRef<Element | null>(null);

  useEffect(() => {
    returnTo.current = document.activeElement;
    headingRef.current?.focus();
  }, []);

  const close = () => {
    onClose();
    const opener = document.querySelector<HTMLElement>(openerSelector(id));
    const previous = returnTo.current;
    if (opener !== null) opener.focus();
    else if (previous instanceof HTMLElement && previous.isConnected) previous.focus();
  };
  // On the document, not the panel: focus may be anywhere (or nowhere, after a button it held went away). An Escape
  // something else already used (an editor closing, marked with preventDefault) is left alone.
  const onEscape = useEffectEvent((event: globalThis.KeyboardEvent) => {
    if (event.key !== 'Escape' || event.defaultPrevented) return;
    event.preventDefault();
    close();
  });
  useEffect(() => {
    const listener = (event: globalThis.KeyboardEvent) => {
      onEscape(event);
    };
    document.addEventListener('keydown', listener);
    return () => {
      document.removeEventListener('keydown', listener);
    };
  }, []);

  const headingId = `order-panel-${String(id)}`;
  let body;
  if (order !== undefined) {
    body = (
      <>
        <OrderFacts order={order} />
        {showHistory ? (
          <OrderTimeline
            id={order.id}
            onClose={() => {
              setShowHistory(false);
            }}
          />
        ) : (
          <button type="button" onClick={() => setShowHistory(true)}>
            Show history
          </button>
        )}
      </>
    );
  } else if (lookup.isError) {
    body = (
      <p role="alert">
        {lookup.error instanceof ApiError && lookup.error.code === ErrorCode.OrderNotFound
          ? `Order #${String(id)} does not exist (or is outside what you may see).`
          : `Order #${String(id)} could not be read: ${lookup.error.message}`}
      </p>
    );
  } else {
    body = <p role="status">Reading order #{id}…</p>;
  }

  return (
    <section className="panel order-panel" aria-labelledby={headingId}>
      <div className="order-panel-top">
        <h2 id={headingId} ref={headingRef} tabIndex={-1}>
          Order #{id}
        </h2>
        <button type="button" onClick={close}>
          Close
        </button>
      </div>
      {body}
    </section>
  );
}
