import {
  PROTOCOL_VERSION,
  type BatchMessage,
  type ErrorCode,
  type ErrorMessage,
  type OrderEvent,
  type OrderLeftEvent,
  type Position,
  type PreviousFields,
  type ReadyMessage,
  type ResyncMessage,
  type ResyncReason,
  type ServerMessage,
} from '@orders/contracts';
import type { ChangeItem } from './change-mapping.js';

/*
 * Message builders: every server→client message is built here, as an object checked against the contracts'
 * server-message union (`satisfies`), and serialized once. A change to the protocol that these messages do not
 * follow fails the typecheck. See docs/ARCHITECTURE.md, "The protocol" and "Fan-out".
 */

declare const serializedMessage: unique symbol;

/** The JSON text of a `T`: only the builders below make one, so a frame never carries an unchecked string. */
export type Serialized<T extends ServerMessage> = string & { readonly [serializedMessage]: T };

function serialize<T extends ServerMessage>(message: T): Serialized<T> {
  return JSON.stringify(message) as Serialized<T>;
}

/** Answer to a subscription: live delivery (or a replay) starts after `position`. */
export function readyMessage(position: Position | null, resumed: boolean): Serialized<ReadyMessage> {
  return serialize({ type: 'ready', protocol: PROTOCOL_VERSION, position, resumed } satisfies ReadyMessage);
}

/** The client must read its list again (its position cannot be replayed, or the feed lost continuity). */
export function resyncMessage(reason: ResyncReason): Serialized<ResyncMessage> {
  return serialize({ type: 'resync', reason } satisfies ResyncMessage);
}

/** A frame the server could not act on; the connection stays open. */
export function errorMessage(code: ErrorCode, message: string): Serialized<ErrorMessage> {
  return serialize({ type: 'error', code, message } satisfies ErrorMessage);
}

/** The pre-image's filterable fields, when the change had one (clients keep exact counts with it). */
function previousOf(item: ChangeItem): { previous?: PreviousFields } {
  return item.before === null
    ? {}
    : {
        previous: {
          status: item.before.status,
          customer_name: item.before.customer_name,
          ...(item.before.product_name !== undefined && { product_name: item.before.product_name }),
        },
      };
}

/** A change as the event a client that may see the order receives. */
export function eventMessage(item: ChangeItem): Serialized<OrderEvent> {
  switch (item.kind) {
    case 'created':
      return serialize({ type: 'order.created', order: item.order, position: item.position } satisfies OrderEvent);
    case 'updated':
      return serialize({
        type: 'order.updated',
        order: item.order,
        position: item.position,
        ...previousOf(item),
      } satisfies OrderEvent);
    case 'deleted':
      return serialize({
        type: 'order.deleted',
        id: item.id,
        position: item.position,
        ...previousOf(item),
      } satisfies OrderEvent);
  }
}

/** An update, as a client whose filter the order no longer matches receives it. */
export function leftMessage(item: ChangeItem): Serialized<OrderLeftEvent> {
  return serialize({
    type: 'order.left',
    id: item.id,
    position: item.position,
    ...previousOf(item),
  } satisfies OrderLeftEvent);
}

/** Most events in one replay frame, so a long replay does not build one huge string. */
export const MAX_EVENTS_PER_FRAME = 500;

/** The batch envelope, built from the contract's shape once: its text before and after the events. */
const [BATCH_OPEN, BATCH_CLOSE] = splitEnvelope(
  JSON.stringify({ type: 'batch', events: [] } satisfies BatchMessage),
  '[]',
);

function splitEnvelope(text: string, hole: string): [string, string] {
  const at = text.indexOf(hole);
  if (at === -1) throw new Error('the batch envelope has no events array');
  return [text.slice(0, at + 1), text.slice(at + 1)];
}

/**
 * One frame for events due to one socket, in commit order: a single event as itself, several as a batch built
 * from their already-serialized text (no event is serialized again, whatever the number of sockets).
 */
export function frameOf(events: readonly Serialized<OrderEvent>[]): Serialized<OrderEvent | BatchMessage> {
  if (events.length === 1) return events[0]!;
  return `${BATCH_OPEN}${events.join(',')}${BATCH_CLOSE}` as Serialized<BatchMessage>;
}
