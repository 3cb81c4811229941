import { Int32, type Timestamp } from 'bson';
import { badValue, failedToParse, location, MongoServerError, type Doc } from './errors.js';
import { avgValues, evaluateExpression, maxValue, minValue, sumValues, type ExpressionOptions } from './expression.js';
import { withCollation, type Collation } from './collation.js';
import { compileFilter } from './filter.js';
import { getIndexKeyValues, getPathValues } from './path.js';
import { hasTextQuery, type TextScores } from './text.js';
import { compileProjectionMode } from './projection.js';
import { compileSort, parseSort, sortDocuments } from './sort.js';
import { bsonTypeName, canonicalKey, isNumber, isPlainObject, toDouble, isArray } from './values.js';

/** Context for running a pipeline. */
export interface PipelineContext {
  now?: Date;
  clusterTime?: Timestamp;
  /** `let` variables, visible as `$$name` in every expression (and in `$lookup` sub-pipelines). */
  vars?: Record<string, unknown>;
  /** The command's collation: string comparisons in `$match`, `$sort`, `$lookup` and expressions. */
  collation?: Collation | null;
  /** Scores of a leading `$text` match, for `{ $meta: 'textScore' }` in later stages. */
  textScores?: TextScores;
  /** The documents of a collection (or view) of the same database, for `$lookup`; `[]` when it does not exist. */
  resolveCollection?: (name: string) => Doc[];
}

type Stage = (docs: Doc[]) => Doc[];

function exprOptions(ctx: PipelineContext): ExpressionOptions {
  const opts: ExpressionOptions = { now: ctx.now ?? new Date() };
  if (ctx.clusterTime || ctx.vars) {
    opts.vars = { ...(ctx.vars ?? {}), ...(ctx.clusterTime ? { CLUSTER_TIME: ctx.clusterTime } : {}) };
  }
  if (ctx.textScores) opts.textScores = ctx.textScores;
  return opts;
}

function stageName(spec: Doc): string {
  const keys = Object.keys(spec);
  if (keys.length !== 1) throw location(40323, 'A pipeline stage specification object must contain exactly one field.');
  return keys[0] as string;
}

/** Sets `path` in `doc` the way $addFields does: through arrays of documents, creating missing documents. */
function setField(doc: Doc, parts: readonly string[], i: number, value: unknown): Doc {
  const out: Doc = { ...doc };
  const key = parts[i] as string;
  if (i === parts.length - 1) {
    if (value === undefined) Reflect.deleteProperty(out, key);
    else out[key] = value;
    return out;
  }
  const cur = out[key];
  if (isArray(cur)) {
    out[key] = cur.map((el) => (isPlainObject(el) ? setField(el, parts, i + 1, value) : el));
  } else {
    out[key] = setField(isPlainObject(cur) ? cur : {}, parts, i + 1, value);
  }
  return out;
}

function compileAddFields(spec: unknown, ctx: PipelineContext, name: string): (doc: Doc) => Doc {
  if (!isPlainObject(spec))
    throw location(40272, `${name} specification stage must be an object, got ${bsonTypeName(spec)}`);
  const entries: { parts: string[]; expr: unknown; nested: boolean }[] = [];
  for (const [path, expr] of Object.entries(spec)) {
    if (path === '') throw location(40352, 'FieldPath cannot be constructed with empty string');
    if (path.startsWith('$'))
      throw location(16410, `FieldPath field names may not start with '$'. Consider using $getField or $setField.`);
    const first = isPlainObject(expr) ? Object.keys(expr)[0] : undefined;
    const nested = isPlainObject(expr) && first !== undefined && !first.startsWith('$');
    if (!nested) evaluateExpression(expr, {}, { validateOnly: true });
    entries.push({ parts: path.split('.'), expr, nested });
  }
  const opts = exprOptions(ctx);
  const nestedCompiled = new Map<unknown, (sub: Doc, root?: Doc) => Doc>();
  return (doc) => {
    let out = doc;
    for (const e of entries) {
      if (e.nested) {
        // A sub-document specification merges into the existing sub-document.
        let sub = nestedCompiled.get(e.expr);
        if (!sub) {
          sub = compileNestedAddFields(e.expr as Doc, opts);
          nestedCompiled.set(e.expr, sub);
        }
        const current = readTop(out, e.parts);
        const merged = sub(isPlainObject(current) ? current : {}, doc);
        out = setField(out, e.parts, 0, merged);
      } else {
        out = setField(out, e.parts, 0, evaluateExpression(e.expr, doc, opts));
      }
    }
    return out;
  };
}

