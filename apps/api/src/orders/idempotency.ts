import { createHash } from 'node:crypto';
import { MongoServerError, type Collection } from 'mongodb';

/**
 * One `Idempotency-Key`, stored in `idempotency_keys` with `_id` = the key. `R` is the response kept so that a
 * retry with the same key gets exactly the same answer.
 */
export interface IdempotencyRecord<R> {
  _id: string;
  request_hash: string;
  status: 'in_flight' | 'completed';
  response?: R;
  created_at: Date;
}

export type ClaimResult<R> =
  { kind: 'claimed' } | { kind: 'replay'; response: R } | { kind: 'in_flight' } | { kind: 'reused' };

export interface IdempotencyStore<R> {
  /**
   * Claims `key` for a request whose body hashes to `requestHash`. The insert is the claim, so of any number of
   * concurrent requests with one key exactly one gets `claimed`.
   */
  claim(key: string, requestHash: string, now?: Date): Promise<ClaimResult<R>>;
  /** Records the final response of the claimed request. */
  complete(key: string, response: R): Promise<void>;
  /** Gives the key up (the request failed in a way a retry may fix, e.g. the database was unavailable). */
  release(key: string): Promise<void>;
  ensureIndexes(): Promise<void>;
}

/** Keys are kept this long, then the TTL index removes them. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
const DUPLICATE_KEY = 11000;

/** A stable hash of a JSON value: object keys are sorted, so key order does not change the hash. */
export function hashRequestBody(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  // JSON has no undefined: an absent value reads as null, as JSON.stringify writes it inside arrays.
  return value === undefined ? 'null' : JSON.stringify(value);
}

/**
 * Builds the store. A claim still in flight after `abandonAfterMs` is treated as abandoned (its process died
 * between claiming and completing) and may be taken over, so a crashed request does not block its key for a day.
 */
export function createIdempotencyStore<R>(
  collection: Collection<IdempotencyRecord<R>>,
  { abandonAfterMs = 60_000 }: { abandonAfterMs?: number } = {},
): IdempotencyStore<R> {
  async function claim(key: string, requestHash: string, now = new Date()): Promise<ClaimResult<R>> {
    // Two rounds at most: the second covers a record that expired or was released between insert and read.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await collection.insertOne({ _id: key, request_hash: requestHash, status: 'in_flight', created_at: now });
        return { kind: 'claimed' };
      } catch (error) {
        if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
      }
      const existing = await collection.findOne({ _id: key });
      if (existing === null) continue;
      if (existing.request_hash !== requestHash) return { kind: 'reused' };
      if (existing.status === 'completed' && existing.response !== undefined) {
        return { kind: 'replay', response: existing.response };
      }
      if (now.getTime() - existing.created_at.getTime() >= abandonAfterMs) {
        const takeover = await collection.updateOne(
          { _id: key, status: 'in_flight', created_at: existing.created_at },
          { $set: { created_at: now } },
        );
        if (takeover.modifiedCount === 1) return { kind: 'claimed' };
      }
      return { kind: 'in_flight' };
    }
    return { kind: 'in_flight' };
  }

  async function complete(key: string, response: R): Promise<void> {
    const completion: Partial<IdempotencyRecord<R>> = { status: 'completed', response };
    await collection.updateOne({ _id: key }, { $set: completion });
  }

  async function release(key: string): Promise<void> {
    await collection.deleteOne({ _id: key, status: 'in_flight' });
  }

  async function ensureIndexes(): Promise<void> {
    await collection.createIndex(
      { created_at: 1 },
      { name: 'created_at_ttl', expireAfterSeconds: IDEMPOTENCY_TTL_SECONDS },
      undefined,
    );
  }

  return { claim, complete, release, ensureIndexes };
}
