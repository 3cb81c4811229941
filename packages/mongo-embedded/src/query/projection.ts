import { badValue, location, type Doc } from './errors.js';
import { evaluateExpression, type ExpressionOptions } from './expression.js';
import { positionalMatch, valueAtPath, withValueAt } from './positional.js';
import type { TextScores } from './text.js';
import { compileFilter } from './filter.js';
import { isPlainObject, isNumber, toDouble, isArray } from './values.js';

type Leaf =
  | { kind: 'include' }
  | { kind: 'exclude' }
  | { kind: 'expr'; expr: unknown }
  | { kind: 'slice'; skip: number | null; limit: number }
  | { kind: 'elemMatch'; pred: (doc: Doc) => boolean };

interface Tree {
  fields: Map<string, Tree | Leaf>;
}

function isTree(n: Tree | Leaf): n is Tree {
  return 'fields' in n;
}

type Mode = 'find' | 'aggregate';

function parseSlice(arg: unknown, path: string): Leaf {
  if (isNumber(arg)) return { kind: 'slice', skip: null, limit: Math.trunc(toDouble(arg)) };
  if (isArray(arg) && arg.length === 2 && isNumber(arg[0]) && isNumber(arg[1])) {
    const limit = Math.trunc(toDouble(arg[1]));
    if (limit <= 0) throw badValue(`$slice limit must be positive`);
    return { kind: 'slice', skip: Math.trunc(toDouble(arg[0])), limit };
  }
  throw location(
    28667,
    `Invalid $slice syntax. The given syntax { $slice: ${JSON.stringify(arg)} } did not match the find() syntax because :: Location31273: $slice only supports numbers and [skip, limit] arrays :: The given syntax did not match the expression $slice syntax. (path ${path})`,
  );
}

function classify(value: unknown, path: string, mode: Mode): Tree | Leaf {
  if (typeof value === 'boolean') return { kind: value ? 'include' : 'exclude' };
  if (isNumber(value)) return { kind: toDouble(value) !== 0 ? 'include' : 'exclude' };
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0)
      throw location(51270, `An empty sub-projection is not a valid value. Found empty object at path`);
    const first = keys[0] as string;
    if (first.startsWith('$')) {
      if (
        mode === 'find' &&
        first === '$slice' &&
        keys.length === 1 &&
        !(isArray(value.$slice) && typeof value.$slice[0] === 'string')
      ) {
        return parseSlice(value.$slice, path);
      }
      if (mode === 'find' && first === '$elemMatch') {
        if (path.includes('.')) throw location(31275, 'Cannot use $elemMatch projection on a nested field.');
        if (!isPlainObject(value.$elemMatch)) throw badValue('elemMatch: Invalid argument, object required.');
        return { kind: 'elemMatch', pred: compileFilter({ [path]: { $elemMatch: value.$elemMatch } }) };
      }
      evaluateExpression(value, {}, { validateOnly: true });
      return { kind: 'expr', expr: value };
    }
    const tree: Tree = { fields: new Map() };
    for (const k of keys) addPath(tree, k.split('.'), classify(value[k], `${path}.${k}`, mode), `${path}.${k}`);
    return tree;
  }
  return { kind: 'expr', expr: value };
}

function addPath(tree: Tree, parts: string[], node: Tree | Leaf, fullPath: string): void {
  let t = tree;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i] as string;
    const existing = t.fields.get(p);
    if (existing === undefined) {
      const child: Tree = { fields: new Map() };
      t.fields.set(p, child);
      t = child;
    } else if (isTree(existing)) t = existing;
    else throw location(31250, `Path collision at ${fullPath} remaining portion ${parts.slice(i + 1).join('.')}`);
  }
  const last = parts[parts.length - 1] as string;
  const existing = t.fields.get(last);
  if (existing !== undefined) {
    if (isTree(existing) && isTree(node)) {
      for (const [k, v] of node.fields) addPath(existing, [k], v, `${fullPath}.${k}`);
      return;
    }
    throw location(31250, `Path collision at ${fullPath}`);
  }
  t.fields.set(last, node);
}

/** Which projection kind a tree has: counts inclusions (incl. computed) and exclusions outside `_id`. */
function scan(
  tree: Tree,
  top: boolean,
  acc: { inc: string | null; exc: string | null; special: boolean },
  prefix: string,
): void {
  for (const [k, n] of tree.fields) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (top && k === '_id' && !isTree(n)) continue;
    if (isTree(n)) scan(n, false, acc, path);
    else if (n.kind === 'include' || n.kind === 'expr' || n.kind === 'elemMatch') acc.inc ??= path;
    else if (n.kind === 'exclude') acc.exc ??= path;
    else acc.special = true;
  }
}