function readTop(doc: Doc, parts: string[]): unknown {
  let cur: unknown = doc;
  for (const p of parts) cur = isPlainObject(cur) ? cur[p] : undefined;
  return cur;
}

function compileNestedAddFields(spec: Doc, opts: ExpressionOptions): (sub: Doc, root?: Doc) => Doc {
  return (sub, root) => {
    let out = sub;
    for (const [k, expr] of Object.entries(spec)) {
      const first = isPlainObject(expr) ? Object.keys(expr)[0] : undefined;
      if (isPlainObject(expr) && first !== undefined && !first.startsWith('$')) {
        const cur = out[k];
        out = { ...out, [k]: compileNestedAddFields(expr, opts)(isPlainObject(cur) ? cur : {}, root) };
      } else {
        const v = evaluateExpression(expr, root ?? sub, opts);
        out = { ...out };
        if (v === undefined) Reflect.deleteProperty(out, k);
        else out[k] = v;
      }
    }
    return out;
  };
}

function compileUnset(spec: unknown): (doc: Doc) => Doc {
  const list = typeof spec === 'string' ? [spec] : spec;
  if (!isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string')) {
    throw location(31002, '$unset specification must be a string or an array containing only string values');
  }
  const projection: Doc = {};
  for (const path of list) projection[path] = 0;
  return compileProjectionMode(projection, 'aggregate');
}

function compileReplaceRoot(expr: unknown, ctx: PipelineContext): (doc: Doc) => Doc {
  evaluateExpression(expr, {}, { validateOnly: true });
  const opts = exprOptions(ctx);
  return (doc) => {
    const r = evaluateExpression(expr, doc, opts);
    if (!isPlainObject(r)) {
      throw location(
        40228,
        `'newRoot' expression must evaluate to an object, but resulting value was: ${r === undefined ? 'MISSING' : JSON.stringify(r)}. Type of resulting value: '${bsonTypeName(r)}'. Input document: ${JSON.stringify(doc)}`,
      );
    }
    return r;
  };
}

const ACCUMULATORS = new Set([
  '$sum',
  '$avg',
  '$min',
  '$max',
  '$first',
  '$last',
  '$push',
  '$addToSet',
  '$count',
  '$mergeObjects',
]);

function compileGroup(spec: unknown, ctx: PipelineContext): Stage {
  if (!isPlainObject(spec)) throw location(15947, "a group's fields must be specified in an object");
  if (!('_id' in spec)) throw location(15955, 'a group specification must include an _id');
  const opts = exprOptions(ctx);
  const collation = ctx.collation ?? null;
  const idExpr = spec._id;
  evaluateExpression(idExpr, {}, { validateOnly: true });
  const fields: { name: string; op: string; expr: unknown }[] = [];
  for (const [name, acc] of Object.entries(spec)) {
    if (name === '_id') continue;
    if (name.includes('.')) throw location(40235, `The field name '${name}' cannot contain '.'`);
    if (!isPlainObject(acc)) throw location(40234, `The field '${name}' must be an accumulator object`);
    const keys = Object.keys(acc);
    if (keys.length !== 1) throw location(40238, `The field '${name}' must specify one accumulator`);
    const op = keys[0] as string;
    if (!ACCUMULATORS.has(op)) throw location(15952, `unknown group operator '${op}'`);
    if (op === '$count' && !(isPlainObject(acc.$count) && Object.keys(acc.$count).length === 0)) {
      throw location(6299600, '$count takes no arguments, i.e. $count:{}');
    }
    if (op !== '$count') evaluateExpression(acc[op], {}, { validateOnly: true });
    fields.push({ name, op, expr: acc[op] });
  }
  return (docs) => {
    const groups = new Map<string, { id: unknown; values: unknown[][] }>();
    for (const doc of docs) {
      let id = evaluateExpression(idExpr, doc, opts);
      if (id === undefined) id = null;
      // Under a collation, strings it considers equal form one group (the first one met names it).
      const key = collation && typeof id === 'string' ? `c:${collation.key(id)}` : canonicalKey(id);
      let g = groups.get(key);
      if (!g) {
        g = { id, values: fields.map(() => []) };
        groups.set(key, g);
      }
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i] as { op: string; expr: unknown };
        (g.values[i] as unknown[]).push(f.op === '$count' ? undefined : evaluateExpression(f.expr, doc, opts));
      }
    }
    const out: Doc[] = [];
    for (const g of groups.values()) {
      const row: Doc = { _id: g.id };
      fields.forEach((f, i) => {
        row[f.name] = accumulate(f.op, g.values[i] as unknown[]);
      });
      out.push(row);
    }
    return out;
  };
}

