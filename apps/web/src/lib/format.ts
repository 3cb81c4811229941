import type { OrderStatus } from '@orders/contracts';

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago" — coarse on purpose, it is re-rendered every few seconds. */
export function formatRelative(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

// Building a DateTimeFormat is costly (it was the top cost of a busy board when made per card render); make it once.
const ABSOLUTE_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** Full local date and time, for a `title`. */
export function formatAbsolute(iso: string): string {
  return ABSOLUTE_FORMAT.format(new Date(iso));
}

export const STATUS_LABELS: Record<OrderStatus, string> = {
  pending: 'Pending',
  shipped: 'Shipped',
  delivered: 'Delivered',
};

const FIELD_LABELS: Record<string, string> = {
  id: 'Order id',
  customer_name: 'Customer',
  product_name: 'Product',
  status: 'Status',
};

/** The form field a server validation error names, whatever path style it uses (`/customer_name`, `body.status`). */
export function fieldKey(field: string | undefined): string | undefined {
  if (!field) return undefined;
  const last = field.split(/[./]/).filter(Boolean).at(-1);
  return last && last in FIELD_LABELS ? last : undefined;
}

/** A person's name for a request field. */
export function fieldLabel(field: string | undefined): string {
  const key = fieldKey(field);
  return key ? (FIELD_LABELS[key] ?? key) : (field ?? 'A field');
}
