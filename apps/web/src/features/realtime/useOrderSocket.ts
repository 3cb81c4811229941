import { OrderSocket, type ConnectionState } from '@orders/client';
import type { OrderFilter } from '@orders/contracts';
import { hashKey, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { filterOfListKey, orderKeys } from '../orders/queries.js';
import { createActivityStore, type ActivityStore } from './activity.js';
import { ListPatcher } from './listPatcher.js';
import { defaultSocketUrl, useRealtimeConfig } from './RealtimeContext.js';

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
 * once per frame. Both restart when the filter changes.
 */
export function useOrderSocket(filter: OrderFilter): OrderSocketView {
  const queryClient = useQueryClient();
  const { WebSocketImpl, url, backoff } = useRealtimeConfig();
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [activity] = useState(createActivityStore);
  const patcherRef = useRef<ListPatcher | null>(null);
  // The feed restarts on a different filter by value, not on a new object with the same content.
  const filterHash = hashKey(orderKeys.list(filter));
  const stableFilter = useMemo(() => filterOfListKey(JSON.parse(filterHash) as unknown[]), [filterHash]);

  useEffect(() => {
    const socket = new OrderSocket({
      url: url ?? defaultSocketUrl(),
      connect: (target) => new WebSocketImpl(target),
      filter: stableFilter,
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
