import { Long } from 'bson';
import {
  canonicalKey,
  collationSpec,
  compileFilter,
  compilePipeline,
  MongoServerError,
  normaliseTextIndexSpec,
  parseCollation,
  textIndexOf,
  type Doc,
} from '../query/index.js';
import type { IndexData } from '../storage/indexes.js';
import { normaliseIndexSpec, validateNamespace, type Collection, type IndexSpec } from '../storage/store.js';
import { write, type CommandContext } from './context.js';
import { collectionName, cursorReply } from './crud.js';
import { isView, requireNotView } from './query-options.js';
import { isDoc, toBool } from './util.js';

const CREATE_OPTIONS = new Set([
  'capped',
  'size',
  'max',
  'validator',
  'validationLevel',
  'validationAction',
  'changeStreamPreAndPostImages',
  'collation',
  'storageEngine',
  'indexOptionDefaults',
  'timeseries',
  'expireAfterSeconds',
  'clusteredIndex',
  'viewOn',
  'pipeline',
  'idIndex',
  'encryptedFields',
  'flags',
  'autoIndexId',
  'temp',
]);

function createOptions(body: Doc, command: string): Doc {
  const options: Doc = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === command || isGenericField(k)) continue;
    // Unknown options are ignored rather than refused: driver versions pass different extras through.
    if (!CREATE_OPTIONS.has(k)) continue;
    if (k === 'viewOn') {
      if (typeof v !== 'string') {
        throw new MongoServerError(
          14,
          'TypeMismatch',
          "BSON field 'create.viewOn' is the wrong type, expected type 'string'",
        );
      }
      if (v === '') throw new MongoServerError(2, 'BadValue', "'viewOn' cannot be empty");
    }
    if (k === 'pipeline') {
      if (!Array.isArray(v) || !v.every(isDoc)) {
        throw new MongoServerError(
          14,
          'TypeMismatch',
          "BSON field 'create.pipeline' is the wrong type, expected type 'array'",
        );
      }
      for (const stage of v) {
        const stageName = Object.keys(stage)[0] ?? '';
        if (stageName === '$out' || stageName === '$merge' || stageName === '$changeStream') {
          throw new MongoServerError(
            157,
            'OptionNotSupportedOnView',
            `${stageName} cannot be used in a view definition`,
          );
        }
      }
      compilePipeline(v);
    }
    if (k === 'timeseries' || k === 'encryptedFields') {
      throw new MongoServerError(
        115,
        'CommandNotSupported',
        `'${k}' collections are not supported by the embedded engine`,
      );
    }
    if (k === 'changeStreamPreAndPostImages' && !(isDoc(v) && typeof v.enabled === 'boolean')) {
      throw new MongoServerError(
        40414,
        'Location40414',
        "BSON field 'changeStreamPreAndPostImages.enabled' is missing but a required field",
      );
    }
    if (k === 'validator' && !isDoc(v)) throw new MongoServerError(14, 'TypeMismatch', "'validator' must be an object");
    if (k === 'collation') {
      const collation = parseCollation(v);
      if (collation) options[k] = collationSpec(collation);
      continue;
    }
    options[k] = v;
  }
  return options;
}

const GENERIC_FIELDS = new Set([
  '$db',
  'lsid',
  'txnNumber',
  '$clusterTime',
  '$readPreference',
  'readConcern',
  'writeConcern',
  'comment',
  'maxTimeMS',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
  'autocommit',
  'startTransaction',
  '$audit',
  '$client',
  'mayBypassWriteBlocking',
]);

/** Fields every command may carry and that say nothing about the command itself. */
export function isGenericField(name: string): boolean {
  return GENERIC_FIELDS.has(name);
}

export function create(ctx: CommandContext): Doc {
  const name = collectionName(ctx);
  const options = createOptions(ctx.body, 'create');
  if ('pipeline' in options && !('viewOn' in options)) {
    throw new MongoServerError(9, 'FailedToParse', "'pipeline' requires 'viewOn' to also be specified");
  }
  if ('viewOn' in options) {
    for (const k of Object.keys(options)) {
      if (k !== 'viewOn' && k !== 'pipeline' && k !== 'collation') {
        throw new MongoServerError(72, 'InvalidOptions', `option '${k}' is not supported when creating a view`);
      }
    }
    if (!('pipeline' in options)) options.pipeline = [];
  }
  if (options.validator) compileFilter(options.validator as Doc);
  write(ctx, (batch) => ctx.store.createCollection(batch, ctx.db, name, options));
  return {};
}

export function drop(ctx: CommandContext): Doc {
  const name = collectionName(ctx);
  const nIndexesWas = write(ctx, (batch) => ctx.store.dropCollection(batch, ctx.db, name));
  return nIndexesWas === null ? {} : { nIndexesWas, ns: `${ctx.db}.${name}` };
}

