import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ErrorBodySchema,
  ErrorCode,
  OrderHistoryQuerySchema,
  OrderHistoryResponseSchema,
  OrderParamsSchema,
  type OrderHistoryResponse,
} from '@orders/contracts';
import type { AppConfig } from '../config.js';
import { HttpError } from '../errors.js';
import { HISTORY_COLLECTION, historyEntryOf, type HistoryDocument } from '../history/entry.js';
import { createHistoryRepository } from '../history/store.js';

/** `GET /orders/:id/history`: an order's recorded changes, newest first, deleted orders included. */
const historyRoutes: FastifyPluginAsyncTypebox<{ config: AppConfig }> = async (fastify, { config }) => {
  const history = createHistoryRepository(fastify.mongo.db.collection<HistoryDocument>(HISTORY_COLLECTION));
  await history.ensureIndexes(config.history.retentionDays);

  fastify.get(
    '/orders/:id/history',
    {
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
      const page = await history.listForOrder(request.params.id, {
        limit,
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
