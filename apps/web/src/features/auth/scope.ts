import { ORDER_STATUSES, type OrderStatus, type Role, type Scope } from '@orders/contracts';
import { STATUS_LABELS } from '../../lib/format.js';

/** Role names as the page shows them. */
export const ROLE_LABELS: Record<Role, string> = { viewer: 'Viewer', operator: 'Operator', admin: 'Admin' };

/** What a role may do, in a few words (shown beside the role picker). */
export const ROLE_HINTS: Record<Role, string> = {
  viewer: 'reads orders and follows the live board',
  operator: 'also creates and edits orders',
  admin: 'also deletes orders and manages users and tokens',
};

/** A scope in words: "all orders", or "customer contains “bob” · Pending, Shipped". */
export function describeScope(scope: Scope | null): string {
  const parts: string[] = [];
  if (scope?.customer !== undefined) parts.push(`customer contains “${scope.customer}”`);
  if (scope?.status !== undefined) {
    parts.push(
      ORDER_STATUSES.filter((status) => scope.status?.includes(status))
        .map((status) => STATUS_LABELS[status])
        .join(', '),
    );
  }
  return parts.length === 0 ? 'all orders' : parts.join(' · ');
}

/** The scope a form describes: a trimmed customer and the ticked statuses; nothing picked is every order (`null`). */
export function scopeFromForm(customer: string, statuses: readonly OrderStatus[]): Scope | null {
  const scope: Scope = {};
  const trimmed = customer.trim();
  if (trimmed) scope.customer = trimmed;
  const picked = ORDER_STATUSES.filter((status) => statuses.includes(status));
  if (picked.length > 0 && picked.length < ORDER_STATUSES.length) scope.status = picked;
  return scope.customer === undefined && scope.status === undefined ? null : scope;
}
