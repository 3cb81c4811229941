import { Timestamp } from 'bson';
import { MongoServerError, type Doc } from '../query/index.js';
import { decodeResumeToken, type ResumeTokenData } from './token.js';

export type FullDocumentMode = 'default' | 'updateLookup' | 'whenAvailable' | 'required';
export type FullDocumentBeforeChangeMode = 'off' | 'whenAvailable' | 'required';

/** The validated `$changeStream` stage options. */
export interface ChangeStreamOptions {
  fullDocument: FullDocumentMode;
  fullDocumentBeforeChange: FullDocumentBeforeChangeMode;
  resumeAfter?: ResumeTokenData;
  startAfter?: ResumeTokenData;
  startAtOperationTime?: Timestamp;
  showExpandedEvents: boolean;
  /** A cluster-wide stream (opened on admin with `aggregate: 1`). */
  allChangesForCluster: boolean;
}

const FULL_DOCUMENT_MODES: readonly FullDocumentMode[] = ['default', 'updateLookup', 'whenAvailable', 'required'];
const BEFORE_CHANGE_MODES: readonly FullDocumentBeforeChangeMode[] = ['off', 'whenAvailable', 'required'];

// mongod's IDL for the stage; anything else is rejected with 40415 as mongod does.
const BOOLEAN_FIELDS = [
  'showExpandedEvents',
  'allChangesForCluster',
  'showSystemEvents',
  'showRawUpdateDescription',
  'allowToRunOnConfigDB',
  'allowToRunOnSystemNS',
] as const;
const KNOWN_FIELDS = new Set<string>([
  'resumeAfter',
  'startAfter',
  'startAtOperationTime',
  'fullDocument',
  'fullDocumentBeforeChange',
  ...BOOLEAN_FIELDS,
]);

function wrongType(field: string, value: unknown, expected: string): MongoServerError {
  return new MongoServerError(
    14,
    'TypeMismatch',
    `BSON field '$changeStream.${field}' is the wrong type '${typeLabel(value)}', expected type '${expected}'`,
  );
}

function typeLabel(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') {
    const bsontype = (value as { _bsontype?: unknown })._bsontype;
    return typeof bsontype === 'string' ? bsontype.toLowerCase() : 'object';
  }
  return typeof value;
}

function enumValue<T extends string>(field: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw wrongType(field, value, 'string');
  if (!(allowed as readonly string[]).includes(value)) {
    throw new MongoServerError(
      2,
      'BadValue',
      `Enumeration value '${value}' for field '$changeStream.${field}' is not a valid value.`,
    );
  }
  return value as T;
}

/**
 * Validates the `$changeStream` stage for a stream on `db` (and `coll`, or the whole database when null).
 * Throws the codes mongod uses: 14/2/40415 for bad fields, 50865/40674 for conflicting resume options,
 * 260 for `resumeAfter` an invalidate, 73 for internal namespaces, 72 for a cluster-wide stream outside admin.
 */
export function parseChangeStreamStage(stage: unknown, db: string, coll: string | null): ChangeStreamOptions {
  if (stage === null || typeof stage !== 'object' || Array.isArray(stage)) {
    throw new MongoServerError(
      50808,
      'Location50808',
      `$changeStream stage expects a document as argument, got ${typeLabel(stage)}`,
    );
  }
  const spec = stage as Doc;
  for (const key of Object.keys(spec)) {
    if (!KNOWN_FIELDS.has(key)) {
      throw new MongoServerError(40415, 'Location40415', `BSON field '$changeStream.${key}' is an unknown field.`);
    }
  }
  for (const field of BOOLEAN_FIELDS) {
    const value = spec[field];
    if (value !== undefined && typeof value !== 'boolean') throw wrongType(field, value, 'bool');
  }

  const options: ChangeStreamOptions = {
    fullDocument: enumValue('fullDocument', spec.fullDocument, FULL_DOCUMENT_MODES, 'default'),
    fullDocumentBeforeChange: enumValue(
      'fullDocumentBeforeChange',
      spec.fullDocumentBeforeChange,
      BEFORE_CHANGE_MODES,
      'off',
    ),
    showExpandedEvents: spec.showExpandedEvents === true,
    allChangesForCluster: spec.allChangesForCluster === true,
  };

  if (spec.resumeAfter !== undefined) options.resumeAfter = decodeResumeToken(spec.resumeAfter, 'resumeAfter');
  if (spec.startAfter !== undefined) options.startAfter = decodeResumeToken(spec.startAfter, 'startAfter');
  if (spec.startAtOperationTime !== undefined) {
    if (!(spec.startAtOperationTime instanceof Timestamp)) {
      throw wrongType('startAtOperationTime', spec.startAtOperationTime, 'timestamp');
    }
    options.startAtOperationTime = spec.startAtOperationTime;
  }
  if (options.resumeAfter && options.startAfter) {
    throw new MongoServerError(
      50865,
      'Location50865',
      "Do not specify both 'resumeAfter' and 'startAfter' in a $changeStream stage",
    );
  }
  if ((options.resumeAfter || options.startAfter) && options.startAtOperationTime) {
    throw new MongoServerError(
      40674,
      'Location40674',
      'Only one type of resume option is allowed, but multiple were found.',
    );
  }
  if (options.resumeAfter?.kind === 'invalidate') {
    throw new MongoServerError(
      260,
      'InvalidResumeToken',
      "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification.",
    );
  }

  if (spec.allChangesForCluster === true) {
    if (db !== 'admin' || coll !== null) {
      throw new MongoServerError(
        72,
        'InvalidOptions',
        "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no " +
          `collection name; found ${coll === null ? db + '.$cmd.aggregate' : db + '.' + coll}`,
      );
    }
    return options;
  }
  if (db === 'admin' || db === 'local' || (db === 'config' && spec.allowToRunOnConfigDB !== true)) {
    throw new MongoServerError(
      73,
      'InvalidNamespace',
      `$changeStream may not be opened on the internal ${db} database`,
    );
  }
  if (coll !== null && coll.startsWith('system.') && spec.allowToRunOnSystemNS !== true) {
    throw new MongoServerError(
      73,
      'InvalidNamespace',
      `$changeStream may not be opened on the internal ${db}.${coll} collection`,
    );
  }
  return options;
}