export function dropDatabase(ctx: CommandContext): Doc {
  write(ctx, (batch) => ctx.store.dropDatabase(batch, ctx.db));
  return { dropped: ctx.db };
}

function parseNamespace(v: unknown, field: string): { db: string; coll: string } {
  if (typeof v !== 'string')
    throw new MongoServerError(14, 'TypeMismatch', `BSON field 'renameCollection.${field}' must be a string`);
  const dot = v.indexOf('.');
  if (dot <= 0 || dot === v.length - 1)
    throw new MongoServerError(73, 'InvalidNamespace', `Invalid namespace specified '${v}'`);
  return { db: v.slice(0, dot), coll: v.slice(dot + 1) };
}

export function renameCollection(ctx: CommandContext): Doc {
  if (ctx.db !== 'admin')
    throw new MongoServerError(13, 'Unauthorized', 'renameCollection may only be run against the admin database.');
  const from = parseNamespace(ctx.body.renameCollection, 'renameCollection');
  const to = parseNamespace(ctx.body.to, 'to');
  validateNamespace(to.db, to.coll);
  write(ctx, (batch) => ctx.store.renameCollection(batch, from, to, toBool(ctx.body.dropTarget)));
  return {};
}

function requireCollection(ctx: CommandContext, name: string): Collection {
  const coll = ctx.store.getCollection(ctx.db, name);
  if (!coll) throw new MongoServerError(26, 'NamespaceNotFound', `ns does not exist: ${ctx.db}.${name}`);
  return coll;
}

export function collMod(ctx: CommandContext): Doc {
  const name = collectionName(ctx);
  const coll = requireCollection(ctx, name);
  const options: Doc = { ...coll.options };
  let indexChange: ReturnType<typeof parseIndexModification> = null;
  for (const [k, v] of Object.entries(ctx.body)) {
    if (k === 'collMod' || isGenericField(k)) continue;
    if (k === 'changeStreamPreAndPostImages') {
      if (!(isDoc(v) && typeof v.enabled === 'boolean')) {
        throw new MongoServerError(
          40414,
          'Location40414',
          "BSON field 'changeStreamPreAndPostImages.enabled' is missing but a required field",
        );
      }
      if (v.enabled) options[k] = { enabled: true };
      else Reflect.deleteProperty(options, k);
    } else if (k === 'validator') {
      if (!isDoc(v)) throw new MongoServerError(14, 'TypeMismatch', "'validator' must be an object");
      compileFilter(v);
      options[k] = v;
    } else if (k === 'validationLevel' || k === 'validationAction') {
      options[k] = v;
    } else if (k === 'index') {
      if (!isDoc(v)) throw new MongoServerError(14, 'TypeMismatch', "'index' must be an object");
      indexChange = parseIndexModification(coll, v);
    } else {
      throw new MongoServerError(40415, 'Location40415', `BSON field 'collMod.${k}' is an unknown field.`);
    }
  }
  let reply: Doc = {};
  write(ctx, (batch) => {
    if (indexChange) {
      const old = ctx.store.modifyIndex(batch, coll, indexChange.index, indexChange.expireAfterSeconds);
      reply = {
        ...(old === undefined ? {} : { expireAfterSeconds_old: old }),
        expireAfterSeconds_new: indexChange.expireAfterSeconds,
      };
    }
    if (canonicalKey(options) !== canonicalKey(coll.options) || !indexChange) ctx.store.collMod(batch, coll, options);
  });
  return reply;
}

/**
 * collMod's `index: { keyPattern | name, expireAfterSeconds }`: finds the index and checks the new TTL as mongod
 * does. `hidden` is accepted and has no effect here.
 */
