import { Type, type Static } from '@sinclair/typebox';

/** Order lifecycle states, in the order an order normally moves through them. */
export const OrderStatus = {
  Pending: 'pending',
  Shipped: 'shipped',
  Delivered: 'delivered',
} as const;
export type OrderStatus = (typeof OrderStatus)[keyof typeof OrderStatus];
export const ORDER_STATUSES: readonly OrderStatus[] = Object.values(OrderStatus);

export const OrderStatusSchema = Type.Union(
  ORDER_STATUSES.map((status) => Type.Literal(status)),
  { $id: 'OrderStatus', description: 'pending | shipped | delivered' },
);

/** Orders are identified by a positive integer chosen by the client (stored as `_id`). */
export const OrderIdSchema = Type.Integer({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'Order id, a positive integer',
});

/** A customer or product name: 1–200 characters, not blank. */
export const NameSchema = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });

export const OrderSchema = Type.Object(
  {
    id: OrderIdSchema,
    customer_name: NameSchema,
    product_name: NameSchema,
    status: OrderStatusSchema,
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time', description: 'Stamped by the server on every write' }),
    version: Type.Integer({ minimum: 1, description: 'Incremented by the server on every write; use it in If-Match' }),
    updated_by: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'Who wrote this version through the API (username or token name); absent when another client wrote it',
      }),
    ),
  },
  { $id: 'Order', additionalProperties: false },
);
export type Order = Static<typeof OrderSchema>;

export const CreateOrderBodySchema = Type.Object(
  {
    id: OrderIdSchema,
    customer_name: NameSchema,
    product_name: NameSchema,
    status: Type.Optional(OrderStatusSchema),
  },
  { $id: 'CreateOrderBody', additionalProperties: false },
);
export type CreateOrderBody = Static<typeof CreateOrderBodySchema>;

export const UpdateOrderBodySchema = Type.Object(
  {
    customer_name: Type.Optional(NameSchema),
    product_name: Type.Optional(NameSchema),
    status: Type.Optional(OrderStatusSchema),
  },
  { $id: 'UpdateOrderBody', additionalProperties: false, minProperties: 1 },
);
export type UpdateOrderBody = Static<typeof UpdateOrderBodySchema>;

export const OrderParamsSchema = Type.Object(
  { id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) },
  { additionalProperties: false },
);
export type OrderParams = Static<typeof OrderParamsSchema>;

/** An order's filter, as used by `GET /orders` and by WebSocket subscriptions. */
export const OrderFilterSchema = Type.Object(
  {
    status: Type.Optional(
      Type.Array(OrderStatusSchema, { minItems: 1, maxItems: ORDER_STATUSES.length, uniqueItems: true }),
    ),
    customer: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Case-insensitive substring of customer_name' }),
    ),
  },
  { $id: 'OrderFilter', additionalProperties: false },
);
export type OrderFilter = Static<typeof OrderFilterSchema>;

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 100;

export const ListOrdersQuerySchema = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'next_cursor of the previous page' }),
    ),
    status: Type.Optional(
      Type.Union([OrderStatusSchema, Type.Array(OrderStatusSchema, { minItems: 1, maxItems: ORDER_STATUSES.length })]),
    ),
    customer: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    as_of: Type.Optional(
      Type.String({
        format: 'date-time',
        maxLength: 40,
        description: 'Answer the board as it was at this moment (from the order history, within its retention)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ListOrdersQuery = Static<typeof ListOrdersQuerySchema>;

/**
 * A position in the change feed: the database's resume token (`_data`), opaque to clients.
 * Any API process on the same database understands any position.
 */
export const PositionSchema = Type.String({
  minLength: 1,
  maxLength: 1024,
  description: 'Opaque change-feed position (resume token)',
});
export type Position = Static<typeof PositionSchema>;

export const ListOrdersResponseSchema = Type.Object(
  {
    orders: Type.Array(OrderSchema),
    position: Type.Union([PositionSchema, Type.Null()], {
      description: 'Feed position taken before the read: subscribe with since=position to miss nothing',
    }),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'ListOrdersResponse', additionalProperties: false },
);
export type ListOrdersResponse = Static<typeof ListOrdersResponseSchema>;

/** `GET /orders/counts`: the same filter as the list, without paging. */
export const OrderCountsQuerySchema = Type.Object(
  {
    status: Type.Optional(
      Type.Union([OrderStatusSchema, Type.Array(OrderStatusSchema, { minItems: 1, maxItems: ORDER_STATUSES.length })]),
    ),
    customer: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type OrderCountsQuery = Static<typeof OrderCountsQuerySchema>;

/** Orders of each status matching a filter (a status the filter leaves out counts 0). */
export const StatusCountsSchema = Type.Object(
  {
    pending: Type.Integer({ minimum: 0 }),
    shipped: Type.Integer({ minimum: 0 }),
    delivered: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type StatusCounts = Static<typeof StatusCountsSchema>;

export const OrderCountsResponseSchema = Type.Object(
  {
    total: Type.Integer({ minimum: 0 }),
    by_status: StatusCountsSchema,
    position: Type.Union([PositionSchema, Type.Null()], {
      description: 'Feed position taken before the counts: apply the changes after it to keep them exact',
    }),
  },
  { $id: 'OrderCountsResponse', additionalProperties: false },
);
export type OrderCountsResponse = Static<typeof OrderCountsResponseSchema>;

export const ErrorBodySchema = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String({ description: 'HTTP reason phrase' }),
    code: Type.String({ description: 'Stable machine-readable code, e.g. ORDER_NOT_FOUND' }),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'The request field that failed validation' })),
  },
  { $id: 'ErrorBody', additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBodySchema>;
