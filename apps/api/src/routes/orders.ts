import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  ErrorCode,
  CreateOrderBodySchema,
  ErrorBodySchema,
  ListOrdersQuerySchema,
  ListOrdersResponseSchema,
  OrderCountsQuerySchema,
  OrderCountsResponseSchema,
  ExportOrdersQuerySchema,
  MAX_EXPORT_ROWS,
  OrderParamsSchema,
  OrderSchema,
  UpdateOrderBodySchema,
  type CreateOrderBody,
  type ErrorBody,
  type ListOrdersResponse,
  type OrderCountsResponse,
  type Order,
  orderInScope,
  searchProblem,
  type Scope,
  type UpdateOrderBody,
} from '@orders/contracts';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import { errorBody } from '../error-handler.js';
import { HttpError, orderNotFound } from '../errors.js';
import { etag, parseIfMatch } from '../http-headers.js';
import { decodeListCursor, encodeCursor, encodeListCursor } from '../orders/cursor.js';
import { createIdempotencyStore, hashRequestBody, type IdempotencyRecord } from '../orders/idempotency.js';
import { orderFromDocument, type OrderDocument } from '../orders/order-document.js';
import { createOrdersRepository } from '../orders/repository.js';
import { CSV_HEADER, orderCsvRow } from '../orders/csv.js';
import { Readable } from 'node:stream';
import { positionAtClusterTime } from '../realtime/position.js';
import type { AppConfig } from '../config.js';
import { HISTORY_COLLECTION, type HistoryDocument } from '../history/entry.js';
import { createHistoryRepository } from '../history/store.js';

export const IDEMPOTENCY_COLLECTION = 'idempotency_keys';

/** The answer to a create, kept with its Idempotency-Key so a retry replays it exactly. */
type CreateResponse =
  | { status_code: 201; headers: Record<string, string>; body: Order }
  | { status_code: 409; headers: Record<string, string>; body: ErrorBody };

type ErrorResponses<C extends number> = { [K in C]: typeof ErrorBodySchema };

/** Error responses a route can answer, each documented with the shared error body. */
function errors<const C extends number>(...codes: C[]): ErrorResponses<C> {
  const descriptions: Record<number, string> = {
    400: 'Invalid input; `field` names it',
    404: 'No such order',
    409: 'Conflict',
    412: 'If-Match does not match the current version',
    413: 'Body larger than BODY_LIMIT_BYTES',
    415: 'Body is not application/json',
    422: 'Idempotency-Key reused with a different body',
    503: 'Database unavailable',
  };
  const entries = codes.map((code) => [code, { ...ErrorBodySchema, description: descriptions[code] ?? 'Error' }]);
  return Object.fromEntries(entries) as ErrorResponses<C>;
}

const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ maxLength: 64, description: 'Expected version, e.g. "3" (as in the ETag)' })),
});
const CreateHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Retries with the same key and body return the first response',
    }),
  ),
});

