/*
 * The writes this page sent, so that the changes they cause, which come back over the socket like everyone else's,
 * are not announced to the person who made them as news from elsewhere. A write is noted when it is sent, not when
 * its answer comes: the change event often arrives before the HTTP answer does.
 */

/** How long a sent write is remembered: far longer than its change takes to come back. */
export const OWN_WRITE_MEMORY_MS = 60_000;
/** The most writes remembered (a bulk action on a large selection stays well inside it). */
const MAX_OWN_WRITES = 5000;

/** A change as the board received it. */
export interface ReceivedChange {
  kind: 'created' | 'updated' | 'deleted' | 'left';
  orderId: number;
  /** The version the change made (created and updated only). */
  version?: number;
}

/** The writes a page has sent recently. */
export interface OwnWrites {
  /** A create or an update that will make `version` of the order (when known), or a delete. */
  note: (write: { id: number; version?: number; deleted?: boolean }, now?: number) => void;
  /** Whether a change came from one of those writes. */
  isOwn: (change: ReceivedChange, now?: number) => boolean;
  /** Forgets every write, as a page that has just opened. */
  forget: () => void;
}

/** An empty record of own writes. */
export function createOwnWrites(): OwnWrites {
  // Key → when it is forgotten. Insertion order is age order: the oldest are dropped first.
  const remembered = new Map<string, number>();
  const remember = (key: string, until: number) => {
    remembered.delete(key);
    remembered.set(key, until);
    if (remembered.size > MAX_OWN_WRITES) {
      const oldest = remembered.keys().next().value;
      if (oldest !== undefined) remembered.delete(oldest);
    }
  };
  const holds = (key: string, now: number) => {
    const until = remembered.get(key);
    if (until === undefined) return false;
    if (until >= now) return true;
    remembered.delete(key);
    return false;
  };
  return {
    note: (write, now = Date.now()) => {
      const until = now + OWN_WRITE_MEMORY_MS;
      // Any write by this page can take the order out of the board's filter; that event names only the id.
      remember(String(write.id), until);
      if (write.deleted === true) remember(`${String(write.id)}@deleted`, until);
      else if (write.version !== undefined) remember(`${String(write.id)}@${String(write.version)}`, until);
    },
    isOwn: (change, now = Date.now()) => {
      switch (change.kind) {
        case 'created':
        case 'updated':
          return change.version !== undefined && holds(`${String(change.orderId)}@${String(change.version)}`, now);
        case 'deleted':
          return holds(`${String(change.orderId)}@deleted`, now);
        case 'left':
          return holds(String(change.orderId), now);
      }
    },
    forget: () => {
      remembered.clear();
    },
  };
}

/** This page's own writes: every order write of the API client notes itself here. */
export const ownWrites: OwnWrites = createOwnWrites();
