import { ErrorCode, type Order, type UpdateOrderBody } from '@orders/contracts';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type RefObject } from 'react';
import { useNow } from '../../../lib/useNow.js';
import { describeWriteProblem, WriteProblemCode } from '../errors.js';
import { useDeleteOrder, usePendingOrderIds, useUpdateOrder } from '../mutations.js';
import { useOrderList, useOrderTotal, useReloadOrder, type ListFilter } from '../queries.js';
import { GoToOrder } from './GoToOrder.js';
import { OrderCard, type EditState } from './OrderCard.js';
import type { OrderDraft } from './OrderFields.js';

interface Notice {
  key: number;
  message: string;
  /** Offer to show the order as it is now (after a 412). */
  reloadId?: number;
}

/**
 * Every card has the same height (CSS: `--card-row`), so rows are placed by arithmetic and never measured: measuring
 * each newly shown card forced a layout per frame under a stream of updates. Only the card being edited is taller;
 * that one is measured, under its own key so its size is forgotten when the edit ends.
 */
const CARD_ROW_HEIGHT = 140;

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
  const { mutate: mutateDelete } = useDeleteOrder();
  const reloadOrder = useReloadOrder();
  const [editing, setEditing] = useState<EditState | null>(null);
  const [confirmingDelete, setConfirmingDelete] = useState<number | null>(null);
  const [notices, setNotices] = useState<Notice[]>([]);
  const noticeSeq = useRef(0);
  const scrollRef = useRef<HTMLDivElement>(null);

  const total = useOrderTotal(filter);
  const [olderFailed, setOlderFailed] = useState(false);
  const olderReading = useRef(false);

  const orders = list.data?.orders ?? [];
  const hasOlder = list.data?.nextCursor !== undefined && onNeedOlder !== undefined;
  const virtualizer = useVirtualizer({
    // One more row at the end while older orders remain: it says they are loading.
    count: orders.length + (hasOlder ? 1 : 0),
    getScrollElement: () => scrollRef.current,
    estimateSize: () => CARD_ROW_HEIGHT,
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
  }));

  const addNotice = useCallback((notice: Omit<Notice, 'key'>) => {
    noticeSeq.current += 1;
    const key = noticeSeq.current;
    setNotices((current) => [...current.filter((n) => n.message !== notice.message), { ...notice, key }].slice(-4));
  }, []);
  const dismissNotice = (key: number) => setNotices((current) => current.filter((n) => n.key !== key));

  const startEdit = useCallback((order: Order) => {
    setConfirmingDelete(null);
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

  const cancelEdit = useCallback(() => setEditing(null), []);

  const saveEdit = useCallback(
    (order: Order, edit: EditState) => {
      const changes = changedFields(order, edit.draft);
      setEditing(null);
      if (Object.keys(changes).length === 0) return;
      mutateUpdate(
        { id: edit.id, changes, expectedVersion: edit.baseVersion },
        {
          onError: (error) => {
            const problem = describeWriteProblem(error, 'update', edit.id);
            if (problem.code === WriteProblemCode.Validation) {
              // Give the person their input back, with the refused field marked.
              setEditing({ ...edit, problem });
            } else if (problem.code === ErrorCode.VersionMismatch) {
              addNotice({ message: problem.message, reloadId: edit.id });
            } else {
              addNotice({ message: problem.message });
            }
          },
        },
      );
    },
    [mutateUpdate, addNotice],
  );

  const askDelete = useCallback((id: number | null) => setConfirmingDelete(id), []);

  const removeOrder = useCallback(
    (order: Order) => {
      setConfirmingDelete(null);
      mutateDelete(order, {
        onError: (error) => addNotice({ message: describeWriteProblem(error, 'delete', order.id).message }),
      });
    },
    [mutateDelete, addNotice],
  );

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

  const noticeList = notices.length > 0 && (
    <ul className="notices" aria-label="Messages">
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

  if (list.isPending) {
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

  if (list.isError) {
    return (
      <section className="board" aria-labelledby="board-heading">
        <h2 id="board-heading">Orders</h2>
        <div className="board-error" role="alert">
          <p>The orders could not be loaded: {describeLoadError(list.error)}</p>
          <p>The page keeps trying by itself.</p>
          <button type="button" onClick={() => void list.refetch()}>
            Try again now
          </button>
        </div>
      </section>
    );
  }

  const filtered = Boolean(filter.status || filter.customer || filter.q);
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
        cardFor={(order) => (
          <OrderCard
            order={order}
            now={now}
            saving={pendingIds.has(order.id)}
            editing={editing?.id === order.id ? editing : null}
            confirmingDelete={confirmingDelete === order.id}
            canEdit={canEdit}
            canDelete={canDelete}
            onShowHistory={onShowHistory}
            onOpen={onOpen}
            onEdit={startEdit}
            onDraftChange={changeDraft}
            onSave={saveEdit}
            onCancelEdit={cancelEdit}
            onAskDelete={askDelete}
            onDelete={removeOrder}
          />
        )}
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
              const isEditing = editing?.id === order.id;
              return (
                <li
                  key={order.id}
                  data-index={item.index}
                  ref={isEditing ? virtualizer.measureElement : undefined}
                  className="board-item"
                  style={{ transform: `translateY(${item.start}px)` }}
                  aria-setsize={orders.length}
                  aria-posinset={item.index + 1}
                >
                  <OrderCard
                    order={order}
                    now={now}
                    saving={pendingIds.has(order.id)}
                    editing={isEditing ? editing : null}
                    confirmingDelete={confirmingDelete === order.id}
                    canEdit={canEdit}
                    canDelete={canDelete}
                    onEdit={startEdit}
                    onDraftChange={changeDraft}
                    onSave={saveEdit}
                    onCancelEdit={cancelEdit}
                    onAskDelete={askDelete}
                    onDelete={removeOrder}
                    onShowHistory={onShowHistory}
                    onOpen={onOpen}
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

/**
 * Someone reading further down the board should not have the cards slide away under them each time an order lands at
 * the top. When the board is scrolled, the first visible order that did not change stays where it was on screen
 * (unchanged orders keep their object, so identity says which ones did not change). At the very top, new orders push
 * in as usual.
 */
function useKeepScrollAnchor(
  scrollRef: RefObject<HTMLDivElement | null>,
  orders: readonly Order[],
  viewport: () => { offset: number; height: number },
): void {
  const previousRef = useRef(orders);
  /** Our own last adjustment, until the scroll event reporting it reaches the virtualizer. */
  const adjustedRef = useRef<{ from: number; to: number } | null>(null);
  useLayoutEffect(() => {
    const previous = previousRef.current;
    previousRef.current = orders;
    const scroller = scrollRef.current;
    // The position comes from the virtualizer (kept from scroll events), not from `scroller.scrollTop`: reading the
    // DOM here, right after React changed it, would force a layout on every patched frame.
    const viewportNow = viewport();
    const adjusted = adjustedRef.current;
    let offset = viewportNow.offset;
    if (adjusted && viewportNow.offset === adjusted.from) offset = adjusted.to;
    else adjustedRef.current = null;
    if (!scroller || previous === orders || offset < CARD_ROW_HEIGHT / 2) return;
    const indexById = new Map<number, number>();
    orders.forEach((order, index) => indexById.set(order.id, index));
    const firstVisible = Math.floor(offset / CARD_ROW_HEIGHT);
    const lastVisible = Math.min(previous.length, firstVisible + Math.ceil(viewportNow.height / CARD_ROW_HEIGHT) + 1);
    for (let oldIndex = firstVisible; oldIndex < lastVisible; oldIndex++) {
      const anchor = previous[oldIndex];
      const newIndex = anchor ? indexById.get(anchor.id) : undefined;
      if (!anchor || newIndex === undefined || orders[newIndex] !== anchor) continue;
      if (newIndex !== oldIndex) {
        const to = offset + (newIndex - oldIndex) * CARD_ROW_HEIGHT;
        scroller.scrollTop = to;
        adjustedRef.current = { from: viewportNow.offset, to };
      }
      return;
    }
  }, [scrollRef, orders, viewport]);
}

function describeLoadError(error: Error): string {
  return error.message || 'unknown error';
}