function sliceArray(arr: unknown[], leaf: { skip: number | null; limit: number }): unknown[] {
  if (leaf.skip === null) {
    return leaf.limit >= 0 ? arr.slice(0, leaf.limit) : arr.slice(Math.max(0, arr.length + leaf.limit));
  }
  const start = leaf.skip < 0 ? Math.max(0, arr.length + leaf.skip) : leaf.skip;
  return arr.slice(start, start + leaf.limit);
}

function applyInclusion(value: Doc, tree: Tree, root: Doc, isTop: boolean, includeId: boolean): Doc {
  const out: Doc = {};
  if (isTop && includeId && value._id !== undefined) {
    const idNode = tree.fields.get('_id');
    if (idNode === undefined || !isTree(idNode)) out._id = value._id;
  }
  for (const key of Object.keys(value)) {
    if (isTop && key === '_id' && includeId && !tree.fields.has('_id')) continue;
    const node = tree.fields.get(key);
    if (node === undefined) continue;
    const v = value[key];
    if (isTree(node)) {
      const projected = projectSubtreeInclusion(v, node, root);
      if (projected !== undefined) out[key] = projected;
    } else if (node.kind === 'include') out[key] = v;
    else if (node.kind === 'slice') out[key] = isArray(v) ? sliceArray(v, node) : v;
  }
  // Computed and $elemMatch fields come after the kept fields, in specification order.
  for (const [key, node] of tree.fields) {
    if (isTree(node)) {
      if (!(key in value) && hasComputed(node)) out[key] = applyInclusion({}, node, root, false, false);
      continue;
    }
    if (node.kind === 'expr') {
      const r = evaluateExpression(node.expr, root, evaluationOptions);
      if (r !== undefined) out[key] = r;
    } else if (node.kind === 'elemMatch') {
      const arr = value[key];
      if (isArray(arr)) {
        const hit = arr.find((el) => node.pred({ [key]: [el] }));
        if (hit !== undefined) out[key] = [hit];
      }
    }
  }
  return out;
}

function hasComputed(tree: Tree): boolean {
  for (const n of tree.fields.values()) {
    if (isTree(n) ? hasComputed(n) : n.kind === 'expr') return true;
  }
  return false;
}

function projectSubtreeInclusion(v: unknown, node: Tree, root: Doc): unknown {
  if (isPlainObject(v)) return applyInclusion(v, node, root, false, false);
  if (isArray(v)) {
    const out: unknown[] = [];
    for (const el of v) {
      const r = projectSubtreeInclusion(el, node, root);
      if (r !== undefined) out.push(r);
    }
    return out;
  }
  return hasComputed(node) ? applyInclusion({}, node, root, false, false) : undefined;
}

function applyExclusion(value: Doc, tree: Tree): Doc {
  const out: Doc = {};
  for (const key of Object.keys(value)) {
    const node = tree.fields.get(key);
    const v = value[key];
    if (node === undefined) out[key] = v;
    else if (isTree(node)) out[key] = projectSubtreeExclusion(v, node);
    else if (node.kind === 'slice') out[key] = isArray(v) ? sliceArray(v, node) : v;
    else if (node.kind === 'include') out[key] = v;
  }
  return out;
}

function projectSubtreeExclusion(v: unknown, node: Tree): unknown {
  if (isPlainObject(v)) return applyExclusion(v, node);
  if (isArray(v)) return v.map((el) => projectSubtreeExclusion(el, node));
  return v;
}

/** Variables and clock of the projection being applied (set only while a projection with options runs). */
let evaluationOptions: ExpressionOptions | undefined;

/**
 * Compiles a projection for find (`mode: 'find'`, allowing `$slice`/`$elemMatch`) or a `$project` stage.
 * `options` carries `let` variables and `$$NOW` for computed fields.
 */
export function compileProjectionMode(
  projection: Doc,
  mode: Mode,
  options?: ExpressionOptions,
  query?: Doc,
): (doc: Doc) => Doc {
  const project = withPositional(projection, mode, query) ?? withMetaFields(projection, mode);
  if (!options) return project;
  return (doc) => {
    const previous = evaluationOptions;
    evaluationOptions = options;
    try {
      return project(doc);
    } finally {
      evaluationOptions = previous;
    }
  };
}

/**
 * The positional projection `{ 'items.$': 1 }`: the array keeps only the first element the query matched (the
 * element the positional update operator would pick), other fields follow the rest of the projection.
 */
