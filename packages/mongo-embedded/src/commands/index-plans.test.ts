import {
  BSONRegExp,
  type CollationOptions,
  type Collection,
  type Db,
  type Document,
  type Filter,
  type IndexDescription,
} from 'mongodb';
import { describe, expect, it } from 'vitest';
import { errorOf, useEngine, type TestDoc } from '../test-support/harness.js';

// Index plans for prefix regexes, missing fields and $or, as mongod makes them: written against the driver only, so
// they hold for mongod too. The reference for every result is the same query on a copy of the data with no index.

const engine = useEngine('plans');

interface ExplainReply {
  queryPlanner: { winningPlan: Document };
  executionStats: { nReturned: number; totalDocsExamined: number; totalKeysExamined: number };
}

type Doc = TestDoc;

async function explain(coll: Collection<Doc>, filter: Filter<Doc>, sort?: Document, limit?: number) {
  let cursor = coll.find(filter);
  if (sort) cursor = cursor.sort(sort);
  if (limit) cursor = cursor.limit(limit);
  return (await cursor.explain('executionStats')) as unknown as ExplainReply;
}

/** Every stage name of a plan tree. */
function stagesOf(plan: Document): string[] {
  const inner = [
    ...(plan.inputStage ? [plan.inputStage as Document] : []),
    ...((plan.inputStages ?? []) as Document[]),
  ];
  return [String(plan.stage), ...inner.flatMap(stagesOf)];
}

/** The index names a plan tree scans. */
function indexesOf(plan: Document): string[] {
  const inner = [
    ...(plan.inputStage ? [plan.inputStage as Document] : []),
    ...((plan.inputStages ?? []) as Document[]),
  ];
  return [...(plan.stage === 'IXSCAN' ? [String(plan.indexName)] : []), ...inner.flatMap(indexesOf)];
}

/** Two collections holding `docs`: one with `indexes`, one without (the reference). */
async function indexedAndPlain(db: Db, docs: Doc[], indexes: IndexDescription[]) {
  const indexed = db.collection<Doc>('indexed');
  const plain = db.collection<Doc>('plain');
  await indexed.insertMany(docs.map((d) => ({ ...d })));
  await plain.insertMany(docs.map((d) => ({ ...d })));
  await indexed.createIndexes(indexes);
  return { indexed, plain };
}

async function idsOf(coll: Collection<Doc>, filter: Filter<Doc>, collation?: CollationOptions): Promise<number[]> {
  const docs = await coll.find(filter, { projection: { _id: 1 }, ...(collation ? { collation } : {}) }).toArray();
  return docs.map((d) => d._id).sort((a, b) => a - b);
}

const ASTRAL = '\u{1F600}';
const LAST = '\u{10FFFF}';

/** Values at the edges of a prefix's range, strings and not, as a field's value or an array's elements. */
const AWKWARD: unknown[] = [
  'glo',
  'glo\uffff',
  `glo${ASTRAL}`,
  `glo${LAST}`,
  'glp',
  'gln\uffff',
  'gl',
  'g',
  'glove',
  'Glove',
  'GLO',
  '',
  '\uffff',
  ASTRAL,
  `${ASTRAL}x`,
  LAST,
  `a${LAST}`,
  `a${LAST}b`,
  `a${LAST}${LAST}`,
  'b',
  'gl.o',
  'gl\no',
  '\nglo',
  'x\nglo',
  'a1',
  'a10',
  'a2',
  'a9',
  5,
  null,
  [],
  ['gloves', 'red'],
  ['red', 'glo\uffff'],
  [null],
  [[]],
  ['glo', 'glo'],
  [5, 'glp'],
  { x: 'glo' },
  new BSONRegExp('^glo', ''),
  new BSONRegExp('glo', 'i'),
  true,
];

/** The awkward values as `search`, plus a missing field, and the same under a nested array (`nested.t`). */
function awkwardDocs(): Doc[] {
  // Every third document also has an element without `t`, which matches `{ 'nested.t': null }`.
  const docs: Doc[] = AWKWARD.map((search, i) => ({
    _id: i,
    search,
    nested: i % 3 ? [{ t: search }] : [{ t: search }, {}],
  }));
  docs.push({ _id: 1000 }, { _id: 1001, nested: [] }, { _id: 1002, nested: [{ t: 'glo' }] }, { _id: 1003, nested: 5 });
  return docs;
}

