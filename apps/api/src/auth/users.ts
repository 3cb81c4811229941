import { MongoServerError, ObjectId, type Collection } from 'mongodb';
import type { Role, Scope, User } from '@orders/contracts';

/** A user as stored in `users`. `username_key` (lower case) is unique, so "Admin" and "admin" are one user. */
export interface UserDocument {
  _id: ObjectId;
  username: string;
  username_key: string;
  password_hash: string;
  role: Role;
  scope: Scope | null;
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export const USERS_COLLECTION = 'users';

export interface NewUser {
  username: string;
  passwordHash: string;
  role: Role;
  scope: Scope | null;
}

export interface UserChanges {
  role?: Role;
  scope?: Scope | null;
  disabled?: boolean;
  passwordHash?: string;
}

/** The `users` collection as plain functions; "not found" is `null`. */
export interface UsersStore {
  collection: Collection<UserDocument>;
  ensureIndexes(): Promise<void>;
  count(): Promise<number>;
  byUsername(username: string): Promise<UserDocument | null>;
  byId(id: string): Promise<UserDocument | null>;
  list(): Promise<UserDocument[]>;
  /** `exists` when the username is taken (in any letter case). */
  create(user: NewUser, now?: Date): Promise<{ status: 'created'; user: UserDocument } | { status: 'exists' }>;
  update(id: string, changes: UserChanges, now?: Date): Promise<UserDocument | null>;
}

const DUPLICATE_KEY = 11000;

/** Builds the users store over its collection. */
export function createUsersStore(collection: Collection<UserDocument>): UsersStore {
  return {
    collection,
    async ensureIndexes() {
      await collection.createIndex({ username_key: 1 }, { unique: true, name: 'username_key_unique' }, undefined);
    },
    count: () => collection.countDocuments({}),
    byUsername: (username) => collection.findOne({ username_key: username.toLowerCase() }),
    byId: (id) => (ObjectId.isValid(id) ? collection.findOne({ _id: new ObjectId(id) }) : Promise.resolve(null)),
    list: () => collection.find({}).sort({ username_key: 1 }).toArray(),
    async create(user, now = new Date()) {
      const doc: UserDocument = {
        _id: new ObjectId(),
        username: user.username,
        username_key: user.username.toLowerCase(),
        password_hash: user.passwordHash,
        role: user.role,
        scope: normalizeScope(user.scope),
        disabled: false,
        created_at: now,
        updated_at: now,
      };
      try {
        await collection.insertOne(doc);
        return { status: 'created', user: doc };
      } catch (error) {
        if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return { status: 'exists' };
        throw error;
      }
    },
    async update(id, changes, now = new Date()) {
      if (!ObjectId.isValid(id)) return null;
      const set: Partial<UserDocument> = { updated_at: now };
      if (changes.role !== undefined) set.role = changes.role;
      if (changes.scope !== undefined) set.scope = normalizeScope(changes.scope);
      if (changes.disabled !== undefined) set.disabled = changes.disabled;
      if (changes.passwordHash !== undefined) set.password_hash = changes.passwordHash;
      return collection.findOneAndUpdate({ _id: new ObjectId(id) }, { $set: set }, { returnDocument: 'after' });
    },
  };
}

/** `{}` and `null` both mean "every order"; stored as null so there is one way to say it. */
export function normalizeScope(scope: Scope | null | undefined): Scope | null {
  if (scope === null || scope === undefined) return null;
  const normalized: Scope = {};
  if (scope.customer !== undefined) normalized.customer = scope.customer;
  if (scope.status !== undefined) normalized.status = [...scope.status];
  return Object.keys(normalized).length === 0 ? null : normalized;
}

/** The public view of a user: never the hash. */
export function toUser(doc: UserDocument): User {
  return {
    id: doc._id.toHexString(),
    username: doc.username,
    role: doc.role,
    scope: doc.scope,
    disabled: doc.disabled,
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString(),
  };
}
