import type { Collection, ObjectId } from 'mongodb';
import { hashSecret, newSecret } from './secrets.js';

/**
 * A dashboard session as stored in `sessions`. `_id` is the SHA-256 of the cookie's secret, so the database
 * never holds a usable cookie. Stored server-side so a sign-out holds on every API process at once.
 */
export interface SessionDocument {
  _id: string;
  user_id: ObjectId;
  created_at: Date;
  last_seen_at: Date;
  /** Absolute end, whatever the activity. */
  expires_at: Date;
  /** End if unused: moves forward with use, never past `expires_at`. A TTL index removes the session then. */
  idle_expires_at: Date;
}

export const SESSIONS_COLLECTION = 'sessions';

export interface SessionLifetime {
  idleMs: number;
  absoluteMs: number;
}

/** Activity refreshes the idle deadline at most this often, so reads do not each cost a write. */
const TOUCH_INTERVAL_MS = 60_000;

export interface SessionsStore {
  collection: Collection<SessionDocument>;
  ensureIndexes(): Promise<void>;
  /** A new session for `userId`; returns the cookie's secret (shown to the browser only). */
  create(userId: ObjectId, now?: Date): Promise<{ secret: string; session: SessionDocument }>;
  /** The live session behind a cookie secret, its idle deadline refreshed; null when unknown or expired. */
  resolve(secret: string, now?: Date): Promise<SessionDocument | null>;
  /** The live session with this id (hash), without refreshing it; null when gone or expired. */
  byId(id: string, now?: Date): Promise<SessionDocument | null>;
  revoke(secret: string): Promise<void>;
  revokeAllOf(userId: ObjectId): Promise<void>;
}

/** Builds the sessions store over its collection. */
export function createSessionsStore(collection: Collection<SessionDocument>, lifetime: SessionLifetime): SessionsStore {
  const live = (session: SessionDocument | null, now: Date): SessionDocument | null =>
    session !== null && session.idle_expires_at > now && session.expires_at > now ? session : null;

  return {
    collection,
    async ensureIndexes() {
      // MongoDB removes a session once its idle deadline passes (the absolute one caps it); reads check both anyway.
      await collection.createIndex(
        { idle_expires_at: 1 },
        { expireAfterSeconds: 0, name: 'idle_expiry_ttl' },
        undefined,
      );
      await collection.createIndex({ user_id: 1 }, { name: 'user_id' }, undefined);
    },
    async create(userId, now = new Date()) {
      const secret = newSecret();
      const expires = new Date(now.getTime() + lifetime.absoluteMs);
      const session: SessionDocument = {
        _id: hashSecret(secret),
        user_id: userId,
        created_at: now,
        last_seen_at: now,
        expires_at: expires,
        idle_expires_at: new Date(Math.min(now.getTime() + lifetime.idleMs, expires.getTime())),
      };
      await collection.insertOne(session);
      return { secret, session };
    },
    async resolve(secret, now = new Date()) {
      const session = live(await collection.findOne({ _id: hashSecret(secret) }), now);
      if (session === null) return null;
      if (now.getTime() - session.last_seen_at.getTime() >= TOUCH_INTERVAL_MS) {
        const idle = new Date(Math.min(now.getTime() + lifetime.idleMs, session.expires_at.getTime()));
        await collection.updateOne({ _id: session._id }, { $set: { last_seen_at: now, idle_expires_at: idle } });
        return { ...session, last_seen_at: now, idle_expires_at: idle };
      }
      return session;
    },
    async byId(id, now = new Date()) {
      return live(await collection.findOne({ _id: id }), now);
    },
    async revoke(secret) {
      await collection.deleteOne({ _id: hashSecret(secret) });
    },
    async revokeAllOf(userId) {
      await collection.deleteMany({ user_id: userId });
    },
  };
}