const PREFIX_QUERIES: unknown[] = [
  new BSONRegExp('^glo', ''),
  new BSONRegExp('^glo\uffff', ''),
  new BSONRegExp(`^glo${ASTRAL}`, ''),
  new BSONRegExp(`^${ASTRAL}`, ''),
  new BSONRegExp(`^${LAST}`, ''),
  new BSONRegExp(`^a${LAST}`, ''),
  new BSONRegExp('^\uffff', ''),
  new BSONRegExp('^gl\\.o', ''),
  new BSONRegExp('^gl.o', ''),
  new BSONRegExp('^gl?o', ''),
  new BSONRegExp('^g+', ''),
  new BSONRegExp('^a1', ''),
  new BSONRegExp('^', ''),
  new BSONRegExp('^.*', ''),
  new BSONRegExp('^(a|g)', ''),
  new BSONRegExp('^glo|red', ''),
  new BSONRegExp('^glo', 'i'),
  new BSONRegExp('^glo', 'm'),
  new BSONRegExp('glo', ''),
  new BSONRegExp('^g l o', 'x'),
  { $regex: '^glo', $options: '' },
  { $regex: '^glo', $options: 's' },
  { $in: [new BSONRegExp('^glo', ''), 'b', null] },
  { $in: [new BSONRegExp(`^${ASTRAL}`, ''), new BSONRegExp('^a', '')] },
  null,
  { $exists: false },
  { $eq: null },
  { $not: new BSONRegExp('^glo', '') },
];

describe('prefix regexes, null and $exists: false through an index', () => {
  it('find the same documents with and without the index, for every field shape', async () => {
    const { indexed, plain } = await indexedAndPlain(engine.freshDb(), awkwardDocs(), [
      { key: { search: 1 }, name: 'search' },
      { key: { 'nested.t': 1 }, name: 'nested_t' },
    ]);
    for (const query of PREFIX_QUERIES) {
      for (const field of ['search', 'nested.t']) {
        const filter: Filter<Doc> = { [field]: query };
        expect({ field, query, ids: await idsOf(indexed, filter) }).toEqual({
          field,
          query,
          ids: await idsOf(plain, filter),
        });
        expect(await indexed.countDocuments(filter)).toBe(await plain.countDocuments(filter));
      }
    }
    // A regex ignores the query's collation, and the uncollated index still serves it.
    const caseless = { locale: 'en', strength: 2 };
    for (const filter of [{ search: /^glo/ }, { search: { $in: [/^gl/, 'GLO'] } }] as Filter<Doc>[]) {
      expect(await idsOf(indexed, filter, caseless)).toEqual(await idsOf(plain, filter, caseless));
    }
    // A conjunction of prefixes on one multikey field: each may match another element.
    const both: Filter<Doc> = { $and: [{ search: /^glo/ }, { search: /^red/ }] };
    expect(await idsOf(indexed, both)).toEqual([31, 32]);
    expect(await idsOf(indexed, both)).toEqual(await idsOf(plain, both));
    const distinct = await indexed.distinct('search', { search: /^gl/ });
    const reference = await plain.distinct('search', { search: /^gl/ });
    expect(distinct).toEqual(expect.arrayContaining(reference));
    expect(distinct.length).toBe(reference.length);
  });

  it('find the same documents with and without the index for generated strings and prefixes', async () => {
    // Characters at the edges of the string order: the last BMP one, an astral one, the last code point, a
    // metacharacter and a newline, among a few letters.
    const alphabet = ['g', 'l', 'o', 'p', '\uffff', ASTRAL, LAST, '.', '\n', '\ud7ff', '\ue000'];
    let seed = 42;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const word = (): string => Array.from({ length: next(5) }, () => alphabet[next(alphabet.length)]!).join('');
    const docs: Doc[] = Array.from({ length: 300 }, (_, i) => ({
      _id: i,
      search: i % 4 === 0 ? [word(), word()] : word(),
    }));
    const { indexed, plain } = await indexedAndPlain(engine.freshDb(), docs, [{ key: { search: 1 }, name: 'search' }]);
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (let i = 0; i < 60; i++) {
      const prefix = word();
      const filter: Filter<Doc> = { search: { $regex: `^${escape(prefix)}` } };
      const ids = await idsOf(indexed, filter);
      expect({ prefix, ids }).toEqual({ prefix, ids: await idsOf(plain, filter) });
    }
  });

  it('a sparse index serves a prefix but never a missing field; a collated one never serves a regex', async () => {
    const db = engine.freshDb();
    const { indexed, plain } = await indexedAndPlain(db, awkwardDocs(), [
      { key: { search: 1 }, name: 'search_sparse', sparse: true },
      { key: { 'nested.t': 1 }, name: 'nested_numeric', collation: { locale: 'en', numericOrdering: true } },
    ]);
    for (const filter of [
      { search: { $exists: false } },
      { search: null },
      { search: /^glo/ },
      { 'nested.t': /^a1/ },
      { 'nested.t': { $in: [/^a1/, /^gl/] } },
    ] as Filter<Doc>[]) {
      expect({ filter, ids: await idsOf(indexed, filter) }).toEqual({ filter, ids: await idsOf(plain, filter) });
    }
    // Under numeric ordering "a10" sorts after "a9": a binary range ["a1", "a2") there would miss it.
    expect(await idsOf(indexed, { 'nested.t': /^a1/ })).toEqual([24, 25]);
    const missing = await explain(indexed, { search: { $exists: false } });
    expect(indexesOf(missing.queryPlanner.winningPlan)).not.toContain('search_sparse');
    expect(missing.executionStats.nReturned).toBe(4);
  });
});