function accumulate(op: string, values: unknown[]): unknown {
  switch (op) {
    case '$sum':
      return sumValues(values);
    case '$count':
      return sumValues(values.map(() => new Int32(1)));
    case '$avg':
      return avgValues(values);
    case '$min':
      return minValue(values);
    case '$max':
      return maxValue(values);
    case '$first':
      return values.length ? (values[0] ?? null) : null;
    case '$last':
      return values.length ? (values[values.length - 1] ?? null) : null;
    case '$push':
      return values.filter((v) => v !== undefined);
    case '$addToSet': {
      const seen = new Map<string, unknown>();
      for (const v of values) if (v !== undefined && !seen.has(canonicalKey(v))) seen.set(canonicalKey(v), v);
      return [...seen.values()];
    }
    case '$mergeObjects': {
      const out: Doc = {};
      for (const v of values) if (isPlainObject(v)) Object.assign(out, v);
      return out;
    }
    default:
      throw location(15952, `unknown group operator '${op}'`);
  }
}

function nonNegativeInteger(stage: string, v: unknown, positive: boolean): number {
  if (!isNumber(v))
    throw location(
      positive ? 15957 : 15972,
      `the ${stage === '$limit' ? 'limit' : 'skip'} must be specified as a number`,
    );
  const n = toDouble(v);
  if (!Number.isInteger(n))
    throw location(positive ? 15957 : 15972, `the ${stage === '$limit' ? 'limit' : 'skip'} must be an integer`);
  if (positive && n <= 0) throw location(15958, 'the limit must be positive');
  if (n < 0) throw location(15956, 'the skip must be positive');
  return n;
}

function compileUnwind(spec: unknown): Stage {
  const opts = isPlainObject(spec) ? spec : { path: spec };
  const path = opts.path;
  if (typeof path !== 'string' || !path.startsWith('$')) {
    throw location(28818, `path option to $unwind stage should be prefixed with a '$': ${String(path)}`);
  }
  const parts = path.slice(1).split('.');
  const preserve = opts.preserveNullAndEmptyArrays === true;
  const indexField = typeof opts.includeArrayIndex === 'string' ? opts.includeArrayIndex : null;
  return (docs) => {
    const out: Doc[] = [];
    for (const doc of docs) {
      const v = readTop(doc, parts);
      if (isArray(v) && v.length > 0) {
        v.forEach((el, i) => {
          let d = setField(doc, parts, 0, el);
          if (indexField) d = setField(d, indexField.split('.'), 0, i);
          out.push(d);
        });
      } else if (v !== undefined && v !== null && !isArray(v)) {
        out.push(indexField ? setField(doc, indexField.split('.'), 0, null) : doc);
      } else if (preserve) {
        let d = isArray(v) ? setField(doc, parts, 0, undefined) : doc;
        if (indexField) d = setField(d, indexField.split('.'), 0, null);
        out.push(d);
      }
    }
    return out;
  };
}

