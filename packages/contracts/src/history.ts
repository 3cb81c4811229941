import { Type, type Static } from '@sinclair/typebox';
import { MAX_PAGE_SIZE, OrderSchema, PositionSchema } from './order.js';

/** What a recorded change did to the order, in the protocol's words. */
export const HistoryOperation = {
  Created: 'created',
  Updated: 'updated',
  Deleted: 'deleted',
} as const;
export type HistoryOperation = (typeof HistoryOperation)[keyof typeof HistoryOperation];

/** The actor recorded for a write that names none (a script, `mongosh`, another service). */
export const EXTERNAL_ACTOR = 'external';

const FieldValueSchema = Type.Union([Type.String(), Type.Number(), Type.Null()]);

/** One field a change touched: its value before (null: absent) and after (null: removed). */
export const FieldChangeSchema = Type.Object(
  { field: Type.String(), before: FieldValueSchema, after: FieldValueSchema },
  { $id: 'FieldChange', additionalProperties: false },
);
export type FieldChange = Static<typeof FieldChangeSchema>;

/** One recorded change of one order. */
export const HistoryEntrySchema = Type.Object(
  {
    position: PositionSchema,
    order_id: Type.Integer({ minimum: 1 }),
    operation: Type.Union([
      Type.Literal(HistoryOperation.Created),
      Type.Literal(HistoryOperation.Updated),
      Type.Literal(HistoryOperation.Deleted),
    ]),
    committed_at: Type.String({ format: 'date-time', description: "The database's commit time" }),
    actor: Type.String({
      description: `Who made this change (updated_by, when the write stamped it), or "${EXTERNAL_ACTOR}" when it named no one`,
    }),
    changes: Type.Array(FieldChangeSchema),
    order: Type.Union([OrderSchema, Type.Null()], { description: 'The order after the change; null after a delete' }),
  },
  { $id: 'HistoryEntry', additionalProperties: false },
);
export type HistoryEntry = Static<typeof HistoryEntrySchema>;

export const OrderHistoryQuerySchema = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 50 })),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1100, description: 'next_cursor of the previous page' }),
    ),
  },
  { additionalProperties: false },
);
export type OrderHistoryQuery = Static<typeof OrderHistoryQuerySchema>;

export const OrderHistoryResponseSchema = Type.Object(
  {
    entries: Type.Array(HistoryEntrySchema, { description: 'Newest first' }),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'OrderHistoryResponse', additionalProperties: false },
);
export type OrderHistoryResponse = Static<typeof OrderHistoryResponseSchema>;