/** The orders endpoints: the seed's four plus `GET /orders/:id`. */
const orderRoutes: FastifyPluginAsyncTypebox<{ config: AppConfig }> = async (fastify, { config }) => {
  const orders = createOrdersRepository(fastify.mongo.orders);
  const history = createHistoryRepository(fastify.mongo.db.collection<HistoryDocument>(HISTORY_COLLECTION));
  const idempotency = createIdempotencyStore(
    fastify.mongo.db.collection<IdempotencyRecord<CreateResponse>>(IDEMPOTENCY_COLLECTION),
  );
  await orders.ensureIndexes();
  await idempotency.ensureIndexes();

  fastify.get(
    '/orders',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['orders'],
        summary: 'List orders, newest change first',
        description:
          'Sorted by updated_at (default, `sort=updated`), created_at (`sort=created`) or id (`sort=id`), then id, ' +
          'descending; a cursor continues only the sort that made it. `q` searches id, customer and product. ' +
          '`position` is the change feed position taken before the read: ' +
          'subscribe on /ws with `since: position` to receive every change after this snapshot. With `as_of`, the ' +
          'board as it was at that moment, from the order history (within HISTORY_RETENTION_DAYS); `position` is ' +
          'then null, as a past board has nothing to subscribe after.',
        querystring: ListOrdersQuerySchema,
        response: { 200: ListOrdersResponseSchema, ...errors(400, 503) },
      },
    },
    async (request): Promise<ListOrdersResponse> => {
      const { limit = 100, cursor, status, customer, q, sort = 'updated', as_of: asOfText } = request.query;
      checkSearch(q);
      let after;
      if (cursor !== undefined) {
        after = decodeListCursor(cursor);
        if (after?.sort !== sort) {
          throw new HttpError(
            400,
            ErrorCode.InvalidCursor,
            'querystring/cursor is not a cursor this API returned for this sort',
            { field: 'querystring/cursor' },
          );
        }
      }
      const statuses = status === undefined ? undefined : Array.isArray(status) ? status : [status];
      if (asOfText !== undefined) {
        if (q !== undefined || sort !== 'updated') {
          throw new HttpError(
            400,
            ErrorCode.ValidationFailed,
            'a past board (as_of) is listed by last update, unsearched',
            {
              field: q !== undefined ? 'querystring/q' : 'querystring/sort',
            },
          );
        }
        const asOf = checkedAsOf(asOfText, config.history.retentionDays, new Date());
        const pastAfter = after === undefined ? undefined : { updatedAt: after.at, id: after.id };
        const past = await history.boardAsOf({
          asOf,
          statuses,
          customer,
          limit,
          after: pastAfter,
          scope: scopeOf(request),
        });
        return {
          orders: past.orders,
          position: null,
          next_cursor: past.next === null ? null : encodeCursor(past.next),
        };
      }
      // Before the read: every change after this position is either in the page or replayed.
      // See docs/ARCHITECTURE.md, "Snapshot with position".
      const position = fastify.realtime.position();
      const page = await orders.list({ statuses, customer, q, sort, limit, after, scope: scopeOf(request) });
      const shown: Order[] = [];
      for (const document of page.documents) {
        const order = showable(document, request.log);
        if (order !== null) shown.push(order);
      }
      return {
        orders: shown,
        position,
        next_cursor: page.next === null ? null : encodeListCursor({ sort, ...page.next }),
      };
    },
  );

  fastify.get(
    '/orders/counts',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['orders'],
        summary: 'Count orders per status for a filter',
        description:
          'The same filter as the list. `position` is the change feed position taken before the counts: the changes ' +
          'after it keep them exact. Each status is counted through its index; nothing reads the whole collection.',
        querystring: OrderCountsQuerySchema,
        response: { 200: OrderCountsResponseSchema, ...errors(400, 503) },
      },
    },
    async (request): Promise<OrderCountsResponse> => {
      const { status, customer, q } = request.query;
      checkSearch(q);
      const statuses = status === undefined ? undefined : Array.isArray(status) ? status : [status];
      // Counts are not idempotent like versioned orders: an event must be added exactly when the counts miss it.
      // The feed's position can lag the database (after a burst of writes), so the counts are marked with the
      // database's own time of the read instead: the events after it are exactly the ones the counts miss. Without
      // an operation time (a server that does not report one), the feed's position taken before the read.
      const before = fastify.realtime.position();
      const session = fastify.mongo.client.startSession();
      let byStatus;
      let position: string | null;
      try {
        byStatus = await orders.countByStatus({ statuses, customer, q, scope: scopeOf(request), session });
        const readAt = session.operationTime;
        position = readAt ? positionAtClusterTime(readAt) : before;
      } finally {
        await session.endSession();
      }
      return { total: byStatus.pending + byStatus.shipped + byStatus.delivered, by_status: byStatus, position };
    },
  );

  fastify.get(
    '/orders/export.csv',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['orders'],
        summary: 'Export the orders of a filter as CSV',
        description:
          'The same filter, search, sort and scope as the list, every page at once: RFC 4180 CSV with a header row ' +
          `(${CSV_HEADER.trim()}), streamed as the rows are read (at most ${String(MAX_EXPORT_ROWS)} rows). A cell ` +
          "starting with = + - @ is prefixed with ' so a spreadsheet shows it as text.",
        querystring: ExportOrdersQuerySchema,
        produces: ['text/csv'],
        response: {
          // A stream is sent as it is, never serialized: the schema documents the body for the OpenAPI document.
          200: Type.Unsafe<Readable>({ type: 'string', description: 'text/csv; charset=utf-8' }),
          ...errors(400, 503),
        },
      },
    },
    async (request, reply) => {
      const { status, customer, q, sort = 'updated' } = request.query;
      checkSearch(q);
      const statuses = status === undefined ? undefined : Array.isArray(status) ? status : [status];
      const documents = orders.stream({ statuses, customer, q, sort, scope: scopeOf(request), limit: MAX_EXPORT_ROWS });
      const log = request.log;
      // Readable.from pulls the next row only when the socket has room: a slow reader holds one batch, not the list.
      async function* rows(): AsyncGenerator<string> {
        yield CSV_HEADER;
        for await (const document of documents) {
          const order = showable(document, log);
          if (order !== null) yield orderCsvRow(order);
        }
      }
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="orders.csv"')
        .header('cache-control', 'no-store')
        .send(Readable.from(rows()));
    },
  );

  fastify.get(
    '/orders/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['orders'],
        summary: 'Get one order',
        params: OrderParamsSchema,
        response: { 200: OrderSchema, ...errors(400, 404, 503) },
      },
    },
    async (request, reply) => {
      // Outside the reader's scope an order looks absent: a 403 would confirm it exists.
      const document = await orders.get(request.params.id, scopeOf(request));
      if (document === null) throw orderNotFound(request.params.id);
      const order = showable(document, request.log);
      if (order === null) throw unshowable(request.params.id);
      return reply.header('etag', etag(order.version)).send(order);
    },
  );

  /** Runs the create and describes the answer, so it can be sent now and replayed later. */
  async function createOrder(body: CreateOrderBody, actor: string): Promise<CreateResponse> {
    const result = await orders.create(body, new Date(), { actor });
    if (result.status === 'exists') {
      return {
        status_code: 409,
        headers: {},
        body: errorBody(409, ErrorCode.OrderExists, `Order ${body.id} already exists`, 'body/id'),
      };
    }
    return {
      status_code: 201,
      headers: { location: `/orders/${result.order._id}`, etag: etag(result.order.version) },
      body: ownOrder(result.order),
    };
  }

  fastify.post(
    '/orders',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['orders'],
        summary: 'Create an order',
        description:
          'status defaults to pending; the server stamps created_at, updated_at and version 1. With an ' +
          'Idempotency-Key, a retry with the same body gets the stored response (header Idempotent-Replayed: true).',
        headers: CreateHeaders,
        body: CreateOrderBodySchema,
        response: { 201: OrderSchema, ...errors(400, 409, 413, 415, 422, 503) },
      },
    },
    async (request, reply) => {
      const sendStored = (response: CreateResponse) =>
        response.status_code === 201
          ? reply.code(201).headers(response.headers).send(response.body)
          : reply.code(409).headers(response.headers).send(response.body);
      const principal = principalOf(request);
      const status = request.body.status ?? 'pending';
      if (!orderInScope({ customer_name: request.body.customer_name, status }, principal.scope)) {
        throw outOfScope();
      }
      const key = request.headers['idempotency-key'];
      if (key === undefined) {
        return sendStored(await createOrder(request.body, principal.name));
      }
      const claim = await idempotency.claim(key, hashRequestBody(request.body));
      switch (claim.kind) {
        case 'reused':
          throw new HttpError(
            422,
            ErrorCode.IdempotencyKeyReused,
            'This Idempotency-Key was used with a different body',
            {
              field: 'headers/idempotency-key',
            },
          );
        case 'in_flight':
          throw new HttpError(
            409,
            ErrorCode.IdempotencyInFlight,
            'A request with this Idempotency-Key is still being processed',
            {
              field: 'headers/idempotency-key',
              headers: { 'retry-after': '1' },
            },
          );
        case 'replay':
          reply.header('idempotent-replayed', 'true');
          return sendStored(claim.response);
        case 'claimed':
          break;
      }
      let response: CreateResponse;
      try {
        response = await createOrder(request.body, principal.name);
      } catch (error) {
        // Nothing was decided: let a retry with this key try again rather than wait for the claim to be abandoned.
        await idempotency.release(key).catch((releaseError: unknown) => {
          request.log.warn({ err: releaseError }, 'could not release an idempotency key');
        });
        throw error;
      }
      await idempotency.complete(key, response);
      return sendStored(response);
    },
  );

  fastify.put(
    '/orders/:id',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['orders'],
        summary: 'Update an order (partial)',
        description:
          'Changes only the given fields; stamps updated_at and increments version. With If-Match: "<version>", ' +
          'answers 412 when the order has moved on.',
        params: OrderParamsSchema,
        headers: IfMatchHeaders,
        body: UpdateOrderBodySchema,
        response: { 200: OrderSchema, ...errors(400, 404, 412, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const expectedVersion = parseIfMatch(request.headers['if-match']);
      const principal = principalOf(request);
      // The order must be in scope before (the update's filter) and after: the fields this write sets must fit it.
      if (!changesFitScope(request.body, principal.scope)) throw outOfScope();
      const result = await orders.update(id, request.body, {
        expectedVersion,
        actor: principal.name,
        scope: principal.scope,
      });
      switch (result.status) {
        case 'not_found':
          throw orderNotFound(id);
        case 'version_mismatch':
          throw versionMismatch(id, expectedVersion, result.currentVersion);
        case 'updated': {
          const order = showable(result.document, request.log);
          if (order === null) throw unshowable(id);
          return reply.header('etag', etag(order.version)).send(order);
        }
      }
    },
  );

  fastify.delete(
    '/orders/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['orders'],
        summary: 'Delete an order',
        params: OrderParamsSchema,
        headers: IfMatchHeaders,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(400, 404, 412, 503) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const expectedVersion = parseIfMatch(request.headers['if-match']);
      const result = await orders.remove(id, { expectedVersion, scope: scopeOf(request) });
      switch (result.status) {
        case 'not_found':
          throw orderNotFound(id);
        case 'version_mismatch':
          throw versionMismatch(id, expectedVersion, result.currentVersion);
        case 'deleted':
          return reply.code(204).send(null);
      }
    },
  );
};