describe('malformed filters on an indexed field', () => {
  it('fail with the same errors as without the index, sorted and limited or not', async () => {
    const { indexed, plain } = await indexedAndPlain(engine.freshDb(), awkwardDocs(), [
      { key: { search: 1 }, name: 'search' },
      { key: { updated_at: -1, _id: -1 }, name: 'updated_at_desc_id_desc' },
    ]);
    const malformed: Document[] = [
      { search: { $regex: '^(' } },
      { search: { $regex: '^glo', $options: 'z' } },
      { search: { $regex: 5 } },
      { search: { $in: [{ $gt: 1 }] } },
      { $or: [] },
      { $or: [5] },
      { $and: [{ $or: [{ search: /^glo/ }, { search: { $exists: 'no', $bad: 1 } }] }] },
    ];
    for (const filter of malformed) {
      for (const sorted of [false, true]) {
        const run = (coll: Collection<Doc>) => {
          const cursor = coll.find(filter);
          return (sorted ? cursor.sort({ updated_at: -1, _id: -1 }).limit(5) : cursor).toArray();
        };
        const [withIndex, without] = [await errorOf(run(indexed)), await errorOf(run(plain))];
        expect({ filter, sorted, code: withIndex.code }).toEqual({ filter, sorted, code: without.code });
        expect(withIndex.code).toBeGreaterThan(0);
      }
    }
  });
});

/** Orders as the API stores them: `search` holds the terms of the names, a few orders from other clients lack it. */
function orders(n: number): Doc[] {
  const customers = ['Alice Martin', 'Bob Stone', 'Carla Diaz', 'Dan Reed', 'Eve Park'];
  const products = ['Winter gloves', 'Red scarf', 'Blue mug', 'Desk lamp', 'Tea set', 'Pen', 'Chair', 'Globe'];
  const statuses = ['pending', 'paid', 'shipped', 'delivered'];
  const docs: Doc[] = [];
  for (let i = 1; i <= n; i++) {
    const customer = customers[i % customers.length]!;
    // A rare product: 1 in 40 orders is gloves, 1 in 40 a globe.
    const product = i % 40 === 0 ? 'Winter gloves' : i % 40 === 20 ? 'Globe' : products[2 + (i % 5)]!;
    const terms = [...new Set(`${customer} ${product}`.toLowerCase().split(' '))];
    const doc: Doc = {
      _id: i,
      customer_name: customer,
      product_name: product,
      status: statuses[Math.floor(i / 7) % statuses.length],
      updated_at: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
    };
    // Orders from other clients: no search terms (one in 100, each a glove or a globe).
    if (i % 100 !== 20) doc.search = terms;
    docs.push(doc);
  }
  return docs;
}

const ORDER_INDEXES: IndexDescription[] = [
  { key: { updated_at: -1, _id: -1 }, name: 'updated_at_desc_id_desc' },
  { key: { status: 1 }, name: 'status' },
  { key: { search: 1 }, name: 'search' },
];

/** The API's search clause for words and an optional id (see the orders repository). */
function searchClause(words: string[], id: number | null): Filter<Doc> {
  const byTerms = { $and: words.map((w) => ({ search: { $regex: `^${w}` } })) };
  const wordStart = (w: string) => ({ $regex: `(?:^|[^\\p{L}\\p{N}])${w}`, $options: 'iu' });
  const byNames = {
    $and: [
      { search: { $exists: false } },
      ...words.map((w) => ({ $or: [{ customer_name: wordStart(w) }, { product_name: wordStart(w) }] })),
    ],
  };
  return { $or: [...(id === null ? [] : [{ _id: id }]), byTerms, byNames] };
}