function withPositional(projection: Doc, mode: Mode, query: Doc | undefined): ((doc: Doc) => Doc) | null {
  if (!isPlainObject(projection)) return null;
  const keys = Object.keys(projection).filter((k) => k === '$' || k.endsWith('.$'));
  const key = keys[0];
  if (key === undefined) return null;
  if (mode === 'aggregate') throw location(31324, 'Cannot use positional projection in aggregation projection');
  if (keys.length > 1) throw location(31276, 'Cannot specify more than one positional projection per query.');
  const arrayPath = key.slice(0, -2);
  if (arrayPath === '' || arrayPath.split('.').some((p) => p.startsWith('$'))) {
    throw badValue(`Invalid positional projection path: ${key}`);
  }
  const spec = projection[key];
  if (!(spec === true || (isNumber(spec) && toDouble(spec) !== 0))) {
    throw location(31395, 'positional projection cannot be used with exclusion');
  }
  const rest: Doc = {};
  for (const [k, v] of Object.entries(projection)) rest[k === key ? arrayPath : k] = k === key ? 1 : v;
  const inner = withMetaFields(rest, mode);
  const parts = arrayPath.split('.');
  return (doc) => {
    const pos = positionalMatch(query, doc, parts);
    if (pos === null) {
      throw location(
        51246,
        "Executor error during find command :: caused by :: positional operator '.$' couldn't find a matching element in the array",
      );
    }
    const element = (valueAtPath(doc, parts) as unknown[])[pos];
    return inner(withValueAt(doc, parts, 0, [element]) as Doc);
  };
}

/**
 * `{ score: { $meta: 'textScore' } }` neither includes nor excludes: the rest of the projection decides the shape
 * and the metadata fields are appended, as mongod does.
 */
function withMetaFields(projection: Doc, mode: Mode): (doc: Doc) => Doc {
  if (!isPlainObject(projection)) throw badValue('projection must be an object');
  const meta: [string, Doc][] = [];
  const rest: Doc = {};
  for (const [k, v] of Object.entries(projection)) {
    if (isPlainObject(v) && Object.keys(v).length === 1 && '$meta' in v) {
      evaluateExpression(v, {}, { validateOnly: true });
      meta.push([k, v]);
    } else rest[k] = v;
  }
  if (meta.length === 0) return compileProjectionTree(projection, mode);
  const base = Object.keys(rest).length > 0 ? compileProjectionTree(rest, mode) : (doc: Doc) => doc;
  return (doc) => {
    const out = { ...base(doc) };
    for (const [k, expr] of meta) {
      const v = evaluateExpression(expr, doc, evaluationOptions);
      if (v !== undefined) out[k] = v;
    }
    return out;
  };
}

function compileProjectionTree(projection: Doc, mode: Mode): (doc: Doc) => Doc {
  if (!isPlainObject(projection)) throw badValue('projection must be an object');
  const tree: Tree = { fields: new Map() };
  for (const [path, value] of Object.entries(projection)) {
    if (path === '') throw location(40352, 'FieldPath cannot be constructed with empty string');
    if (path.startsWith('$'))
      throw location(16410, `FieldPath field names may not start with '$'. Consider using $getField or $setField.`);
    addPath(tree, path.split('.'), classify(value, path, mode), path);
  }
  const acc = { inc: null as string | null, exc: null as string | null, special: false };
  scan(tree, true, acc, '');
  if (acc.inc !== null && acc.exc !== null) {
    // MongoDB names the field that broke the mode established by the first one.
    const firstInc = Object.keys(projection).findIndex((k) => k === acc.inc || acc.inc?.startsWith(`${k}.`));
    const firstExc = Object.keys(projection).findIndex((k) => k === acc.exc || acc.exc?.startsWith(`${k}.`));
    if (firstInc < firstExc) throw location(31254, `Cannot do exclusion on field ${acc.exc} in inclusion projection`);
    throw location(31253, `Cannot do inclusion on field ${acc.inc} in exclusion projection`);
  }
  const idNode = tree.fields.get('_id');
  const idExcluded = idNode !== undefined && !isTree(idNode) && idNode.kind === 'exclude';
  if (
    acc.inc !== null ||
    (idNode !== undefined &&
      !isTree(idNode) &&
      (idNode.kind === 'include' || idNode.kind === 'expr') &&
      acc.exc === null &&
      !acc.special)
  ) {
    if (mode === 'aggregate' && tree.fields.size === 0)
      throw location(51272, 'projection specification must have at least one field');
    return (doc) => applyInclusion(doc, tree, doc, true, !idExcluded);
  }
  if (tree.fields.size === 0) {
    if (mode === 'aggregate') throw location(51272, 'projection specification must have at least one field');
    return (doc) => doc;
  }
  return (doc) => applyExclusion(doc, tree);
}

/**
 * Compiles a find projection: inclusion or exclusion (not both, except `_id`), dotted paths, `$slice`,
 * `$elemMatch` and aggregation expressions for computed fields. `_id` is included unless excluded.
 */
export function compileProjection(
  projection: Doc,
  context: { vars?: Record<string, unknown> | undefined; textScores?: TextScores | undefined; query?: Doc } = {},
): (doc: Doc) => Doc {
  const { vars, textScores, query } = context;
  const options = vars || textScores ? { ...(vars ? { vars } : {}), ...(textScores ? { textScores } : {}) } : undefined;
  return compileProjectionMode(projection, 'find', options, query);
}
