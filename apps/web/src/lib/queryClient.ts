import { QueryClient } from '@tanstack/react-query';

/**
 * The app's QueryClient. Lists stay fresh through the socket, so nothing is refetched on focus or reconnect;
 * a list is read again only when the socket asks for a resync.
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: Infinity,
        refetchOnWindowFocus: false,
        refetchOnReconnect: false,
        retry: 2,
      },
    },
  });
}
