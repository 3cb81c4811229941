import { ErrorCode, type Order, type UpdateOrderBody } from '@orders/contracts';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type RefObject } from 'react';
import { useAnnouncer } from '../../../lib/announcer.js';
import { useNow } from '../../../lib/useNow.js';
import { describeWriteProblem, WriteProblemCode } from '../errors.js';
import { usePendingOrderIds, useUpdateOrder } from '../mutations.js';
import { useOrderList, useOrderTotal, useReloadOrder, type ListFilter } from '../queries.js';
import { useUndoableDelete } from '../undoDelete.js';
import { GoToOrder } from './GoToOrder.js';
import { OrderCard, type CardFocus, type EditState } from './OrderCard.js';
import type { OrderDraft } from './OrderFields.js';

interface Notice {
  key: number;
  message: string;
  /** Offer to show the order as it is now (after a 412). */
  reloadId?: number;
}

/**
 * A first guess at a row's height (a card with one-line names, plus the gap). Every row is then measured: cards grow
 * with long names, larger text, narrow screens and their opened details, and a fixed height clipped them. The edited
 * card is measured under its own key, so its taller size is forgotten when the edit ends.
 */
const CARD_ROW_ESTIMATE = 150;

function changedFields(order: Order, draft: OrderDraft): UpdateOrderBody {
  const changes: UpdateOrderBody = {};
  const customer = draft.customer_name.trim();
  const product = draft.product_name.trim();
  if (customer !== order.customer_name) changes.customer_name = customer;
  if (product !== order.product_name) changes.product_name = product;
  if (draft.status !== order.status) changes.status = draft.status;
  return changes;
}

/** Older pages are asked for when the reader comes this many cards from the end of the window. */
const LOAD_OLDER_AHEAD = 20;

/**
 * The board: a window of the current filter's orders, newest change first, virtualized so a million-order book costs
 * what a screenful does. The newest page shows as soon as it arrives; older pages are read as the reader scrolls
 * (`onNeedOlder`), behind a loading row. The total comes from the server's counts. Also owns the edit/delete
 * interactions and the messages about refused writes.
 */