function perDoc(fn: (doc: Doc) => Doc): Stage {
  return (docs) => docs.map(fn);
}

function compileStage(spec: Doc, ctx: PipelineContext): Stage {
  if (!isPlainObject(spec))
    throw location(40323, 'A pipeline stage specification object must contain exactly one field.');
  const name = stageName(spec);
  const arg = spec[name];
  switch (name) {
    case '$match': {
      if (!isPlainObject(arg)) throw location(15959, 'the match filter must be an expression in an object');
      if (hasTextQuery(arg)) throw location(17313, '$match with $text is only allowed as the first pipeline stage');
      const pred = compileFilter(arg, { collation: ctx.collation ?? null, vars: ctx.vars });
      return (docs) => docs.filter(pred);
    }
    case '$lookup':
      return compileLookup(arg, ctx);
    case '$facet':
      return compileFacet(arg, ctx);
    case '$documents':
      throw location(40602, '$documents is only valid as the first stage in a pipeline');
    case '$out':
    case '$merge':
      throw location(40601, `${name} can only be the final stage in the pipeline`);
    case '$project':
      if (!isPlainObject(arg)) throw location(15969, '$project specification must be an object');
      return perDoc(compileProjectionMode(arg, 'aggregate', ctx.vars || ctx.textScores ? exprOptions(ctx) : undefined));
    case '$addFields':
    case '$set':
      return perDoc(compileAddFields(arg, ctx, name));
    case '$unset':
      return perDoc(compileUnset(arg));
    case '$replaceRoot': {
      if (!isPlainObject(arg) || !('newRoot' in arg))
        throw location(40231, 'no newRoot specified for the $replaceRoot stage');
      return perDoc(compileReplaceRoot(arg.newRoot, ctx));
    }
    case '$replaceWith':
      return perDoc(compileReplaceRoot(arg, ctx));
    case '$sort': {
      if (!isPlainObject(arg) || Object.keys(arg).length === 0)
        throw location(15976, '$sort stage must have at least one sort key');
      parseSort(arg);
      const collation = ctx.collation ?? null;
      const textScores = ctx.textScores;
      return (docs) => sortDocuments(docs, arg, collation, textScores);
    }
    case '$skip': {
      const n = nonNegativeInteger(name, arg, false);
      return (docs) => docs.slice(n);
    }
    case '$limit': {
      const n = nonNegativeInteger(name, arg, true);
      return (docs) => docs.slice(0, n);
    }
    case '$group':
      return compileGroup(arg, ctx);
    case '$count': {
      if (typeof arg !== 'string' || arg === '') throw location(40156, 'the count field must be a non-empty string');
      if (arg.startsWith('$')) throw location(40158, 'the count field cannot be a $-prefixed path');
      if (arg.includes('.')) throw location(40160, "the count field cannot contain '.'");
      return (docs) => (docs.length === 0 ? [] : [{ [arg]: new Int32(docs.length) }]);
    }
    case '$unwind':
      return compileUnwind(arg);
    case '$sortByCount': {
      const group = compileGroup({ _id: arg, count: { $sum: new Int32(1) } }, ctx);
      const cmp = compileSort({ count: -1 });
      return (docs) => group(docs).sort(cmp);
    }
    default:
      if (UNSUPPORTED_STAGES.has(name)) {
        throw new MongoServerError(115, 'CommandNotSupported', `${name} is not supported by this engine`);
      }
      throw location(40324, `Unrecognized pipeline stage name: '${name}'`);
  }
}

/** Stages mongod 7.0 knows that this engine does not run: refused as unsupported, not as unknown. */
const UNSUPPORTED_STAGES = new Set([
  '$bucket',
  '$bucketAuto',
  '$changeStreamSplitLargeEvent',
  '$collStats',
  '$currentOp',
  '$densify',
  '$fill',
  '$geoNear',
  '$graphLookup',
  '$indexStats',
  '$listLocalSessions',
  '$listSessions',
  '$listSampledQueries',
  '$listSearchIndexes',
  '$planCacheStats',
  '$redact',
  '$sample',
  '$search',
  '$searchMeta',
  '$setWindowFields',
  '$shardedDataDistribution',
  '$unionWith',
  '$vectorSearch',
]);