function parseIndexModification(coll: Collection, v: Doc): { index: IndexData; expireAfterSeconds: number } | null {
  const hasName = 'name' in v;
  const hasKey = 'keyPattern' in v;
  if (hasName === hasKey) {
    throw new MongoServerError(72, 'InvalidOptions', 'Must specify either index name or key pattern.');
  }
  if (hasName && typeof v.name !== 'string') throw new MongoServerError(14, 'TypeMismatch', "'name' must be a string");
  if (hasKey && !isDoc(v.keyPattern)) throw new MongoServerError(14, 'TypeMismatch', "'keyPattern' must be an object");
  for (const field of Object.keys(v)) {
    if (!['name', 'keyPattern', 'expireAfterSeconds', 'hidden'].includes(field)) {
      throw new MongoServerError(40415, 'Location40415', `BSON field 'collMod.index.${field}' is an unknown field.`);
    }
  }
  const index = coll.indexes.find((i) =>
    hasName ? i.name === v.name : canonicalKey(i.spec.key) === canonicalKey(v.keyPattern),
  );
  if (!index) {
    const which = hasName ? `name ${String(v.name)}` : `key pattern ${JSON.stringify(v.keyPattern)}`;
    throw new MongoServerError(27, 'IndexNotFound', `cannot find index ${which} for ns ${coll.ns}`);
  }
  if (!('expireAfterSeconds' in v)) return null;
  const raw = v.expireAfterSeconds;
  const secs = Number((raw as { valueOf(): unknown } | null)?.valueOf());
  if (typeof raw === 'string' || typeof raw === 'boolean' || raw === null || !Number.isFinite(secs)) {
    throw new MongoServerError(14, 'TypeMismatch', "BSON field 'collMod.index.expireAfterSeconds' is the wrong type");
  }
  if (!Number.isInteger(secs) || secs < 0 || secs > 2147483647) {
    throw new MongoServerError(2, 'BadValue', `expireAfterSeconds must be between 0 and 2147483647, got ${secs}`);
  }
  // As mongod (5.1+): a single-field index other than _id may become a TTL index; others cannot expire.
  if (index.fields.length !== 1 || index.name === '_id_' || index.fields[0] === '_id') {
    throw new MongoServerError(
      72,
      'InvalidOptions',
      `TTL indexes are single-field indexes, compound indexes and the _id index do not support TTL. Index: ${index.name}`,
    );
  }
  return { index, expireAfterSeconds: secs };
}

/**
 * Stores an index's collation as mongod lists it (every field filled in); the simple collation is no collation.
 * An index without one inherits the collection's default collation.
 */
function withIndexCollation(spec: IndexSpec, collectionDefault: unknown): IndexSpec {
  const raw = 'collation' in spec ? spec.collation : collectionDefault;
  const collation = parseCollation(raw);
  const { collation: _ignored, ...rest } = spec;
  return collation ? { ...rest, collation: collationSpec(collation) } : rest;
}

/** mongod keeps at most one text index per collection (an identical re-creation is a no-op, not a conflict). */
function checkOneTextIndex(coll: Collection | undefined, specs: IndexSpec[]): void {
  const existing = coll?.indexes.map((i) => i.spec).filter((spec) => textIndexOf(spec)) ?? [];
  for (const spec of specs) {
    if (!textIndexOf(spec)) continue;
    const other = existing.find((e) => e.name !== spec.name);
    if (other) {
      throw new MongoServerError(
        85,
        'IndexOptionsConflict',
        `An equivalent index already exists with a different name and options. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(other)}`,
      );
    }
    existing.push(spec);
  }
}

export function createIndexes(ctx: CommandContext): Doc {
  const name = collectionName(ctx);
  const raw = ctx.body.indexes;
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every(isDoc)) {
    throw new MongoServerError(2, 'BadValue', 'Must specify at least one index to create');
  }
  requireNotView(ctx.store.getCollection(ctx.db, name));
  const defaultCollation = ctx.store.getCollection(ctx.db, name)?.options.collation;
  const specs = raw.map((r) =>
    withIndexCollation(normaliseTextIndexSpec(normaliseIndexSpec(r)) as IndexSpec, defaultCollation),
  );
  for (const spec of specs) {
    if (spec.name === '_id_' && canonicalKey(spec.key) !== canonicalKey({ _id: 1 })) {
      throw new MongoServerError(86, 'IndexKeySpecsConflict', "The index name '_id_' is reserved for the _id index");
    }
    if (isDoc(spec.partialFilterExpression)) compileFilter(spec.partialFilterExpression);
  }
  checkOneTextIndex(ctx.store.getCollection(ctx.db, name), specs);
  return write(ctx, (batch) => {
    const existed = ctx.store.getCollection(ctx.db, name);
    const coll = existed ?? ctx.store.ensureCollection(batch, ctx.db, name);
    const before = coll.indexes.length;
    const added = ctx.store.createIndexes(batch, coll, specs);
    const reply: Doc = {
      numIndexesBefore: before,
      numIndexesAfter: before + added,
      createdCollectionAutomatically: !existed,
    };
    if (added === 0) reply.note = 'all indexes already exist';
    return reply;
  });
}

export function listIndexes(ctx: CommandContext): Doc {
  const name = collectionName(ctx);
  const coll = requireCollection(ctx, name);
  requireNotView(coll);
  const cursor = isDoc(ctx.body.cursor) ? ctx.body.cursor : {};
  return cursorReply(
    ctx,
    `${ctx.db}.${name}`,
    coll.indexes.map((i) => ({ ...i.spec })),
    cursor.batchSize,
    false,
  );
}

