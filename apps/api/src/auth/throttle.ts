import type { Collection } from 'mongodb';

/**
 * Sign-in throttling, shared by every API process through the `login_throttle` collection.
 *
 * Two counters of failed sign-ins: one per (username, address) and one per address. Past a counter's free
 * allowance each further failure locks that counter for an exponentially longer window (1 s, 2 s, 4 s, …,
 * capped at `maxLockMs`), and a counter forgets its failures once `windowMs` passes without one. Nothing is ever
 * locked for good, and there is deliberately no counter per username alone: an attacker failing against
 * `admin` from their own addresses locks only those addresses, never the admin signing in from elsewhere.
 * Guessing from many addresses is slowed per address and by the memory-hard KDF. See docs/ARCHITECTURE.md,
 * "Access control".
 */
export interface ThrottleRules {
  /** Failures per (username, address) that lock it. */
  perUserAddress: number;
  /** Failures per address (any usernames) that lock it. */
  perAddress: number;
  /** The first lock's length; each further failure doubles it. */
  baseLockMs: number;
  /** Longest single lock. */
  maxLockMs: number;
  /** A counter with no failure for this long starts again from zero. */
  windowMs: number;
}

export const DEFAULT_THROTTLE_RULES: ThrottleRules = {
  perUserAddress: 5,
  perAddress: 20,
  baseLockMs: 1000,
  maxLockMs: 5 * 60_000,
  windowMs: 15 * 60_000,
};

export interface ThrottleDocument {
  _id: string;
  failures: number;
  locked_until: Date | null;
  last_failure_at: Date;
  /** A TTL index drops the counter once it is forgotten. */
  expires_at: Date;
}

export const THROTTLE_COLLECTION = 'login_throttle';

export interface LoginThrottle {
  ensureIndexes(): Promise<void>;
  /** Seconds to wait before trying again (for Retry-After), or 0 when a sign-in may be attempted now. */
  retryAfterSeconds(username: string, address: string, now?: Date): Promise<number>;
  recordFailure(username: string, address: string, now?: Date): Promise<void>;
  /** A successful sign-in clears that (username, address) counter; the address counter keeps counting. */
  recordSuccess(username: string, address: string): Promise<void>;
}

/** Builds the throttle over its collection. */
export function createLoginThrottle(
  collection: Collection<ThrottleDocument>,
  rules: ThrottleRules = DEFAULT_THROTTLE_RULES,
): LoginThrottle {
  const userKey = (username: string, address: string) => `u:${username.toLowerCase()}|${address}`;
  const addressKey = (address: string) => `a:${address}`;

  async function bump(key: string, allowance: number, now: Date): Promise<void> {
    const current = await collection.findOne({ _id: key });
    const fresh = current === null || now.getTime() - current.last_failure_at.getTime() >= rules.windowMs;
    const failures = fresh ? 1 : current.failures + 1;
    // The allowance-th failure locks for baseLockMs, each further one doubles it.
    const over = failures - allowance + 1;
    const lockMs = over > 0 ? Math.min(rules.baseLockMs * 2 ** Math.min(over - 1, 30), rules.maxLockMs) : 0;
    const document: ThrottleDocument = {
      _id: key,
      failures,
      locked_until: lockMs > 0 ? new Date(now.getTime() + lockMs) : null,
      last_failure_at: now,
      expires_at: new Date(now.getTime() + rules.windowMs + rules.maxLockMs),
    };
    await collection.replaceOne({ _id: key }, document, { upsert: true });
  }

  return {
    async ensureIndexes() {
      await collection.createIndex({ expires_at: 1 }, { expireAfterSeconds: 0, name: 'expiry_ttl' }, undefined);
    },
    async retryAfterSeconds(username, address, now = new Date()) {
      const counters = await collection
        .find({ _id: { $in: [userKey(username, address), addressKey(address)] } })
        .toArray();
      let waitMs = 0;
      for (const counter of counters) {
        if (counter.locked_until !== null) waitMs = Math.max(waitMs, counter.locked_until.getTime() - now.getTime());
      }
      return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0;
    },
    async recordFailure(username, address, now = new Date()) {
      await bump(userKey(username, address), rules.perUserAddress, now);
      await bump(addressKey(address), rules.perAddress, now);
    },
    async recordSuccess(username, address) {
      await collection.deleteOne({ _id: userKey(username, address) });
    },
  };
}
