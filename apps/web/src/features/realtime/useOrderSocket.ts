import type { CloseCode, OrderFilter } from '@orders/contracts';
import { hashKey, useQueryClient } from '@tanstack/react-query';
import { useEffect, useEffectEvent, useMemo, useState } from 'react';
import { filterOfListKey, orderKeys } from '../orders/queries.js';
import { createActivityStore, type ActivityStore } from './activity.js';
import { OrderFeed, type ConnectionState } from './orderFeed.js';
import { defaultSocketUrl, useRealtimeConfig } from './RealtimeContext.js';

/** The close codes with which the server ends a socket whose credentials no longer hold or no longer allow it. */
export type AccessCloseCode = typeof CloseCode.Unauthenticated | typeof CloseCode.Forbidden;

/** What the dashboard learns from the live feed. */
export interface OrderSocket {
  connection: ConnectionState;
  activity: ActivityStore;
}

/**
 * The one owner of the WebSocket. Follows the list for `filter`: subscribes since its snapshot's position, patches
 * the cache once per frame from validated frames, reconnects with backoff, and resubscribes when the filter changes.
 * `onAccessClosed` hears of a socket the server closed with 4401 or 4403 (a new function each render is fine: it
 * does not restart the feed).
 */
export function useOrderSocket(filter: OrderFilter, onAccessClosed?: (code: AccessCloseCode) => void): OrderSocket {
  const queryClient = useQueryClient();
  const { WebSocketImpl, url, backoff } = useRealtimeConfig();
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [activity] = useState(createActivityStore);
  // The feed restarts on a different filter by value, not on a new object with the same content.
  const filterHash = hashKey(orderKeys.list(filter));
  const stableFilter = useMemo(() => filterOfListKey(JSON.parse(filterHash) as unknown[]), [filterHash]);
  const accessClosed = useEffectEvent((code: AccessCloseCode) => onAccessClosed?.(code));

  useEffect(() => {
    const feed = new OrderFeed({
      queryClient,
      filter: stableFilter,
      url: url ?? defaultSocketUrl(),
      WebSocketImpl,
      backoff,
      onConnectionChange: setConnection,
      onEvents: (events) => activity.record(events),
      onAccessClosed: (code) => accessClosed(code),
    });
    feed.start();
    return () => feed.dispose();
  }, [queryClient, stableFilter, url, WebSocketImpl, backoff, activity]);

  return { connection, activity };
}
