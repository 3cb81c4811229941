import { ErrorCode, type Order } from '@orders/contracts';
import { useId, useState, type ReactNode, type SubmitEvent } from 'react';
import { ApiError } from '../api.js';
import { useOrderLookup } from '../queries.js';

/**
 * Opens one order by id, whether or not the board's window has loaded it: the order is read with `GET /orders/:id`
 * and shown above the board; when the window holds it, the board also scrolls to it, and the window's copy (kept live
 * by the feed) is the one shown.
 */
export function GoToOrder({
  loaded,
  onShow,
  cardFor,
}: {
  loaded: readonly Order[];
  /** Scrolls the board to the order at this index of the window. */
  onShow: (index: number) => void;
  cardFor: (order: Order) => ReactNode;
}) {
  const prefix = useId();
  const [text, setText] = useState('');
  const [wanted, setWanted] = useState<number | undefined>(undefined);
  const [invalid, setInvalid] = useState(false);
  const lookup = useOrderLookup(wanted);

  const submit = (event: SubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const id = Number(text.trim());
    if (!Number.isSafeInteger(id) || id < 1) {
      setInvalid(true);
      return;
    }
    setInvalid(false);
    setWanted(id);
    const index = loaded.findIndex((order) => order.id === id);
    if (index !== -1) onShow(index);
  };

  const live = wanted === undefined ? undefined : loaded.find((order) => order.id === wanted);
  const shown = live ?? lookup.data;
  let message: string | null = null;
  if (invalid) message = 'An order id is a whole number from 1.';
  else if (wanted !== undefined && !shown && lookup.isError) {
    message =
      lookup.error instanceof ApiError && lookup.error.code === ErrorCode.OrderNotFound
        ? `Order #${wanted} does not exist.`
        : `Order #${wanted} could not be read: ${lookup.error.message}`;
  }

  return (
    <div className="goto">
      <form role="search" aria-label="Go to order" className="goto-form" onSubmit={submit}>
        <label htmlFor={`${prefix}-id`}>Go to order</label>
        <input
          id={`${prefix}-id`}
          inputMode="numeric"
          autoComplete="off"
          placeholder="Order id"
          value={text}
          aria-invalid={invalid}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit">Open</button>
      </form>
      {message !== null && <p role="alert">{message}</p>}
      {wanted !== undefined && !shown && lookup.isFetching && (
        <p role="status" aria-label="Reading order">
          Reading order #{wanted}…
        </p>
      )}
      {shown && (
        <section className="goto-found" aria-label={`Opened order #${shown.id}`}>
          {cardFor(shown)}
          <button
            type="button"
            onClick={() => {
              setWanted(undefined);
              setText('');
            }}
          >
            Close
          </button>
        </section>
      )}
    </div>
  );
}