export function OrderBoard({
  filter,
  onNeedOlder,
  onShowHistory,
  onOpen,
  selectedIds,
  onSelect,
  canEdit,
  canDelete,
}: {
  filter: ListFilter;
  /** Reads the next older page into the window; called as the reader nears its end. */
  onNeedOlder?: () => Promise<void>;
  /** Opens the order's timeline. */
  onShowHistory?: (id: number) => void;
  /** Opens the order's detail panel. */
  onOpen?: (id: number) => void;
  /** The orders selected for a bulk action. */
  selectedIds?: ReadonlySet<number>;
  /** Selects or unselects an order (cards show a checkbox when given). */
  onSelect?: (id: number, selected: boolean) => void;
  /** Whether the signed-in role may edit (the Edit buttons are hidden otherwise). */
  canEdit: boolean;
  /** Whether the signed-in role may delete. */
  canDelete: boolean;
}) {
  // The virtualizer hands out new measurements through the same object on every scroll; memoizing around it (React
  // Compiler) would freeze them, so this component opts out.
  'use no memo';
  const list = useOrderList(filter);
  const now = useNow(15_000);
  const pendingIds = usePendingOrderIds();
  const { mutate: mutateUpdate } = useUpdateOrder();
  const reloadOrder = useReloadOrder();
  const { announce } = useAnnouncer();
  const [editing, setEditing] = useState<EditState | null>(null);
  const [confirmingDelete, setConfirmingDelete] = useState<number | null>(null);
  const [focusTarget, setFocusTarget] = useState<{ id: number; part: CardFocus } | null>(null);
  const [notices, setNotices] = useState<Notice[]>([]);
  const noticeSeq = useRef(0);
  const scrollRef = useRef<HTMLDivElement>(null);

  const total = useOrderTotal(filter);
  const [olderFailed, setOlderFailed] = useState(false);
  const olderReading = useRef(false);

  const addNotice = useCallback((notice: Omit<Notice, 'key'>) => {
    noticeSeq.current += 1;
    const key = noticeSeq.current;
    setNotices((current) => [...current.filter((n) => n.message !== notice.message), { ...notice, key }].slice(-4));
  }, []);
  const dismissNotice = (key: number) => setNotices((current) => current.filter((n) => n.key !== key));

  const deletes = useUndoableDelete(
    useCallback(
      (order: Order, error: Error) => addNotice({ message: describeWriteProblem(error, 'delete', order.id).message }),
      [addNotice],
    ),
  );
  const loadedOrders = list.data?.orders;
  // A delete waiting for its undo window hides the card at once; the list itself changes when the DELETE is sent.
  const orders = useMemo(() => {
    const all = loadedOrders ?? [];
    if (deletes.waiting.length === 0) return all;
    const hidden = new Set(deletes.waiting.map((order) => order.id));
    return all.filter((order) => !hidden.has(order.id));
  }, [loadedOrders, deletes.waiting]);
  const loadError = useAnnouncedLoadError(list.isError ? list.error : null, list.isSuccess);
  const hasOlder = list.data?.nextCursor !== undefined && onNeedOlder !== undefined;
  const virtualizer = useVirtualizer({
    // One more row at the end while older orders remain: it says they are loading.
    count: orders.length + (hasOlder ? 1 : 0),
    getScrollElement: () => scrollRef.current,
    estimateSize: () => CARD_ROW_ESTIMATE,
    getItemKey: (index) => {
      const id = orders[index]?.id ?? -index;
      return editing?.id === id ? `edit-${id}` : id;
    },
    overscan: 6,
  });

  const lastShown = virtualizer.getVirtualItems().at(-1)?.index ?? -1;
  const readOlder = useCallback(() => {
    if (!onNeedOlder || olderReading.current) return;
    olderReading.current = true;
    setOlderFailed(false);
    onNeedOlder().then(
      () => {
        olderReading.current = false;
      },
      () => {
        olderReading.current = false;
        setOlderFailed(true);
      },
    );
  }, [onNeedOlder]);
  const nearEnd = hasOlder && lastShown >= orders.length - LOAD_OLDER_AHEAD;
  // Also on a new window end: a page read that a resync made stale is dropped, and the new window asks again.
  const windowEnd = list.data?.nextCursor;
  useEffect(() => {
    if (nearEnd && !olderFailed) readOlder();
  }, [nearEnd, olderFailed, readOlder, orders.length, windowEnd]);

  useKeepScrollAnchor(scrollRef, orders, () => ({
    offset: virtualizer.scrollOffset ?? 0,
    height: virtualizer.scrollRect?.height ?? 0,
    rows: virtualizer.measurementsCache,
  }));

  // A card asked to take focus that the window does not render (it moved to the top, out of view): bring it in.
  useLayoutEffect(() => {
    if (!focusTarget) return;
    const index = orders.findIndex((order) => order.id === focusTarget.id);
    if (index === -1) {
      setFocusTarget(null);
      return;
    }
    if (!virtualizer.getVirtualItems().some((item) => item.index === index)) virtualizer.scrollToIndex(index);
  }, [focusTarget, orders, virtualizer]);
  const focusDone = useCallback(() => setFocusTarget(null), []);

  const startEdit = useCallback((order: Order) => {
    setConfirmingDelete(null);
    setFocusTarget({ id: order.id, part: 'form' });
    setEditing({
      id: order.id,
      baseVersion: order.version,
      draft: { customer_name: order.customer_name, product_name: order.product_name, status: order.status },
      problem: null,
    });
  }, []);

  const changeDraft = useCallback((draft: OrderDraft) => {
    setEditing((current) => (current ? { ...current, draft } : current));
  }, []);

  const cancelEdit = useCallback(() => {
    setEditing((current) => {
      if (current) setFocusTarget({ id: current.id, part: 'edit' });
      return null;
    });
  }, []);

  const saveEdit = useCallback(
    (order: Order, edit: EditState) => {
      const changes = changedFields(order, edit.draft);
      setEditing(null);
      setFocusTarget({ id: edit.id, part: 'edit' });
      if (Object.keys(changes).length === 0) return;
      mutateUpdate(
        { id: edit.id, changes, expectedVersion: edit.baseVersion },
        {
          onSuccess: () => announce(`Order #${edit.id} saved.`),
          onError: (error) => {
            const problem = describeWriteProblem(error, 'update', edit.id);
            if (problem.code === WriteProblemCode.Validation) {
              // Give the person their input back, with the refused field marked.
              setEditing({ ...edit, problem });
              setFocusTarget({ id: edit.id, part: 'form' });
            } else if (problem.code === ErrorCode.VersionMismatch) {
              addNotice({ message: problem.message, reloadId: edit.id });
            } else {
              addNotice({ message: problem.message });
            }
          },
        },
      );
    },
    [mutateUpdate, addNotice, announce],
  );

  const askDelete = useCallback((id: number | null) => {
    setConfirmingDelete((current) => {
      // Asking moves focus onto "Keep"; keeping it goes back to the Delete button it came from.
      if (id !== null) setFocusTarget({ id, part: 'keep' });
      else if (current !== null) setFocusTarget({ id: current, part: 'delete' });
      return id;
    });
  }, []);

  const { remove: hideAndDelete, undo: undoDelete } = deletes;
  // Read through a ref so the callback (a prop of every memoized card) stays the same while the feed patches the list.
  const shownOrders = useRef(orders);
  useLayoutEffect(() => {
    shownOrders.current = orders;
  }, [orders]);
  const removeOrder = useCallback(
    (order: Order) => {
      setConfirmingDelete(null);
      const current = shownOrders.current;
      const index = current.findIndex((candidate) => candidate.id === order.id);
      const next = current[index + 1] ?? current[index - 1];
      hideAndDelete(order);
      if (next) setFocusTarget({ id: next.id, part: 'card' });
      announce(`Order #${order.id} deleted. Undo is offered above the board for a few seconds.`);
    },
    [hideAndDelete, announce],
  );

  const restoreOrder = (order: Order) => {
    undoDelete(order.id);
    setFocusTarget({ id: order.id, part: 'card' });
    announce(`Order #${order.id} is back.`);
  };

  const reload = async (notice: Notice) => {
    if (notice.reloadId === undefined) return;
    dismissNotice(notice.key);
    try {
      const order = await reloadOrder(notice.reloadId);
      startEdit(order);
    } catch (error) {
      addNotice({ message: describeWriteProblem(error, 'update', notice.reloadId).message });
    }
  };

  const noticeList = (notices.length > 0 || deletes.waiting.length > 0) && (
    <ul className="notices" aria-label="Messages">
      {deletes.waiting.map((order) => (
        <li
          key={`deleted-${order.id}`}
          className="notice notice-undo"
          // The clock stops while the person is on the notice, so reaching "Undo" never races it.
          onFocus={() => deletes.hold(order.id, true)}
          onBlur={() => deletes.hold(order.id, false)}
          onMouseEnter={() => deletes.hold(order.id, true)}
          onMouseLeave={() => deletes.hold(order.id, false)}
        >
          <span>Order #{order.id} deleted.</span>
          <button type="button" className="primary" onClick={() => restoreOrder(order)}>
            Undo<span className="visually-hidden"> deleting order #{order.id}</span>
          </button>
          <button
            type="button"
            aria-label={`Delete order #${order.id} now, without waiting`}
            onClick={() => deletes.sendNow(order.id)}
          >
            ×
          </button>
        </li>
      ))}
      {notices.map((notice) => (
        <li key={notice.key} className="notice" role="alert">
          <span>{notice.message}</span>
          {notice.reloadId !== undefined && (
            <button type="button" onClick={() => void reload(notice)}>
              Reload order #{notice.reloadId}
            </button>
          )}
          <button type="button" aria-label="Dismiss message" onClick={() => dismissNotice(notice.key)}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );

  if (list.isPending && loadError === null) {
    return (
      <section className="board" aria-labelledby="board-heading">
        <h2 id="board-heading">Orders</h2>
        <div className="board-loading" role="status" aria-label="Loading orders">
          {[0, 1, 2].map((i) => (
            <div key={i} className="card skeleton" aria-hidden="true" />
          ))}
          <p>Loading orders…</p>
        </div>
      </section>
    );
  }

  if (loadError !== null && !list.isSuccess) {
    // No role="alert": each retry would insert it again and read it out again. The announcer said it once.
    return (
      <section className="board" aria-labelledby="board-heading">
        <h2 id="board-heading">Orders</h2>
        <div className="board-error">
          <p>The orders could not be loaded: {loadError}</p>
          <p>{list.isFetching ? 'Trying again…' : 'The page keeps trying by itself.'}</p>
          <button type="button" onClick={() => void list.refetch()}>
            Try again now
          </button>
        </div>
      </section>
    );
  }

  const filtered = Boolean(filter.status || filter.customer || filter.q);
  /** What a card shows and does, the same on the board and in "go to order". */
  const cardPropsFor = (order: Order) => ({
    order,
    now,
    saving: pendingIds.has(order.id),
    editing: editing?.id === order.id ? editing : null,
    confirmingDelete: confirmingDelete === order.id,
    canEdit,
    canDelete,
    onShowHistory,
    onOpen,
    onEdit: startEdit,
    onDraftChange: changeDraft,
    onSave: saveEdit,
    onCancelEdit: cancelEdit,
    onAskDelete: askDelete,
    onDelete: removeOrder,
  });
  const items = virtualizer.getVirtualItems();
  // Until the server's counts arrive (and for a window that holds every order anyway), the loaded orders say it.
  const shownTotal = total ?? orders.length;
  return (
    <section className="board" aria-labelledby="board-heading">
      <div className="board-head">
        <h2 id="board-heading">Orders</h2>
        <p className="board-count">
          {shownTotal.toLocaleString()} {shownTotal === 1 ? 'order' : 'orders'}
          {filtered ? ' match' : ''}
        </p>
      </div>
      <GoToOrder
        loaded={orders}
        onShow={(index) => virtualizer.scrollToIndex(index, { align: 'start' })}
        cardFor={(order) => <OrderCard {...cardPropsFor(order)} />}
      />
      {noticeList}
      {orders.length === 0 ? (
        <div className="board-empty">
          <p>{filtered ? 'No orders match these filters.' : 'No orders yet.'}</p>
          <p>
            {filtered ? 'Change the filters to see more.' : 'Create one above; orders created anywhere appear here.'}
          </p>
        </div>
      ) : (
        <div ref={scrollRef} className="board-scroll" role="region" aria-label="Order board" tabIndex={0}>
          <ol className="board-list" aria-label="Orders" style={{ height: virtualizer.getTotalSize() }}>
            {items.map((item) => {
              const order = orders[item.index];
              if (!order) {
                return (
                  <li
                    key="older"
                    className="board-item board-more"
                    style={{ transform: `translateY(${item.start}px)` }}
                    {...(olderFailed ? {} : { role: 'status', 'aria-label': 'Loading older orders' })}
                  >
                    {olderFailed ? (
                      <p role="alert">
                        Older orders could not be loaded.{' '}
                        <button type="button" onClick={readOlder}>
                          Try again
                        </button>
                      </p>
                    ) : (
                      <p>Loading older orders…</p>
                    )}
                  </li>
                );
              }
              return (
                <li
                  key={order.id}
                  data-index={item.index}
                  ref={virtualizer.measureElement}
                  className="board-item"
                  style={{ transform: `translateY(${item.start}px)` }}
                  aria-setsize={orders.length}
                  aria-posinset={item.index + 1}
                >
                  <OrderCard
                    {...cardPropsFor(order)}
                    focus={focusTarget?.id === order.id ? focusTarget.part : undefined}
                    onFocused={focusDone}
                    selected={selectedIds?.has(order.id) ?? false}
                    onSelect={onSelect}
                  />
                </li>
              );
            })}
          </ol>
        </div>
      )}
    </section>
  );
}

/** Where a row sits in the scrolled list, as the virtualizer measured it. */
interface RowPlace {
  start: number;
  end: number;
}

/** The index of the first row that ends below `offset` (rows are in order and do not overlap). */
function firstRowEndingAfter(rows: readonly RowPlace[], offset: number): number {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((rows[middle]?.end ?? Infinity) > offset) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * Someone reading further down the board should not have the cards slide away under them each time an order lands at
 * the top. When the board is scrolled, the first visible order that did not change stays where it was on screen
 * (unchanged orders keep their object, so identity says which ones did not change). At the very top, new orders push
 * in as usual. Rows have measured heights, so the shift is the anchor's new start minus its old one.
 */
function useKeepScrollAnchor(
  scrollRef: RefObject<HTMLDivElement | null>,
  orders: readonly Order[],
  viewport: () => { offset: number; height: number; rows: readonly RowPlace[] },
): void {
  const previousRef = useRef<{ orders: readonly Order[]; rows: readonly RowPlace[] }>({ orders, rows: [] });
  /** Our own last adjustment, until the scroll event reporting it reaches the virtualizer. */
  const adjustedRef = useRef<{ from: number; to: number } | null>(null);
  useLayoutEffect(() => {
    const { orders: previous, rows: previousRows } = previousRef.current;
    // The position comes from the virtualizer (kept from scroll events), not from `scroller.scrollTop`: reading the
    // DOM here, right after React changed it, would force a layout on every patched frame.
    const viewportNow = viewport();
    previousRef.current = { orders, rows: viewportNow.rows };
    const scroller = scrollRef.current;
    const adjusted = adjustedRef.current;
    let offset = viewportNow.offset;
    if (adjusted && viewportNow.offset === adjusted.from) offset = adjusted.to;
    else adjustedRef.current = null;
    if (!scroller || previous === orders || offset < CARD_ROW_ESTIMATE / 2) return;
    const indexById = new Map<number, number>();
    orders.forEach((order, index) => indexById.set(order.id, index));
    const bottom = offset + viewportNow.height;
    const lastOld = Math.min(previous.length, previousRows.length);
    for (let oldIndex = firstRowEndingAfter(previousRows, offset); oldIndex < lastOld; oldIndex++) {
      const oldRow = previousRows[oldIndex];
      if (!oldRow || oldRow.start >= bottom) return;
      const anchor = previous[oldIndex];
      const newIndex = anchor ? indexById.get(anchor.id) : undefined;
      if (!anchor || newIndex === undefined || orders[newIndex] !== anchor) continue;
      const newRow = viewportNow.rows[newIndex];
      if (newRow && newRow.start !== oldRow.start) {
        const to = offset + (newRow.start - oldRow.start);
        scroller.scrollTop = to;
        adjustedRef.current = { from: viewportNow.offset, to };
      }
      return;
    }
  }, [scrollRef, orders, viewport]);
}

/**
 * The load error to show while the board cannot be read, kept through the retries (each one makes the query pending
 * again, which would otherwise swap the message for the loading skeleton and back). It is announced once, when it
 * first appears, and forgotten once a read succeeds.
 */
function useAnnouncedLoadError(error: Error | null, loaded: boolean): string | null {
  const { announce } = useAnnouncer();
  const [shown, setShown] = useState<string | null>(null);
  const announcedRef = useRef(false);
  const message = error ? describeLoadError(error) : null;
  // Adjusted while rendering (not in an effect), so the error never flickers to the skeleton for one frame.
  if (message !== null && message !== shown) setShown(message);
  else if (message === null && loaded && shown !== null) setShown(null);
  useEffect(() => {
    if (shown === null) {
      announcedRef.current = false;
    } else if (!announcedRef.current) {
      announcedRef.current = true;
      announce(`The orders could not be loaded: ${shown} The page keeps trying.`);
    }
  }, [shown, announce]);
  return message ?? shown;
}

function describeLoadError(error: Error): string {
  return error.message || 'unknown error';
}