/** Refuses a search the rule cannot search for (no letter or digit, too many words). */
function checkSearch(q: string | undefined): void {
  const problem = q === undefined ? null : searchProblem(q);
  if (problem !== null) {
    throw new HttpError(400, ErrorCode.ValidationFailed, `querystring/q ${problem}`, { field: 'querystring/q' });
  }
}

function principalOf(request: FastifyRequest): Principal {
  // The access hook sets it on every non-public route; reaching here without one is a wiring bug.
  if (request.principal === null) throw new Error('orders route reached without a principal');
  return request.principal;
}

function scopeOf(request: FastifyRequest): Scope | null {
  return principalOf(request).scope;
}

function outOfScope(): HttpError {
  return new HttpError(403, ErrorCode.Forbidden, 'This write would put the order outside your scope');
}

/** True when every field a write sets satisfies the scope's rule for that field. */
function changesFitScope(changes: UpdateOrderBody, scope: Scope | null): boolean {
  if (scope === null) return true;
  if (changes.status !== undefined && scope.status !== undefined && !scope.status.includes(changes.status)) {
    return false;
  }
  if (
    changes.customer_name !== undefined &&
    scope.customer !== undefined &&
    !changes.customer_name.toLowerCase().includes(scope.customer.toLowerCase())
  ) {
    return false;
  }
  return true;
}