function compileLookup(spec: unknown, ctx: PipelineContext): Stage {
  if (!isPlainObject(spec)) throw location(40319, 'the $lookup stage specification must be an object');
  for (const k of Object.keys(spec)) {
    if (!['from', 'as', 'localField', 'foreignField', 'let', 'pipeline'].includes(k)) {
      throw location(5858400, `unknown argument to $lookup: ${k}`);
    }
  }
  const { from, as, localField, foreignField } = spec;
  if (typeof from !== 'string') {
    if (isPlainObject(from)) {
      throw new MongoServerError(
        115,
        'CommandNotSupported',
        '$lookup from another database is not supported by this engine',
      );
    }
    throw failedToParse("$lookup requires 'from' to be a string");
  }
  if (typeof as !== 'string' || as === '') throw failedToParse("must specify 'as' field for a $lookup");
  const hasEquality = localField !== undefined || foreignField !== undefined;
  if (hasEquality && (typeof localField !== 'string' || typeof foreignField !== 'string')) {
    throw failedToParse("$lookup requires both or neither of 'localField' and 'foreignField' to be specified");
  }
  const letSpec = spec.let ?? {};
  if (!isPlainObject(letSpec)) throw failedToParse("$lookup argument 'let' must be an object");
  for (const [name, expr] of Object.entries(letSpec)) {
    if (!/^[a-z][A-Za-z0-9_]*$/.test(name))
      throw location(16867, `'${name}' starts with an invalid character for a user variable name`);
    evaluateExpression(expr, {}, { validateOnly: true });
  }
  const sub = spec.pipeline;
  if (sub !== undefined && !(isArray(sub) && sub.every(isPlainObject))) {
    throw failedToParse("$lookup argument 'pipeline' must be an array");
  }
  if (!hasEquality && sub === undefined) {
    throw failedToParse("$lookup requires either 'pipeline' or both 'localField' and 'foreignField' to be specified");
  }
  const subStages = sub ?? [];
  for (const stage of subStages) {
    const stageKey = Object.keys(stage)[0];
    if (stageKey === '$out' || stageKey === '$merge')
      throw location(51047, `${stageKey} is not allowed within a $lookup's sub-pipeline`);
  }
  const letNames = Object.keys(letSpec);
  // Without `let`, the sub-pipeline is the same for every document: compile it once.
  const fixed = letNames.length === 0 ? compilePipeline(subStages, ctx) : null;
  const opts = exprOptions(ctx);
  const asParts = as.split('.');
  return (docs) => {
    const foreign = ctx.resolveCollection ? ctx.resolveCollection(from) : [];
    const join = hasEquality ? equalityJoin(foreign, foreignField as string, ctx.collation ?? null) : null;
    return docs.map((doc) => {
      let candidates = foreign;
      if (join) {
        const local = getPathValues(doc, localField as string).flatMap((v) => (isArray(v) ? v : [v]));
        candidates = join(local.length > 0 ? local.filter((v) => !isRegex(v)) : [null]);
      }
      let run = fixed;
      if (!run) {
        const vars: Record<string, unknown> = { ...(ctx.vars ?? {}) };
        for (const name of letNames) vars[name] = evaluateExpression(letSpec[name], doc, opts) ?? null;
        run = compilePipeline(subStages, { ...ctx, vars });
      }
      return setField(doc, asParts, 0, run(candidates));
    });
  };
}

/**
 * The foreign documents whose `foreignField` equals one of the local values (an array field by any element; null
 * also matches a missing field), in their natural order. Without a collation the foreign side is hashed once per
 * stage run; under one, each lookup is a filtered scan.
 */
