import type { Order } from '@orders/contracts';
import { useCallback, useEffect, useRef, useState } from 'react';
import { deleteOrder } from './api.js';
import { useDeleteOrder } from './mutations.js';

/** How long a confirmed delete waits for "Undo" before it is sent. */
export const UNDO_DELETE_MS = 6000;

/** What the board needs to offer "Undo" on deletes. */
export interface UndoableDelete {
  /** Orders deleted on this page whose DELETE is not sent yet, oldest first (their cards are hidden). */
  waiting: readonly Order[];
  /** Hides the order's card at once and sends the DELETE when the undo window ends. */
  remove: (order: Order) => void;
  /** Gives the card back; nothing is sent. */
  undo: (id: number) => void;
  /** Sends the DELETE now (the person dismissed the notice). */
  sendNow: (id: number) => void;
  /** Stops the clock while the person is on the notice (reading it or reaching for Undo), restarts it after. */
  hold: (id: number, held: boolean) => void;
}

/**
 * Deletes that can be undone for a few seconds: the card goes at once, the request waits. Nothing the person asked
 * for is lost when the board goes away: leaving the board (another page of the app) sends what is waiting at once,
 * and so does leaving the page (reload, closing the tab), with `keepalive` so the request outlives it.
 * See docs/ARCHITECTURE.md, "Writes and versions".
 */
export function useUndoableDelete(
  onError: (order: Order, error: Error) => void,
  delayMs: number = UNDO_DELETE_MS,
): UndoableDelete {
  const { mutate } = useDeleteOrder();
  const [waiting, setWaiting] = useState<readonly Order[]>([]);
  const waitingRef = useRef(new Map<number, { order: Order; timer?: ReturnType<typeof setTimeout> }>());
  // The latest callbacks, for the timers and the unmount flush, which outlive the render that armed them.
  const latest = useRef({ mutate, onError });
  useEffect(() => {
    latest.current = { mutate, onError };
  });

  const forget = useCallback((id: number) => {
    const entry = waitingRef.current.get(id);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    waitingRef.current.delete(id);
    setWaiting((current) => current.filter((order) => order.id !== id));
    return entry.order;
  }, []);

  const sendNow = useCallback(
    (id: number) => {
      const order = forget(id);
      if (order) latest.current.mutate(order, { onError: (error) => latest.current.onError(order, error) });
    },
    [forget],
  );

  const arm = useCallback(
    (id: number) => {
      const entry = waitingRef.current.get(id);
      if (!entry) return;
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => sendNow(id), delayMs);
    },
    [sendNow, delayMs],
  );

  const remove = useCallback(
    (order: Order) => {
      if (waitingRef.current.has(order.id)) return;
      waitingRef.current.set(order.id, { order });
      setWaiting((current) => [...current, order]);
      arm(order.id);
    },
    [arm],
  );

  const undo = useCallback((id: number) => void forget(id), [forget]);

  const hold = useCallback(
    (id: number, held: boolean) => {
      const entry = waitingRef.current.get(id);
      if (!entry) return;
      if (held) {
        clearTimeout(entry.timer);
        entry.timer = undefined;
      } else {
        arm(id);
      }
    },
    [arm],
  );

  useEffect(() => {
    const pending = waitingRef.current;
    // The page is going away: a mutation's first step is asynchronous and might not run, so the request is made
    // here and now; the feed tells every board (this one too, if it comes back from the back-forward cache).
    const onPageHide = () => {
      for (const [id, entry] of pending) {
        clearTimeout(entry.timer);
        void deleteOrder(id).catch(() => undefined);
      }
      pending.clear();
      setWaiting([]);
    };
    window.addEventListener('pagehide', onPageHide);
    return () => {
      window.removeEventListener('pagehide', onPageHide);
      for (const [id, entry] of pending) {
        clearTimeout(entry.timer);
        latest.current.mutate(entry.order, { onError: (error) => latest.current.onError(entry.order, error) });
        pending.delete(id);
      }
    };
  }, []);

  return { waiting, remove, undo, sendNow, hold };
}
