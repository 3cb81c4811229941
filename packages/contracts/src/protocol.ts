import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  NameSchema,
  OrderFilterSchema,
  OrderIdSchema,
  OrderSchema,
  OrderStatusSchema,
  PositionSchema,
} from './order.js';

/** Version of the WebSocket protocol; bumped on any incompatible change. */
export const PROTOCOL_VERSION = 1;
/** Largest client→server frame the server accepts (bytes). */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024;

/** WebSocket close codes used by the server. 4xxx are application codes. */
export const CloseCode = {
  /** Server shutting down: reconnect (to this or another process) and resume. */
  GoingAway: 1001,
  /** Frame was not valid JSON or not a known message. */
  ProtocolError: 1002,
  /** Policy violation, e.g. failed authentication. */
  PolicyViolation: 1008,
  /** Frame over MAX_CLIENT_FRAME_BYTES. */
  MessageTooBig: 1009,
  /** The client fell too far behind (send buffer over the cap): reconnect and resync. */
  SlowConsumer: 4000,
  /** The credentials behind this socket ended (signed out, revoked, expired, user disabled): sign in again, then resume. */
  Unauthenticated: 4401,
  /** The principal's role or scope changed, or no longer allows the stream: fetch `/auth/me` again, then resume. */
  Forbidden: 4403,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export const ResyncReason = {
  /** The position the client asked for is older than the database's change history. */
  HistoryLost: 'history_lost',
  /** The collection was dropped or renamed. */
  Invalidated: 'invalidated',
  /** The position is not one this database ever produced. */
  UnknownPosition: 'unknown_position',
  /** The feed had to reopen at the present (e.g. after a database fault). */
  FeedReset: 'feed_reset',
  /**
   * This client (its principal or its address) has been replayed its budget of bytes for now: reading the list
   * again costs no more than the replay would, and a client that reconnects in a loop cannot make the server
   * replay the same history over and over.
   */
  ReplayLimited: 'replay_limited',
} as const;
export type ResyncReason = (typeof ResyncReason)[keyof typeof ResyncReason];

// ---- client → server -------------------------------------------------------

export const SubscribeMessageSchema = Type.Object(
  {
    type: Type.Literal('subscribe'),
    protocol: Type.Optional(Type.Literal(PROTOCOL_VERSION)),
    filter: Type.Optional(OrderFilterSchema),
    since: Type.Optional(PositionSchema),
  },
  { $id: 'SubscribeMessage', additionalProperties: false },
);
export type SubscribeMessage = Static<typeof SubscribeMessageSchema>;

export const ClientMessageSchema = Type.Union([SubscribeMessageSchema], { $id: 'ClientMessage' });
export type ClientMessage = Static<typeof ClientMessageSchema>;

// ---- server → client -------------------------------------------------------

/**
 * What a filter looked at in the order just before this change, when the server had its pre-image: a client keeping
 * counts of orders it has not loaded learns from it which count the change leaves.
 */
export const PreviousFieldsSchema = Type.Object(
  { status: OrderStatusSchema, customer_name: NameSchema },
  { additionalProperties: false },
);
export type PreviousFields = Static<typeof PreviousFieldsSchema>;

export const OrderCreatedEventSchema = Type.Object(
  { type: Type.Literal('order.created'), order: OrderSchema, position: PositionSchema },
  { additionalProperties: false },
);
export const OrderUpdatedEventSchema = Type.Object(
  {
    type: Type.Literal('order.updated'),
    order: OrderSchema,
    position: PositionSchema,
    previous: Type.Optional(PreviousFieldsSchema),
  },
  { additionalProperties: false },
);
export const OrderDeletedEventSchema = Type.Object(
  {
    type: Type.Literal('order.deleted'),
    id: OrderIdSchema,
    position: PositionSchema,
    previous: Type.Optional(PreviousFieldsSchema),
  },
  { additionalProperties: false },
);
/** The order still exists but no longer matches this client's filter. */
export const OrderLeftEventSchema = Type.Object(
  {
    type: Type.Literal('order.left'),
    id: OrderIdSchema,
    position: PositionSchema,
    previous: Type.Optional(PreviousFieldsSchema),
  },
  { additionalProperties: false },
);

export const OrderEventSchema = Type.Union(
  [OrderCreatedEventSchema, OrderUpdatedEventSchema, OrderDeletedEventSchema, OrderLeftEventSchema],
  { $id: 'OrderEvent' },
);
export type OrderEvent = Static<typeof OrderEventSchema>;
export type OrderCreatedEvent = Static<typeof OrderCreatedEventSchema>;
export type OrderUpdatedEvent = Static<typeof OrderUpdatedEventSchema>;
export type OrderDeletedEvent = Static<typeof OrderDeletedEventSchema>;
export type OrderLeftEvent = Static<typeof OrderLeftEventSchema>;

export const ReadyMessageSchema = Type.Object(
  {
    type: Type.Literal('ready'),
    protocol: Type.Literal(PROTOCOL_VERSION),
    /** Position of the last event before live delivery starts (null before the first write). */
    position: Type.Union([PositionSchema, Type.Null()]),
    /** True when the server will replay everything after `since`; false when there was no `since`. */
    resumed: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const ResyncMessageSchema = Type.Object(
  {
    type: Type.Literal('resync'),
    reason: Type.Union(Object.values(ResyncReason).map((r) => Type.Literal(r))),
  },
  { additionalProperties: false },
);

export const ErrorMessageSchema = Type.Object(
  { type: Type.Literal('error'), code: Type.String(), message: Type.String() },
  { additionalProperties: false },
);

/** Several events due to one socket, sent as one frame, in commit order. */
export const BatchMessageSchema = Type.Object(
  { type: Type.Literal('batch'), events: Type.Array(OrderEventSchema, { minItems: 1 }) },
  { additionalProperties: false },
);

export const ServerMessageSchema = Type.Union(
  [
    ReadyMessageSchema,
    OrderCreatedEventSchema,
    OrderUpdatedEventSchema,
    OrderDeletedEventSchema,
    OrderLeftEventSchema,
    ResyncMessageSchema,
    ErrorMessageSchema,
    BatchMessageSchema,
  ],
  { $id: 'ServerMessage' },
);
export type ServerMessage = Static<typeof ServerMessageSchema>;
export type ReadyMessage = Static<typeof ReadyMessageSchema>;
export type ResyncMessage = Static<typeof ResyncMessageSchema>;
export type ErrorMessage = Static<typeof ErrorMessageSchema>;
export type BatchMessage = Static<typeof BatchMessageSchema>;

export type { TSchema };