function equalityJoin(
  foreign: Doc[],
  foreignField: string,
  collation: Collation | null,
): (localValues: unknown[]) => Doc[] {
  if (collation) {
    return (localValues) => foreign.filter(compileFilter({ [foreignField]: { $in: localValues } }, { collation }));
  }
  const byKey = new Map<string, number[]>();
  foreign.forEach((doc, i) => {
    // An empty array yields `undefined`: it equals no local value (null matches only null and missing).
    const values = getIndexKeyValues(doc, foreignField).filter((v) => v !== undefined);
    const keys = new Set(values.map(canonicalKey));
    for (const k of keys) {
      const list = byKey.get(k);
      if (list) list.push(i);
      else byKey.set(k, [i]);
    }
  });
  return (localValues) => {
    const hits = new Set<number>();
    for (const v of localValues) for (const i of byKey.get(canonicalKey(v ?? null)) ?? []) hits.add(i);
    return [...hits].sort((a, b) => a - b).map((i) => foreign[i] as Doc);
  };
}

function isRegex(v: unknown): boolean {
  return (
    v instanceof RegExp ||
    (typeof v === 'object' && v !== null && (v as { _bsontype?: string })._bsontype === 'BSONRegExp')
  );
}

function compileFacet(spec: unknown, ctx: PipelineContext): Stage {
  if (!isPlainObject(spec) || Object.keys(spec).length === 0) {
    throw location(15947, 'the $facet specification must be a non-empty object');
  }
  const facets: [string, (docs: Doc[]) => Doc[]][] = [];
  for (const [name, sub] of Object.entries(spec)) {
    if (!isArray(sub) || !sub.every(isPlainObject)) {
      throw location(40170, `arguments to $facet must be arrays, ${name} is type ${bsonTypeName(sub)}`);
    }
    if (sub.length === 0) throw location(40171, `sub-pipeline in $facet stage cannot be empty: ${name}`);
    for (const stage of sub) {
      const stageKey = Object.keys(stage)[0] ?? '';
      if (['$out', '$merge', '$facet', '$changeStream', '$documents', '$collStats', '$indexStats'].includes(stageKey)) {
        throw location(40600, `${stageKey} is not allowed to be used within a $facet stage`);
      }
    }
    facets.push([name, compilePipeline(sub, ctx)]);
  }
  return (docs) => {
    const out: Doc = {};
    for (const [name, run] of facets) out[name] = run(docs);
    return [out];
  };
}

/** Compiles a pipeline once; the result runs it over an array of documents. */
export function compilePipeline(pipeline: Doc[], ctx: PipelineContext = {}): (docs: Doc[]) => Doc[] {
  if (!isArray(pipeline)) throw badValue("'pipeline' option must be specified as an array");
  const stages = pipeline.map((s) => compileStage(s, ctx));
  const run = (docs: Doc[]): Doc[] => {
    let cur = docs;
    for (const s of stages) cur = s(cur);
    return cur;
  };
  // Expressions and accumulators compare strings too ($eq, $min, $in...): the whole run is under the collation.
  const collation = ctx.collation ?? null;
  return collation ? (docs) => withCollation(collation, () => run(docs)) : run;
}

/**
 * Runs an aggregation pipeline over documents ($match $project $addFields/$set $unset $sort $skip $limit $group
 * $count $replaceRoot $replaceWith $unwind $sortByCount). Unknown stages throw 40324.
 */
export function runPipeline(docs: Iterable<Doc>, pipeline: Doc[], ctx: PipelineContext = {}): Doc[] {
  return compilePipeline(pipeline, ctx)(Array.from(docs));
}

const UPDATE_STAGES = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith']);

/** Runs a pipeline-style update on one document; only the stages MongoDB allows in updates. */
export function runUpdatePipeline(doc: Doc, pipeline: Doc[], ctx: PipelineContext): Doc {
  for (const stage of pipeline) {
    if (!isPlainObject(stage))
      throw location(40323, 'A pipeline stage specification object must contain exactly one field.');
    const name = stageName(stage);
    if (!UPDATE_STAGES.has(name)) {
      throw new MongoServerError(72, 'InvalidOptions', `${name} is not allowed to be used within an update`);
    }
  }
  const out = compilePipeline(pipeline, ctx)([doc]);
  return out[0] ?? {};
}