// Stages a change stream accepts after `$changeStream` (mongod's allow-list).
const ALLOWED_STAGES = new Set([
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$redact',
  '$changeStreamSplitLargeEvent',
]);

// Every stage name mongod 7.0 knows, so that a known-but-disallowed stage gets 20 and a typo gets 40324.
const KNOWN_STAGES = new Set([
  ...ALLOWED_STAGES,
  '$bucket',
  '$bucketAuto',
  '$changeStream',
  '$collStats',
  '$count',
  '$currentOp',
  '$densify',
  '$documents',
  '$facet',
  '$fill',
  '$geoNear',
  '$graphLookup',
  '$group',
  '$indexStats',
  '$limit',
  '$listLocalSessions',
  '$listSampledQueries',
  '$listSearchIndexes',
  '$listSessions',
  '$lookup',
  '$merge',
  '$out',
  '$planCacheStats',
  '$queryStats',
  '$sample',
  '$search',
  '$searchMeta',
  '$setWindowFields',
  '$shardedDataDistribution',
  '$skip',
  '$sort',
  '$sortByCount',
  '$unionWith',
  '$unwind',
  '$vectorSearch',
]);

function stageName(stage: unknown): string {
  if (stage === null || typeof stage !== 'object' || Array.isArray(stage)) {
    throw new MongoServerError(14, 'TypeMismatch', "Each element of the 'pipeline' array must be an object");
  }
  const keys = Object.keys(stage);
  if (keys.length !== 1) {
    throw new MongoServerError(
      40323,
      'Location40323',
      'A pipeline stage specification object must contain exactly one field.',
    );
  }
  return keys[0]!;
}

/** True when `pipeline` is a change-stream pipeline (its first stage is `$changeStream`). */
export function isChangeStreamPipeline(pipeline: readonly unknown[]): boolean {
  const first = pipeline[0];
  return first !== null && typeof first === 'object' && !Array.isArray(first) && '$changeStream' in first;
}

/** Throws 40602 when `$changeStream` appears anywhere but first, as mongod does for any aggregate. */
export function assertChangeStreamFirst(pipeline: readonly unknown[]): void {
  pipeline.forEach((stage, index) => {
    if (index > 0 && stage !== null && typeof stage === 'object' && '$changeStream' in stage) {
      throw new MongoServerError(
        40602,
        'Location40602',
        '$changeStream is only valid as the first stage in a pipeline',
      );
    }
  });
}

/**
 * Validates the user stages that follow `$changeStream` and returns the ones to run per event
 * (`$changeStreamSplitLargeEvent` is dropped: events here never exceed the BSON limit).
 */
export function validateUserStages(pipeline: readonly unknown[]): Doc[] {
  const stages: Doc[] = [];
  pipeline.forEach((stage, index) => {
    const name = stageName(stage);
    if (name === '$changeStream') {
      throw new MongoServerError(
        40602,
        'Location40602',
        '$changeStream is only valid as the first stage in a pipeline',
      );
    }
    if (!KNOWN_STAGES.has(name)) {
      throw new MongoServerError(40324, 'Location40324', `Unrecognized pipeline stage name: '${name}'`);
    }
    if (!ALLOWED_STAGES.has(name)) {
      throw new MongoServerError(20, 'IllegalOperation', `${name} is not permitted in a $changeStream pipeline`);
    }
    if (name === '$changeStreamSplitLargeEvent') {
      if (index !== pipeline.length - 1) {
        throw new MongoServerError(
          7182802,
          'Location7182802',
          '$changeStreamSplitLargeEvent must be the last stage in the pipeline',
        );
      }
      return;
    }
    stages.push(stage as Doc);
  });
  return stages;
}