export function dropIndexes(ctx: CommandContext): Doc {
  const name = collectionName(ctx);
  const coll = requireCollection(ctx, name);
  requireNotView(coll);
  const which = ctx.body.index;
  const nIndexesWas = coll.indexes.length;
  let names: string[];
  if (which === '*') names = coll.indexes.filter((i) => i.name !== '_id_').map((i) => i.name);
  else if (typeof which === 'string') names = [which];
  else if (Array.isArray(which) && which.every((n) => typeof n === 'string')) names = which;
  else if (isDoc(which)) {
    const found = coll.indexes.find((i) => canonicalKey(i.spec.key) === canonicalKey(which));
    if (!found) throw new MongoServerError(27, 'IndexNotFound', `can't find index with key: ${JSON.stringify(which)}`);
    names = [found.name];
  } else {
    throw new MongoServerError(
      14,
      'TypeMismatch',
      "BSON field 'dropIndexes.index' must be a string, an array of strings or an object",
    );
  }
  for (const n of names) {
    if (!coll.indexes.some((i) => i.name === n))
      throw new MongoServerError(27, 'IndexNotFound', `index not found with name [${n}]`);
    if (n === '_id_') throw new MongoServerError(72, 'InvalidOptions', 'cannot drop _id index');
  }
  write(ctx, (batch) => {
    for (const n of names) ctx.store.dropIndex(batch, coll, n);
  });
  return { nIndexesWas };
}

export function listCollections(ctx: CommandContext): Doc {
  const filter = isDoc(ctx.body.filter) ? ctx.body.filter : {};
  const nameOnly = toBool(ctx.body.nameOnly);
  const matcher = compileFilter(filter);
  const entries: Doc[] = [];
  for (const c of ctx.store.collections(ctx.db)) {
    const view = isView(c);
    const full: Doc = view
      ? { name: c.name, type: 'view', options: { ...c.options }, info: { readOnly: true } }
      : {
          name: c.name,
          type: 'collection',
          options: { ...c.options },
          info: { readOnly: false, uuid: c.uuid },
          idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
        };
    if (!matcher(full)) continue;
    entries.push(nameOnly ? { name: c.name, type: full.type } : full);
  }
  entries.sort((a, b) => String(a.name).localeCompare(String(b.name)));
  const cursor = isDoc(ctx.body.cursor) ? ctx.body.cursor : {};
  return cursorReply(ctx, `${ctx.db}.$cmd.listCollections`, entries, cursor.batchSize, false);
}

function approximateSize(coll: Collection): number {
  // A cheap estimate; exact BSON sizes would cost a full serialisation of every document.
  return coll.docs.size * 256;
}

/**
 * The databases every replica-set member has (server metadata, sessions, the oplog), which mongod lists even before
 * anyone writes to them; their own size stands for that internal data, which the engine keeps elsewhere.
 */
const INTERNAL_DATABASES = ['admin', 'config', 'local'];
const INTERNAL_DATABASE_BYTES = 8192;

export function listDatabases(ctx: CommandContext): Doc {
  const filter = isDoc(ctx.body.filter) ? ctx.body.filter : {};
  const matcher = compileFilter(filter);
  const nameOnly = toBool(ctx.body.nameOnly);
  const databases: Doc[] = [];
  let totalSize = 0;
  const names = new Set([...ctx.store.databaseNames(), ...INTERNAL_DATABASES]);
  for (const name of [...names].sort()) {
    const internal = INTERNAL_DATABASES.includes(name) ? INTERNAL_DATABASE_BYTES : 4096;
    const sizeOnDisk = ctx.store.collections(name).reduce((n, c) => n + approximateSize(c), 0) + internal;
    const entry: Doc = { name, sizeOnDisk: Long.fromNumber(sizeOnDisk), empty: false };
    if (!matcher(entry)) continue;
    totalSize += sizeOnDisk;
    databases.push(nameOnly ? { name } : entry);
  }
  return nameOnly
    ? { databases }
    : {
        databases,
        totalSize: Long.fromNumber(totalSize),
        totalSizeMb: Long.fromNumber(Math.round(totalSize / 1048576)),
      };
}

export function dbStats(ctx: CommandContext): Doc {
  const colls = ctx.store.collections(ctx.db);
  const objects = colls.reduce((n, c) => n + c.docs.size, 0);
  const dataSize = colls.reduce((n, c) => n + approximateSize(c), 0);
  return {
    db: ctx.db,
    collections: colls.length,
    views: 0,
    objects,
    avgObjSize: objects > 0 ? dataSize / objects : 0,
    dataSize,
    storageSize: dataSize,
    indexes: colls.reduce((n, c) => n + c.indexes.length, 0),
    indexSize: 0,
    totalSize: dataSize,
    scaleFactor: 1,
  };
}
