import { DEFAULT_RECONNECT_BACKOFF, type WebSocketLike } from '@orders/client';
import type { BackoffOptions } from '@orders/contracts';
import { createContext, useContext, useMemo, type ReactNode } from 'react';

/** A `WebSocket`-like constructor: the browser's, or a test's fake. */
export type WebSocketConstructorLike = new (url: string) => WebSocketLike;

/** How the dashboard reaches the live feed; tests provide a fake socket and deterministic backoff. */
export interface RealtimeConfig {
  WebSocketImpl: WebSocketConstructorLike;
  /** The socket URL; defaults to `/ws` on this page's origin. */
  url?: string;
  backoff: BackoffOptions;
}

const RealtimeContext = createContext<RealtimeConfig | null>(null);

/** The same origin's `/ws`, over TLS when the page is. */
export function defaultSocketUrl(): string {
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${window.location.host}/ws`;
}

/** Overrides how the live feed connects (tests, embedding). Without it, the browser's WebSocket is used. */
export function RealtimeProvider({
  WebSocketImpl,
  url,
  backoff,
  children,
}: {
  WebSocketImpl?: WebSocketConstructorLike;
  url?: string;
  /** Keep this object stable across renders: a new one restarts the feed. */
  backoff?: Partial<BackoffOptions>;
  children: ReactNode;
}) {
  const config = useMemo<RealtimeConfig>(
    () => ({
      WebSocketImpl: WebSocketImpl ?? WebSocket,
      backoff: { ...DEFAULT_RECONNECT_BACKOFF, ...backoff },
      ...(url ? { url } : {}),
    }),
    [WebSocketImpl, backoff, url],
  );
  return <RealtimeContext value={config}>{children}</RealtimeContext>;
}

/** The realtime configuration in effect. */
export function useRealtimeConfig(): RealtimeConfig {
  return useContext(RealtimeContext) ?? BROWSER_DEFAULTS;
}

const BROWSER_DEFAULTS: RealtimeConfig = { WebSocketImpl: globalThis.WebSocket, backoff: DEFAULT_RECONNECT_BACKOFF };
