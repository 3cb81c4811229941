import { ErrorCode, type CreateOrderBody, type Order, type UpdateOrderBody } from '@orders/contracts';
import { useMutation, useMutationState, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { ApiError, createOrder, deleteOrder, updateOrder } from './api.js';
import { findOrder, removeOrder, replaceIfUnchanged, upsertOrder, type OrderList } from './cache.js';
import { orderKeys, patchOrderLists } from './queries.js';

const mutationKeys = {
  create: [...orderKeys.all, 'create'] as const,
  update: [...orderKeys.all, 'update'] as const,
  remove: [...orderKeys.all, 'delete'] as const,
};

/**
 * Stops list fetches in flight so their (older) answer cannot overwrite the optimistic change.
 * Only lists that already have data: cancelling a first load would leave it pending with nothing to show.
 */
async function cancelListFetches(queryClient: QueryClient): Promise<void> {
  await queryClient.cancelQueries({
    queryKey: orderKeys.lists(),
    predicate: (query) => query.state.data !== undefined,
  });
}

function cachedOrder(queryClient: QueryClient, id: number): Order | undefined {
  for (const [, list] of queryClient.getQueriesData<OrderList>({ queryKey: orderKeys.lists() })) {
    const order = findOrder(list, id);
    if (order) return order;
  }
  return undefined;
}

/**
 * Creates an order, showing it at once. The optimistic card has version 0, so the real order (version 1, from the
 * answer or the socket, whichever comes first) replaces it. On refusal the card goes away again.
 */
export function useCreateOrder() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: mutationKeys.create,
    mutationFn: (body: CreateOrderBody) => createOrder(body),
    onMutate: async (body) => {
      await cancelListFetches(queryClient);
      // An id already on the board is a duplicate the server will refuse; showing a second card would mislead.
      if (cachedOrder(queryClient, body.id)) return { optimistic: undefined };
      const now = new Date().toISOString();
      const optimistic: Order = {
        id: body.id,
        customer_name: body.customer_name,
        product_name: body.product_name,
        status: body.status ?? 'pending',
        created_at: now,
        updated_at: now,
        version: 0,
      };
      patchOrderLists(queryClient, (list, filter) => upsertOrder(list, optimistic, filter));
      return { optimistic };
    },
    onSuccess: (order, _body, context) => {
      const optimistic = context.optimistic;
      if (optimistic)
        patchOrderLists(queryClient, (list, filter) => replaceIfUnchanged(list, optimistic, order, filter));
    },
    onError: (_error, _body, context) => {
      const optimistic = context?.optimistic;
      if (optimistic) patchOrderLists(queryClient, (list) => replaceIfUnchanged(list, optimistic, null));
    },
  });
}

/** What an edit sends: the changed fields, and the version the user was looking at (sent as If-Match). */
export interface UpdateOrderVariables {
  id: number;
  changes: UpdateOrderBody;
  expectedVersion: number;
}

/**
 * Edits an order, showing the change at once and moving the card to the top. On refusal the card goes back to what
 * it was, unless a newer version has arrived from the socket meanwhile (that one stays).
 */
export function useUpdateOrder() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: mutationKeys.update,
    mutationFn: ({ id, changes, expectedVersion }: UpdateOrderVariables) => updateOrder(id, changes, expectedVersion),
    onMutate: async ({ id, changes }) => {
      await cancelListFetches(queryClient);
      const previous = cachedOrder(queryClient, id);
      if (!previous) return { previous: undefined, optimistic: undefined };
      const optimistic: Order = { ...previous, ...changes, updated_at: new Date().toISOString() };
      patchOrderLists(queryClient, (list, filter) => replaceIfUnchanged(list, previous, optimistic, filter));
      return { previous, optimistic };
    },
    onSuccess: (order, _variables, context) => {
      const optimistic = context.optimistic;
      if (optimistic)
        patchOrderLists(queryClient, (list, filter) => replaceIfUnchanged(list, optimistic, order, filter));
    },
    onError: (error, { id }, context) => {
      const { previous, optimistic } = context ?? {};
      if (error instanceof ApiError && error.code === ErrorCode.OrderNotFound) {
        patchOrderLists(queryClient, (list) => removeOrder(list, id));
      } else if (previous && optimistic) {
        patchOrderLists(queryClient, (list, filter) => replaceIfUnchanged(list, optimistic, previous, filter));
      }
    },
  });
}

/** Deletes an order, removing its card at once; on refusal the card comes back (unless the order is gone anyway). */
export function useDeleteOrder() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: mutationKeys.remove,
    mutationFn: (order: Order) => deleteOrder(order.id),
    onMutate: async (order) => {
      await cancelListFetches(queryClient);
      patchOrderLists(queryClient, (list) => removeOrder(list, order.id));
    },
    onError: (error, order) => {
      if (error instanceof ApiError && error.code === ErrorCode.OrderNotFound) return;
      patchOrderLists(queryClient, (list, filter) => upsertOrder(list, order, filter));
    },
  });
}

/** Ids of orders with a write in flight from this page (their cards say "Saving…"). */
export function usePendingOrderIds(): ReadonlySet<number> {
  const ids = useMutationState({
    filters: { mutationKey: orderKeys.all, status: 'pending' },
    select: (mutation) => {
      const variables = mutation.state.variables as { id?: unknown } | undefined;
      return typeof variables?.id === 'number' ? variables.id : undefined;
    },
  });
  return new Set(ids.filter((id): id is number => id !== undefined));
}
