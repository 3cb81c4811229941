import { ObjectId, type Collection } from 'mongodb';
import type { ApiToken, Role, Scope } from '@orders/contracts';
import { hashSecret, newSecret } from './secrets.js';
import { normalizeScope } from './users.js';

/** An API token as stored in `api_tokens`: only the SHA-256 of its secret, never the secret. */
export interface TokenDocument {
  _id: ObjectId;
  name: string;
  role: Role;
  scope: Scope | null;
  hash: string;
  expires_at: Date;
  created_at: Date;
  created_by: string;
  last_used_at: Date | null;
}

export const TOKENS_COLLECTION = 'api_tokens';

/** Tokens carry this prefix so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = 'ord_';

const LAST_USED_INTERVAL_MS = 60_000;

export interface NewToken {
  name: string;
  role: Role;
  scope: Scope | null;
  expiresAt: Date;
  createdBy: string;
}

export interface TokensStore {
  collection: Collection<TokenDocument>;
  ensureIndexes(): Promise<void>;
  /** Stores a new token; the secret is returned here and nowhere else. */
  create(token: NewToken, now?: Date): Promise<{ secret: string; token: TokenDocument }>;
  /** The live token for a bearer secret (its last use recorded); null when unknown or expired. */
  resolve(secret: string, now?: Date): Promise<TokenDocument | null>;
  byId(id: string, now?: Date): Promise<TokenDocument | null>;
  list(): Promise<TokenDocument[]>;
  /** True when a token was deleted. */
  revoke(id: string): Promise<boolean>;
}

/** Builds the tokens store over its collection. */
export function createTokensStore(collection: Collection<TokenDocument>): TokensStore {
  const live = (token: TokenDocument | null, now: Date): TokenDocument | null =>
    token !== null && token.expires_at > now ? token : null;

  return {
    collection,
    async ensureIndexes() {
      // Looking a token up by its hash is an index lookup: its timing depends on the hash, which reveals nothing.
      await collection.createIndex({ hash: 1 }, { unique: true, name: 'hash_unique' }, undefined);
      await collection.createIndex({ expires_at: 1 }, { expireAfterSeconds: 0, name: 'expiry_ttl' }, undefined);
    },
    async create(token, now = new Date()) {
      const secret = TOKEN_PREFIX + newSecret();
      const doc: TokenDocument = {
        _id: new ObjectId(),
        name: token.name,
        role: token.role,
        scope: normalizeScope(token.scope),
        hash: hashSecret(secret),
        expires_at: token.expiresAt,
        created_at: now,
        created_by: token.createdBy,
        last_used_at: null,
      };
      await collection.insertOne(doc);
      return { secret, token: doc };
    },
    async resolve(secret, now = new Date()) {
      const token = live(await collection.findOne({ hash: hashSecret(secret) }), now);
      if (token === null) return null;
      if (token.last_used_at === null || now.getTime() - token.last_used_at.getTime() >= LAST_USED_INTERVAL_MS) {
        await collection.updateOne({ _id: token._id }, { $set: { last_used_at: now } });
        return { ...token, last_used_at: now };
      }
      return token;
    },
    async byId(id, now = new Date()) {
      if (!ObjectId.isValid(id)) return null;
      return live(await collection.findOne({ _id: new ObjectId(id) }), now);
    },
    list: () => collection.find({}).sort({ created_at: -1 }).toArray(),
    async revoke(id) {
      if (!ObjectId.isValid(id)) return false;
      const result = await collection.deleteOne({ _id: new ObjectId(id) });
      return result.deletedCount === 1;
    },
  };
}

/** The listed view of a token: never its hash. */
export function toApiToken(doc: TokenDocument): ApiToken {
  return {
    id: doc._id.toHexString(),
    name: doc.name,
    role: doc.role,
    scope: doc.scope,
    expires_at: doc.expires_at.toISOString(),
    created_at: doc.created_at.toISOString(),
    created_by: doc.created_by,
    last_used_at: doc.last_used_at === null ? null : doc.last_used_at.toISOString(),
  };
}
