import type { OrderEvent, OrderStatus } from '@orders/contracts';
import { ownWrites as pageOwnWrites, type OwnWrites } from '../orders/ownWrites.js';

/** One line of the recent-activity list. */
export interface ActivityEntry {
  /** Unique and increasing, for React keys. */
  seq: number;
  kind: 'created' | 'updated' | 'deleted' | 'left';
  orderId: number;
  customer?: string;
  status?: OrderStatus;
  /** When this page received it (ms since epoch). */
  at: number;
  /** Whether a write this page sent made it. */
  own: boolean;
}

/** A snapshot of recent activity: the newest entries first, and changes per second for the chart. */
export interface ActivitySnapshot {
  entries: readonly ActivityEntry[];
  /** Changes received in each whole second, keyed by `Math.floor(ms / 1000)`. */
  perSecond: ReadonlyMap<number, number>;
  /** When the latest change was received (ms since epoch; 0 before any). */
  lastAt: number;
  /** Changes received since the page opened, by kind (the entries keep only the latest few). */
  totals: Readonly<Record<ActivityEntry['kind'], number>>;
  /** Of those, the ones this page's own writes did not make: the changes from elsewhere. */
  remoteTotals: Readonly<Record<ActivityEntry['kind'], number>>;
}

/** How much history the chart shows. */
export const CHART_SECONDS = 180;
const MAX_ENTRIES = 30;
/** Positions remembered to keep a replayed event (after reconnect or resync) from being listed twice. */
const MAX_REMEMBERED_POSITIONS = 2000;

/** Recent activity, fed by the socket hook and read by components through `useSyncExternalStore`. */
export interface ActivityStore {
  record: (events: readonly OrderEvent[], now?: number) => void;
  /** Returns the unsubscribe function. */
  subscribe: (listener: () => void) => () => void;
  getSnapshot: () => ActivitySnapshot;
}

/** Creates an empty activity store; `ownWrites` tells this page's own changes from the others'. */
export function createActivityStore(ownWrites: OwnWrites = pageOwnWrites): ActivityStore {
  let snapshot: ActivitySnapshot = {
    entries: [],
    perSecond: new Map(),
    lastAt: 0,
    totals: { created: 0, updated: 0, deleted: 0, left: 0 },
    remoteTotals: { created: 0, updated: 0, deleted: 0, left: 0 },
  };
  const listeners = new Set<() => void>();
  const remembered = new Set<string>();
  let seq = 0;

  return {
    record: (events, now = Date.now()) => {
      const fresh: ActivityEntry[] = [];
      const push = (entry: Omit<ActivityEntry, 'own'>, version?: number) => {
        const own = ownWrites.isOwn({ ...entry, ...(version === undefined ? {} : { version }) }, now);
        fresh.push({ ...entry, own });
      };
      for (const event of events) {
        if (remembered.has(event.position)) continue;
        remembered.add(event.position);
        if (remembered.size > MAX_REMEMBERED_POSITIONS) {
          const oldest = remembered.values().next().value;
          if (oldest !== undefined) remembered.delete(oldest);
        }
        const base = { seq: ++seq, at: now };
        switch (event.type) {
          case 'order.created':
          case 'order.updated':
            push(
              {
                ...base,
                kind: event.type === 'order.created' ? 'created' : 'updated',
                orderId: event.order.id,
                customer: event.order.customer_name,
                status: event.order.status,
              },
              event.order.version,
            );
            break;
          case 'order.deleted':
            push({ ...base, kind: 'deleted', orderId: event.id });
            break;
          case 'order.left':
            push({ ...base, kind: 'left', orderId: event.id });
            break;
        }
      }
      if (fresh.length === 0) return;
      const second = Math.floor(now / 1000);
      const perSecond = new Map(snapshot.perSecond);
      perSecond.set(second, (perSecond.get(second) ?? 0) + fresh.length);
      for (const key of perSecond.keys()) if (key <= second - CHART_SECONDS) perSecond.delete(key);
      const totals = { ...snapshot.totals };
      const remoteTotals = { ...snapshot.remoteTotals };
      for (const entry of fresh) {
        totals[entry.kind] += 1;
        if (!entry.own) remoteTotals[entry.kind] += 1;
      }
      snapshot = {
        entries: [...fresh.reverse(), ...snapshot.entries].slice(0, MAX_ENTRIES),
        perSecond,
        lastAt: now,
        totals,
        remoteTotals,
      };
      for (const listener of listeners) listener();
    },
    subscribe: (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    getSnapshot: () => snapshot,
  };
}
