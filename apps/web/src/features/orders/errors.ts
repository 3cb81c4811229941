import { ErrorCode } from '@orders/contracts';
import { fieldKey, fieldLabel } from '../../lib/format.js';
import { ApiError, NETWORK_ERROR } from './api.js';

/** The codes of problems found without an `ErrorCode` to go by. */
export const WriteProblemCode = {
  /** A field was refused: by the form itself, or by the API (any 400). */
  Validation: 'VALIDATION',
  /** Not an API error at all. */
  Unknown: 'UNKNOWN',
} as const;

/** A refusal explained for people, and which form field (if any) it is about. */
export interface WriteProblem {
  message: string;
  /** A `WriteProblemCode`, or else `ApiError.code`. */
  code: string;
  /** The form field to mark invalid (`id`, `customer_name`, `product_name`, `status`). */
  field: string | undefined;
}

/** Explains why a create, edit or delete of order `id` was refused. */
export function describeWriteProblem(error: unknown, action: 'create' | 'update' | 'delete', id: number): WriteProblem {
  if (!(error instanceof ApiError)) {
    return {
      code: WriteProblemCode.Unknown,
      field: undefined,
      message: `Order #${id} was not saved: something went wrong.`,
    };
  }
  if (error.status === 400) {
    // The API names the field as `<part>/<path>` (`body/customer_name`) and may start its message with it.
    const detail =
      error.field && error.message.startsWith(error.field)
        ? error.message.slice(error.field.length).trim()
        : error.message;
    return {
      code: WriteProblemCode.Validation,
      field: fieldKey(error.field),
      message: `Order #${id} was not saved: ${fieldLabel(error.field)} — ${detail}`,
    };
  }
  switch (error.code) {
    case ErrorCode.OrderExists:
      return { code: error.code, field: 'id', message: `Order #${id} already exists. Choose another id.` };
    case ErrorCode.VersionMismatch:
      return {
        code: error.code,
        field: undefined,
        message: `Order #${id} was changed elsewhere while you were editing it. Your change was not saved.`,
      };
    case ErrorCode.OrderNotFound:
      return { code: error.code, field: undefined, message: `Order #${id} no longer exists.` };
    case NETWORK_ERROR:
      return {
        code: error.code,
        field: undefined,
        message: `Order #${id} was not ${action === 'delete' ? 'deleted' : 'saved'}: the server cannot be reached.`,
      };
    default:
      return {
        code: error.code,
        field: undefined,
        message: `Order #${id} was not ${action === 'delete' ? 'deleted' : 'saved'}: ${error.message}`,
      };
  }
}
