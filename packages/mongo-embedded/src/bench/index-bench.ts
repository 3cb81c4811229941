/**
 * Micro-benchmark of one index's ordered structure at a million entries: the B+tree the engine uses against the
 * sorted array (binary search + splice) it replaced, on the same entries and comparison (a `{ updated_at, _id }` key
 * as the order list's index has), and against the floors of this machine: one `Array.prototype.sort` of the entries
 * and `Map.set` of new keys (a hash with no order at all). Insert and delete at random positions, a page of 500 read
 * forwards and backwards from a random key, an equality count, and a build from unsorted entries. Figures are CPU
 * time, not wall time (see `time`).
 *
 *   node --expose-gc --import tsx packages/mongo-embedded/src/bench/index-bench.ts [entries=1000000] [ops=5000]
 *
 * Results: bench/results/engine-index.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compareValues } from '../query/index.js';
import { BPlusTree } from '../storage/btree.js';
import { compareEntries, type IndexEntry } from '../storage/indexes.js';

const ENTRIES = Number(process.argv[2] ?? '1000000');
const OPS = Number(process.argv[3] ?? '5000');
const PAGE = 500;
const RESULTS = fileURLToPath(new URL('../../../../bench/results/', import.meta.url));
const BASE = Date.UTC(2026, 0, 1);

/** Entries before the first whose leading component is ≥ `value`. */
const before =
  (value: unknown) =>
  (entry: IndexEntry): boolean =>
    compareValues(entry.key[0], value) < 0;

/** The previous structure: one array kept sorted by binary search and `splice`. */
class SortedArray {
  constructor(readonly entries: IndexEntry[]) {}

  insert(entry: IndexEntry): void {
    this.entries.splice(
      this.position((x) => compareEntries(x, entry) < 0),
      0,
      entry,
    );
  }

  delete(entry: IndexEntry): void {
    const at = this.position((x) => compareEntries(x, entry) < 0);
    const found = this.entries[at];
    if (found && compareEntries(found, entry) === 0) this.entries.splice(at, 1);
  }

  position(isBefore: (entry: IndexEntry) => boolean): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (isBefore(this.entries[mid]!)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function entryAt(i: number): IndexEntry {
  // Timestamps one second apart with a few ties, as orders written in bursts have.
  return { key: [new Date(BASE + Math.floor(i / 3) * 1000), i], id: `${i}` };
}

function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Math.round(process.memoryUsage().heapUsed / 2 ** 20);
}

function usPer(ms: number, count: number): number {
  return Math.round((ms * 1000 * 100) / count) / 100;
}

/**
 * CPU milliseconds of this process (garbage collector threads included) spent in `run`: on a machine shared with
 * other jobs, wall time mostly measures how long the process waited for a core.
 */
function time(run: () => void): number {
  const started = process.cpuUsage();
  run();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

// Even ids are loaded; the odd ones are what the insert phase adds at random positions.
const loaded = Array.from({ length: ENTRIES }, (_, i) => entryAt(i * 2));
const extra = shuffled(
  Array.from({ length: OPS }, (_, i) => entryAt(1 + 2 * Math.floor((i * ENTRIES) / OPS))),
  7,
);
const probes = shuffled(
  Array.from({ length: 200 }, (_, i) => new Date(BASE + Math.floor((i * ENTRIES * 2) / 200 / 3) * 1000)),
  11,
);

const heapBefore = heapMb();
const unsorted = shuffled([...loaded], 3);
const sortMs = time(() => unsorted.sort(compareEntries));
const array = new SortedArray(unsorted);
const heapArray = heapMb();

const tree = new BPlusTree<IndexEntry>(compareEntries);
const shuffledForTree = shuffled([...loaded], 3);
const treeBuildMs = time(() => tree.load(shuffledForTree.sort(compareEntries)));
shuffledForTree.length = 0;
const heapTree = heapMb();

const results: Record<string, unknown> = { entries: ENTRIES, ops: OPS, node: process.version };
results.build = { sortMs: Math.round(sortMs), treeSortAndLoadMs: Math.round(treeBuildMs) };

const arrayInsertMs = time(() => {
  for (const entry of extra) array.insert(entry);
});
const treeInsertMs = time(() => {
  for (const entry of extra) tree.insert(entry);
});
const map = new Map<string, IndexEntry>(loaded.map((entry) => [entry.id, entry]));
const mapSetMs = time(() => {
  for (const entry of extra) map.set(entry.id, entry);
});
results.insertUs = {
  sortedArray: usPer(arrayInsertMs, OPS),
  bPlusTree: usPer(treeInsertMs, OPS),
  mapSetFloor: usPer(mapSetMs, OPS),
};

let arrayRead = 0;
const arrayScanMs = time(() => {
  for (const probe of probes) {
    const at = array.position(before(probe));
    for (let i = at; i < at + PAGE && i < array.entries.length; i++) arrayRead += array.entries[i]!.id.length;
    for (let i = at - 1; i >= at - PAGE && i >= 0; i--) arrayRead += array.entries[i]!.id.length;
  }
});
let treeRead = 0;
const treeScanMs = time(() => {
  for (const probe of probes) {
    let n = 0;
    for (const entry of tree.ascending(before(probe))) {
      if (++n > PAGE) break;
      treeRead += entry.id.length;
    }
    n = 0;
    for (const entry of tree.descending(before(probe))) {
      if (++n > PAGE) break;
      treeRead += entry.id.length;
    }
  }
});
if (arrayRead !== treeRead) throw new Error(`the two structures read different pages: ${arrayRead} ≠ ${treeRead}`);
results.pageOf500BothWaysUs = {
  sortedArray: usPer(arrayScanMs, probes.length),
  bPlusTree: usPer(treeScanMs, probes.length),
};

const arrayCountMs = time(() => {
  for (const probe of probes) {
    const after = (entry: IndexEntry): boolean => compareValues(entry.key[0], probe) <= 0;
    arrayRead += array.position(after) - array.position(before(probe));
  }
});
const treeCountMs = time(() => {
  for (const probe of probes) {
    const after = (entry: IndexEntry): boolean => compareValues(entry.key[0], probe) <= 0;
    treeRead += tree.rank(after) - tree.rank(before(probe));
  }
});
results.countEqualUs = {
  sortedArray: usPer(arrayCountMs, probes.length),
  bPlusTree: usPer(treeCountMs, probes.length),
};

const arrayDeleteMs = time(() => {
  for (const entry of extra) array.delete(entry);
});
const treeDeleteMs = time(() => {
  for (const entry of extra) tree.delete(entry);
});
results.deleteUs = { sortedArray: usPer(arrayDeleteMs, OPS), bPlusTree: usPer(treeDeleteMs, OPS) };
if (array.entries.length !== tree.size) throw new Error('the two structures disagree on their size');

results.structureHeapMb = {
  sortedArray: heapArray - heapBefore,
  bPlusTree: heapTree - heapArray,
  treeHeight: tree.height,
};

process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
await mkdir(RESULTS, { recursive: true });
await writeFile(
  `${RESULTS}engine-index.json`,
  `${JSON.stringify({ ranAt: new Date().toISOString(), ...results }, null, 2)}\n`,
);
