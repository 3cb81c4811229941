import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ErrorBodySchema,
  ErrorCode,
  OrderHistoryQuerySchema,
  OrderHistoryResponseSchema,
  OrderParamsSchema,
  orderInScope,
  type OrderHistoryResponse,
  type Scope,
} from '@orders/contracts';
import type { AppConfig } from '../config.js';
import { HttpError, orderNotFound } from '../errors.js';
import { HISTORY_COLLECTION, historyEntryOf, type HistoryDocument } from '../history/entry.js';
import { createHistoryRepository } from '../history/store.js';
import { createOrdersRepository } from '../orders/repository.js';

/**
 * `GET /orders/:id/history`: an order's recorded changes, newest first, deleted orders included. Within a scope,
 * an order outside it looks absent (404), as on `GET /orders/:id`. See docs/ARCHITECTURE.md, "Access control".
 */
const historyRoutes: FastifyPluginAsyncTypebox<{ config: AppConfig }> = async (fastify, { config }) => {
  const history = createHistoryRepository(fastify.mongo.db.collection<HistoryDocument>(HISTORY_COLLECTION));
  const orders = createOrdersRepository(fastify.mongo.orders);
  await history.ensureIndexes(config.history.retentionDays);

  /** Whether the order, as it stands (or as it last stood before its delete), is within the scope. */
  async function visible(id: number, scope: Scope): Promise<boolean> {
    if ((await orders.get(id)) !== null) return (await orders.get(id, scope)) !== null;
    const last = await history.lastState(id);
    return last !== null && orderInScope(last, scope);
  }

  fastify.get(
    '/orders/:id/history',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['orders'],
        summary: "An order's history, newest change first",
        description:
          'Every recorded insert, update, replace and delete of the order, whoever made it, with the commit time, ' +
          `the actor, the changed fields and the order after the change. Kept HISTORY_RETENTION_DAYS days.`,
        params: OrderParamsSchema,
        querystring: OrderHistoryQuerySchema,
        response: {
          200: OrderHistoryResponseSchema,
          400: { ...ErrorBodySchema, description: 'Invalid input; `field` names it' },
          404: { ...ErrorBodySchema, description: 'The order is outside your scope' },
          503: { ...ErrorBodySchema, description: 'Database unavailable' },
        },
      },
    },
    async (request): Promise<OrderHistoryResponse> => {
      const { limit = 50, cursor } = request.query;
      let before: string | undefined;
      if (cursor !== undefined) {
        before = decodeHistoryCursor(cursor) ?? undefined;
        if (before === undefined) {
          throw new HttpError(400, ErrorCode.InvalidCursor, 'querystring/cursor is not a cursor this API returned', {
            field: 'querystring/cursor',
          });
        }
      }
      const { id } = request.params;
      const scope = request.principal?.scope ?? null;
      if (scope !== null && !(await visible(id, scope))) throw orderNotFound(id);
      const page = await history.listForOrder(id, {
        limit,
        scope,
        ...(before !== undefined && { before }),
      });
      const last = page.documents.at(-1);
      return {
        entries: page.documents.map(historyEntryOf),
        next_cursor: page.more && last !== undefined ? encodeHistoryCursor(last._id) : null,
      };
    },
  );
};

const HISTORY_CURSOR_PREFIX = 'h1:';

/** The next page starts strictly before this position (positions are in commit order). */
function encodeHistoryCursor(position: string): string {
  return Buffer.from(HISTORY_CURSOR_PREFIX + position, 'utf8').toString('base64url');
}

function decodeHistoryCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(HISTORY_CURSOR_PREFIX)) return null;
  const position = text.slice(HISTORY_CURSOR_PREFIX.length);
  return /^[0-9A-Fa-f]{1,1024}$/.test(position) ? position : null;
}

export default historyRoutes;
