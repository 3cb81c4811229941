import { fieldKey, fieldLabel } from '../../lib/format.js';
import { ApiError } from './api.js';

/** A refusal explained for people, and which form field (if any) it is about. */
export interface WriteProblem {
  message: string;
  /** `ApiError.code`, or `UNKNOWN`. */
  code: string;
  /** The form field to mark invalid (`id`, `customer_name`, `product_name`, `status`). */
  field: string | undefined;
}

/** Explains why a create, edit or delete of order `id` was refused. */
export function describeWriteProblem(error: unknown, action: 'create' | 'update' | 'delete', id: number): WriteProblem {
  if (!(error instanceof ApiError)) {
    return { code: 'UNKNOWN', field: undefined, message: `Order #${id} was not saved: something went wrong.` };
  }
  if (error.status === 400) {
    // The API names the field as `<part>/<path>` (`body/customer_name`) and may start its message with it.
    const detail =
      error.field && error.message.startsWith(error.field)
        ? error.message.slice(error.field.length).trim()
        : error.message;
    return {
      code: 'VALIDATION',
      field: fieldKey(error.field),
      message: `Order #${id} was not saved: ${fieldLabel(error.field)} — ${detail}`,
    };
  }
  switch (error.code) {
    case 'ORDER_EXISTS':
      return { code: error.code, field: 'id', message: `Order #${id} already exists. Choose another id.` };
    case 'VERSION_MISMATCH':
      return {
        code: error.code,
        field: undefined,
        message: `Order #${id} was changed elsewhere while you were editing it. Your change was not saved.`,
      };
    case 'ORDER_NOT_FOUND':
      return { code: error.code, field: undefined, message: `Order #${id} no longer exists.` };
    case 'NETWORK':
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