describe('the dashboard search through indexes', () => {
  const N = 2000;
  const setup = async () => indexedAndPlain(engine.freshDb(), orders(N), ORDER_INDEXES);
  const withGlo = (docs: Doc[]) =>
    docs.filter((d) => Array.isArray(d.search) && (d.search as string[]).some((t) => t.startsWith('glo'))).length;
  const withoutTerms = (docs: Doc[]) => docs.filter((d) => d.search === undefined).length;

  it('answers an anchored prefix from the search index, fetching only the documents whose terms start with it', async () => {
    const { indexed, plain } = await setup();
    const reply = await explain(indexed, { search: /^glo/ });
    expect(reply.queryPlanner.winningPlan).toMatchObject({ stage: 'FETCH', inputStage: { stage: 'IXSCAN' } });
    expect(indexesOf(reply.queryPlanner.winningPlan)).toEqual(['search']);
    const expected = withGlo(orders(N));
    expect(reply.executionStats.nReturned).toBe(expected);
    expect(reply.executionStats.totalDocsExamined).toBeLessThanOrEqual(expected);
    expect(await idsOf(indexed, { search: /^glo/ })).toEqual(await idsOf(plain, { search: /^glo/ }));
  });

  it('plans the API-shaped $or (id, terms, missing terms) as an OR of index scans, with the same results', async () => {
    const { indexed, plain } = await setup();
    const filter: Filter<Doc> = {
      $and: [{ status: { $in: ['pending', 'shipped', 'paid'] } }, searchClause(['glo'], 1042)],
    };
    const reply = await explain(indexed, filter);
    const plan = reply.queryPlanner.winningPlan;
    expect(stagesOf(plan)).not.toContain('COLLSCAN');
    expect(stagesOf(plan)).toContain('OR');
    expect(new Set(indexesOf(plan))).toEqual(new Set(['_id_', 'search']));
    expect(reply.executionStats.totalDocsExamined).toBeLessThan(N / 10);
    const ids = await idsOf(indexed, filter);
    expect(ids).toEqual(await idsOf(plain, filter));
    // The id, the gloves and globes with those statuses, and orders from other clients that name them.
    expect(ids).toContain(1042);
    expect(ids).toContain(1040);
    expect(ids).toContain(1020);
    expect(await indexed.countDocuments(filter)).toBe(ids.length);
    const counted = await indexed
      .aggregate([{ $match: filter }, { $group: { _id: 1, n: { $sum: 1 } } }])
      .explain('executionStats');
    const cursorPlan = (counted.stages as Document[] | undefined)?.[0]?.$cursor as Document | undefined;
    expect(stagesOf((cursorPlan?.queryPlanner as Document).winningPlan as Document)).not.toContain('COLLSCAN');
    const countExplain = await engine.client
      .db(indexed.dbName)
      .command({ explain: { count: indexed.collectionName, query: filter }, verbosity: 'executionStats' });
    expect(stagesOf((countExplain.queryPlanner as Document).winningPlan as Document)).not.toContain('COLLSCAN');
    const statuses = await indexed.distinct('status', filter);
    expect(statuses.sort()).toEqual((await plain.distinct('status', filter)).sort());
  });

  it('falls back to a scan for regexes without tight bounds, with the same results', async () => {
    const { indexed, plain } = await setup();
    const withTerms = orders(N).filter((d) => Array.isArray(d.search)).length;
    for (const regex of [/^glo/i, /^glo/m, /glo/, /lobe/]) {
      const reply = await explain(indexed, { search: regex });
      expect(await idsOf(indexed, { search: regex })).toEqual(await idsOf(plain, { search: regex }));
      // No prefix range: every document holding a term has to be read, through the index or the collection.
      expect(reply.executionStats.totalDocsExamined).toBeGreaterThanOrEqual(withTerms);
    }
  });

  it('returns the newest page of a rare search reading few documents, and of no search reading about a page', async () => {
    const { indexed, plain } = await setup();
    const sort = { updated_at: -1, _id: -1 } as const;
    const filter: Filter<Doc> = { $and: [{ status: { $in: ['paid', 'delivered'] } }, searchClause(['glo'], null)] };
    // A page of 50, as the dashboard reads (it reads 500): a few more matches than the search has in this book.
    const page = await indexed.find(filter).sort(sort).limit(50).toArray();
    expect(page).toEqual(await plain.find(filter).sort(sort).limit(50).toArray());
    expect(page.length).toBe(Math.min(50, await plain.countDocuments(filter)));
    expect(page.length).toBeGreaterThan(20);
    const searched = await explain(indexed, filter, sort, 50);
    // The OR plan reads the orders with a glo term and those without terms, not the whole index in date order.
    expect(searched.executionStats.totalDocsExamined).toBeLessThanOrEqual(withGlo(orders(N)) + withoutTerms(orders(N)));

    const broad: Filter<Doc> = { status: { $in: ['pending', 'paid', 'shipped'] } };
    const newest = await indexed.find(broad).sort(sort).limit(50).toArray();
    expect(newest).toEqual(await plain.find(broad).sort(sort).limit(50).toArray());
    const walked = await explain(indexed, broad, sort, 50);
    expect(walked.executionStats.totalDocsExamined).toBeLessThanOrEqual(100);
  });
});
