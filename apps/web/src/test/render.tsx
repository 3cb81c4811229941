import { createFakeSocketServer, type FakeSocketServer } from '@orders/client/testing';
import type { BackoffOptions } from '@orders/contracts';
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { vi } from 'vitest';
import { App } from '../App.js';
import { RealtimeProvider } from '../features/realtime/RealtimeContext.js';
import { createQueryClient } from '../lib/queryClient.js';
import { FakeApi } from './fakeApi.js';

/** Reconnects at once (no jitter draw) so tests assert what happens, not when; HTTP retries wait 20 ms. */
export const IMMEDIATE_BACKOFF: Partial<BackoffOptions> = { baseMs: 20, capMs: 20, random: () => 0 };

/** A fresh QueryClient as the app makes it, without retries (tests see a failure at once). */
export function createTestQueryClient(): QueryClient {
  const client = createQueryClient();
  client.setDefaultOptions({
    queries: { ...client.getDefaultOptions().queries, retry: false },
    mutations: { retry: false },
  });
  return client;
}

/**
 * Renders the whole dashboard against a fake API (behind `fetch`) and fake sockets; `backoff` replaces the
 * immediate reconnects (keep it a constant: a new object restarts the feed).
 */
export function renderDashboard(api = new FakeApi(), backoff: Partial<BackoffOptions> = IMMEDIATE_BACKOFF) {
  vi.stubGlobal('fetch', api.fetch);
  const sockets: FakeSocketServer = createFakeSocketServer();
  const queryClient = createTestQueryClient();
  const user = userEvent.setup();
  const view = render(
    <QueryClientProvider client={queryClient}>
      <RealtimeProvider WebSocketImpl={sockets.WebSocketImpl} url="ws://localhost/ws" backoff={backoff}>
        <App />
      </RealtimeProvider>
    </QueryClientProvider>,
  );
  return { ...view, api, sockets, queryClient, user };
}
