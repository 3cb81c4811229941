import { OrderSocket, type ConnectionState } from '@orders/client';
import { CloseCode } from '@orders/contracts';
import { hashKey, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useEffectEvent, useMemo, useRef, useState } from 'react';
import { refreshTimelines } from '../history/queries.js';
import { filterOfListKey, orderKeys, type ListFilter } from '../orders/queries.js';
import { subscriptionFilter } from '../orders/cache.js';
import { createActivityStore, type ActivityStore } from './activity.js';
import { ListPatcher } from './listPatcher.js';
import { defaultSocketUrl, useRealtimeConfig } from './RealtimeContext.js';

/** The close codes with which the server ends a socket whose credentials no longer hold or no longer allow it. */
export type AccessCloseCode = typeof CloseCode.Unauthenticated | typeof CloseCode.Forbidden;

/** What the dashboard learns from the live feed. */
export interface OrderSocketView {
  connection: ConnectionState;
  activity: ActivityStore;
  /** Reads the next older page into the board's window (brought up to date with the feed); one read at a time. */
  loadOlder: () => Promise<void>;
}

/**
 * The one owner of the WebSocket. Follows the list for `filter`: the socket client (`@orders/client`) subscribes
 * since the list's snapshot position and reconnects with backoff; the list patcher applies its events to the cache
 * once per frame. Both restart when the filter changes. `onAccessClosed` hears of a socket the server closed with
 * 4401 or 4403 (a new function each render is fine: it does not restart the feed).
 */
export function useOrderSocket(filter: ListFilter, onAccessClosed?: (code: AccessCloseCode) => void): OrderSocketView {
  const queryClient = useQueryClient();
  const { WebSocketImpl, url, backoff } = useRealtimeConfig();
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [activity] = useState(createActivityStore);
  const patcherRef = useRef<ListPatcher | null>(null);
  // The feed restarts on a different filter by value, not on a new object with the same content.
  const filterHash = hashKey(orderKeys.list(filter));
  const stableFilter = useMemo(() => filterOfListKey(JSON.parse(filterHash) as unknown[]), [filterHash]);
  const accessClosed = useEffectEvent((code: AccessCloseCode) => onAccessClosed?.(code));

  useEffect(() => {
    const socket = new OrderSocket({
      url: url ?? defaultSocketUrl(),
      connect: (target) => new WebSocketImpl(target),
      filter: subscriptionFilter(stableFilter),
      backoff,
      isOnline: () => navigator.onLine,
      listener: {
        events: (events) => {
          patcher.receive(events);
        },
        resync: () => {
          patcher.resync();
        },
        ready: (message, since) => {
          patcher.ready(message, since);
        },
        stateChange: setConnection,
        closed: (code) => {
          if (code === CloseCode.Unauthenticated || code === CloseCode.Forbidden) accessClosed(code);
        },
      },
    });
    const patcher = new ListPatcher({
      queryClient,
      filter: stableFilter,
      backoff,
      follow: (position) => {
        socket.subscribe(position);
      },
      onUnreachable: () => {
        socket.reportUnreachable();
      },
      onEvents: (events) => {
        activity.record(events);
        refreshTimelines(
          queryClient,
          events.flatMap((event) =>
            event.type === 'order.left'
              ? []
              : [{ id: 'order' in event ? event.order.id : event.id, position: event.position }],
          ),
        );
      },
    });
    const onOnline = () => {
      socket.reconnectNow();
    };
    const onOffline = () => {
      socket.networkOffline();
    };
    window.addEventListener('online', onOnline);
    window.addEventListener('offline', onOffline);
    patcher.start();
    patcherRef.current = patcher;
    return () => {
      patcherRef.current = null;
      window.removeEventListener('online', onOnline);
      window.removeEventListener('offline', onOffline);
      patcher.dispose();
      socket.stop();
    };
  }, [queryClient, stableFilter, url, WebSocketImpl, backoff, activity]);

  const loadOlder = useCallback(() => patcherRef.current?.loadOlder() ?? Promise.resolve(), []);
  return { connection, activity, loadOlder };
}