/**
 * A stored document as an order, or null (logged) when it cannot be shown: REST lists skip such documents and
 * reads answer 404. See docs/ARCHITECTURE.md, "Stored documents from other clients".
 */
const DAY_MS = 86_400_000;

/** An `as_of` the history can answer: not in the future, not older than the retention. */
function checkedAsOf(text: string, retentionDays: number, now: Date): Date {
  const asOf = new Date(text);
  const oldest = now.getTime() - retentionDays * DAY_MS;
  if (asOf.getTime() > now.getTime() || asOf.getTime() < oldest) {
    throw new HttpError(
      400,
      ErrorCode.AsOfOutOfRange,
      `querystring/as_of must lie between ${new Date(oldest).toISOString()} (the history's retention of ` +
        `${String(retentionDays)} days) and now`,
      { field: 'querystring/as_of' },
    );
  }
  return asOf;
}

function showable(document: object, log: FastifyBaseLogger): Order | null {
  const mapped = orderFromDocument(document);
  if (mapped.ok) return mapped.order;
  const id: unknown = '_id' in document ? document._id : undefined;
  log.warn({ id: String(id), reason: mapped.reason }, 'skipped a stored document that is not an order');
  return null;
}

/** An order this API just wrote always maps; anything else is a bug worth a 500. */
function ownOrder(document: OrderDocument): Order {
  const mapped = orderFromDocument(document);
  if (!mapped.ok) throw new Error(`the API wrote an order it cannot show: ${mapped.reason}`);
  return mapped.order;
}

function unshowable(id: number): HttpError {
  return new HttpError(404, ErrorCode.OrderNotFound, `Order ${id} is stored in a form the API cannot show`, {
    field: 'params/id',
  });
}

function versionMismatch(id: number, expected: number | undefined, current: number): HttpError {
  return new HttpError(412, ErrorCode.VersionMismatch, `Order ${id} is at version ${current}, not ${expected ?? '?'}`, {
    field: 'headers/if-match',
    headers: { etag: etag(current) },
  });
}

export default orderRoutes;
