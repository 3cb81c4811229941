/**
 * MongoDB's query language over BSON values (`bson` wrappers as `BSON.deserialize(..., { promoteValues: false })`
 * produces them): comparison in BSON order, filters, updates, projections, sorts and aggregation pipelines.
 * Pure functions, no I/O.
 */
export { MongoServerError, type Doc } from './errors.js';
export {
  bsonTypeName,
  canonicalKey,
  compareValues,
  isPlainObject,
  Rank,
  rankOf,
  valuesEqual,
  valuesIdentical,
} from './values.js';
export {
  compileFilter,
  fieldBounds,
  regexPrefix,
  upsertSeed,
  type Bound,
  type BoundsCost,
  type FieldBounds,
  type FilterOptions,
  type Interval,
} from './filter.js';
export { collationSpec, parseCollation, sameCollation, withCollation, type Collation } from './collation.js';
export {
  applyUpdate,
  diffDocuments,
  isReplacement,
  validateArrayFilters,
  type UpdateDescription,
  type UpdateOptions,
  type UpdateResult,
} from './update.js';
export { compileProjection } from './projection.js';
export { compileSort, sortDocuments } from './sort.js';
export { compilePipeline, runPipeline, type PipelineContext } from './pipeline.js';
export { evaluateExpression, type ExpressionOptions } from './expression.js';
export { getIndexKeyValues, getPathValues } from './path.js';
export {
  compileTextQuery,
  hasTextQuery,
  normaliseTextIndexSpec,
  textIndexOf,
  type TextIndex,
  type TextScores,
} from './text.js';
