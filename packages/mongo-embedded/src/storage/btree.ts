/**
 * An in-memory B+tree of distinct items under a total order: O(log n) insert, delete and rank, range scans forward
 * and backward from any position along linked leaves, and a bulk load from sorted items that builds the tree in
 * O(n). Inner nodes keep their subtree sizes, so counting the items between two positions is two descents, not a
 * scan. Small nodes keep every write to a few hundred pointer moves, where a sorted array moves half the index.
 */

/** Whether an item lies strictly before the position sought; must be monotone over the tree's order. */
export type Before<T> = (item: T) => boolean;

interface Leaf<T> {
  leaf: true;
  items: T[];
  next: Leaf<T> | null;
  prev: Leaf<T> | null;
}

interface Inner<T> {
  leaf: false;
  /** keys[i] separates children[i] and children[i + 1]: every item of children[i] < keys[i] ≤ every item after. */
  keys: T[];
  children: Node<T>[];
  /** Items in this subtree. */
  size: number;
}

type Node<T> = Leaf<T> | Inner<T>;

function sizeOf<T>(node: Node<T>): number {
  return node.leaf ? node.items.length : node.size;
}

/** Items per node at most; a node holds at least half of it (but the root). */
const DEFAULT_ORDER = 64;

export class BPlusTree<T> {
  private root: Node<T> = { leaf: true, items: [], next: null, prev: null };
  private readonly max: number;
  private readonly min: number;
  /** Changes on every insert and delete, so an iteration interrupted by writes re-seeks instead of walking stale leaves. */
  private version = 0;

  /** `compare` orders items totally; items comparing equal are the same item (a set, not a multiset). */
  constructor(
    private readonly compare: (a: T, b: T) => number,
    order = DEFAULT_ORDER,
  ) {
    if (!Number.isInteger(order) || order < 4) throw new RangeError('order must be an integer ≥ 4');
    this.max = order;
    this.min = order >> 1;
  }

  get size(): number {
    return sizeOf(this.root);
  }

  /** Levels from the root to the leaves (1 for a tree that is one leaf). */
  get height(): number {
    let h = 1;
    for (let node = this.root; !node.leaf; node = node.children[0]!) h++;
    return h;
  }

  clear(): void {
    this.root = { leaf: true, items: [], next: null, prev: null };
    this.version++;
  }

  /** Replaces the contents with `sorted` (strictly ascending, not checked beyond a debug-free trust), in O(n). */
  load(sorted: readonly T[]): void {
    this.version++;
    if (sorted.length === 0) {
      this.clear();
      return;
    }
    const leafCount = this.groups(sorted.length);
    let level: Node<T>[] = [];
    let firsts: T[] = [];
    let prev: Leaf<T> | null = null;
    for (let i = 0; i < leafCount; i++) {
      // Spread the items evenly so that the last leaf is not underfull.
      const from = Math.floor((i * sorted.length) / leafCount);
      const to = Math.floor(((i + 1) * sorted.length) / leafCount);
      const leaf: Leaf<T> = { leaf: true, items: sorted.slice(from, to), next: null, prev };
      if (prev) prev.next = leaf;
      prev = leaf;
      level.push(leaf);
      firsts.push(sorted[from]!);
    }
    while (level.length > 1) {
      const count = this.groups(level.length);
      const next: Node<T>[] = [];
      const nextFirsts: T[] = [];
      for (let i = 0; i < count; i++) {
        const from = Math.floor((i * level.length) / count);
        const to = Math.floor(((i + 1) * level.length) / count);
        const children = level.slice(from, to);
        let size = 0;
        for (const child of children) size += sizeOf(child);
        next.push({ leaf: false, keys: firsts.slice(from + 1, to), children, size });
        nextFirsts.push(firsts[from]!);
      }
      level = next;
      firsts = nextFirsts;
    }
    this.root = level[0]!;
  }

  /**
   * How many nodes a bulk load spreads `n` entries over: filled to three quarters, so random inserts after a load do
   * not split every leaf at once, and never below half (two nodes of 24 would be underfull where one of 48 fits).
   */
  private groups(n: number): number {
    const count = Math.ceil(n / Math.max(this.min, Math.floor((this.max * 3) / 4)));
    return count > 1 && Math.floor(n / count) < this.min ? Math.max(1, Math.floor(n / this.min)) : count;
  }

  /** Whether an item equal to `item` is stored. */
  has(item: T): boolean {
    return this.find(item) !== undefined;
  }

  /** The stored item equal to `item`, if any. */
  find(item: T): T | undefined {
    const { leaf, at } = this.seek((x) => this.compare(x, item) < 0);
    const found = at < leaf.items.length ? leaf.items[at] : leaf.next?.items[0];
    return found !== undefined && this.compare(found, item) === 0 ? found : undefined;
  }

  /** Adds `item`; false (and nothing changes) when an equal item is already stored. */
  insert(item: T): boolean {
    const split = this.insertInto(this.root, item);
    if (split === false) return false;
    this.version++;
    if (split) {
      const old = this.root;
      this.root = {
        leaf: false,
        keys: [split.key],
        children: [old, split.node],
        size: sizeOf(old) + sizeOf(split.node),
      };
    }
    return true;
  }

  /** Removes the item equal to `item`; false when there is none. */
  delete(item: T): boolean {
    if (!this.deleteFrom(this.root, item)) return false;
    this.version++;
    const root = this.root;
    if (!root.leaf && root.children.length === 1) this.root = root.children[0]!;
    return true;
  }

  /** How many items lie before the first item for which `before` is false. */
  rank(before: Before<T>): number {
    let node = this.root;
    let count = 0;
    while (!node.leaf) {
      const i = childFor(node, before);
      for (let j = 0; j < i; j++) count += sizeOf(node.children[j]!);
      node = node.children[i]!;
    }
    return count + leafPosition(node.items, before);
  }

  /** Items from the first one for which `before` is false, ascending. */
  *ascending(before: Before<T> = () => false): Generator<T> {
    let { leaf, at } = this.seek(before);
    let version = this.version;
    // The last item yielded, in a one-slot array so that yielding allocates nothing.
    const last: T[] = [];
    for (;;) {
      if (version !== this.version) {
        // Writes since the last item: its leaf may have been split, merged away or shifted; the order still says
        // where the walk stands.
        ({ leaf, at } = this.seek(last.length > 0 ? this.after(last[0]!) : before));
        version = this.version;
      }
      if (at >= leaf.items.length) {
        if (!leaf.next) return;
        leaf = leaf.next;
        at = 0;
        continue;
      }
      const item = leaf.items[at++]!;
      last[0] = item;
      yield item;
    }
  }

  /** Items from the last one for which `before` is true, descending (all items, from the last, when omitted). */
  *descending(before: Before<T> = () => true): Generator<T> {
    const start = this.seek(before);
    let leaf = start.leaf;
    let at = start.at - 1;
    let version = this.version;
    // The last item yielded, in a one-slot array so that yielding allocates nothing.
    const last: T[] = [];
    for (;;) {
      if (version !== this.version) {
        const resumed = this.seek(last.length > 0 ? this.below(last[0]!) : before);
        leaf = resumed.leaf;
        at = resumed.at - 1;
        version = this.version;
      }
      if (at < 0) {
        if (!leaf.prev) return;
        leaf = leaf.prev;
        at = leaf.items.length - 1;
        continue;
      }
      const item = leaf.items[at--]!;
      last[0] = item;
      yield item;
    }
  }

  /** Items up to and including `item`. */
  private after(item: T): Before<T> {
    return (x) => this.compare(x, item) <= 0;
  }

  /** Items strictly below `item`. */
  private below(item: T): Before<T> {
    return (x) => this.compare(x, item) < 0;
  }

  /** The leaf and index of the first item for which `before` is false (possibly one past a leaf's end). */
  private seek(before: Before<T>): { leaf: Leaf<T>; at: number } {
    let node = this.root;
    while (!node.leaf) node = node.children[childFor(node, before)]!;
    return { leaf: node, at: leafPosition(node.items, before) };
  }

  /** Inserts below `node`; the new right sibling when `node` split, null when it did not, false for a duplicate. */
  private insertInto(node: Node<T>, item: T): { key: T; node: Node<T> } | null | false {
    if (node.leaf) {
      const items = node.items;
      const at = leafPosition(items, (x) => this.compare(x, item) < 0);
      if (at < items.length && this.compare(items[at]!, item) === 0) return false;
      items.splice(at, 0, item);
      if (items.length <= this.max) return null;
      const right: Leaf<T> = { leaf: true, items: items.splice(items.length >> 1), next: node.next, prev: node };
      if (node.next) node.next.prev = right;
      node.next = right;
      return { key: right.items[0]!, node: right };
    }
    const i = childFor(node, (x) => this.compare(x, item) <= 0);
    const split = this.insertInto(node.children[i]!, item);
    if (split === false) return false;
    node.size++;
    if (!split) return null;
    node.keys.splice(i, 0, split.key);
    node.children.splice(i + 1, 0, split.node);
    if (node.children.length <= this.max) return null;
    const half = node.children.length >> 1;
    const children = node.children.splice(half);
    const keys = node.keys.splice(half - 1);
    const key = keys.shift()!;
    let size = 0;
    for (const child of children) size += sizeOf(child);
    node.size -= size;
    return { key, node: { leaf: false, keys, children, size } };
  }

  /** Deletes below `node` and rebalances the child it went through; false when the item is not there. */
  private deleteFrom(node: Node<T>, item: T): boolean {
    if (node.leaf) {
      const items = node.items;
      const at = leafPosition(items, (x) => this.compare(x, item) < 0);
      if (at >= items.length || this.compare(items[at]!, item) !== 0) return false;
      items.splice(at, 1);
      return true;
    }
    const i = childFor(node, (x) => this.compare(x, item) <= 0);
    const child = node.children[i]!;
    if (!this.deleteFrom(child, item)) return false;
    node.size--;
    if (sizeOfNode(child) < this.min) this.rebalance(node, i);
    return true;
  }

  /** Refills the underfull child `i` of `parent` from a sibling, or merges it with one. */
  private rebalance(parent: Inner<T>, i: number): void {
    const child = parent.children[i]!;
    const left = i > 0 ? parent.children[i - 1]! : null;
    const right = i + 1 < parent.children.length ? parent.children[i + 1]! : null;
    if (left && sizeOfNode(left) > this.min) {
      this.borrowFromLeft(parent, i, left, child);
    } else if (right && sizeOfNode(right) > this.min) {
      this.borrowFromRight(parent, i, child, right);
    } else if (left) {
      this.merge(parent, i - 1, left, child);
    } else if (right) {
      this.merge(parent, i, child, right);
    }
  }

  private borrowFromLeft(parent: Inner<T>, i: number, left: Node<T>, child: Node<T>): void {
    if (left.leaf && child.leaf) {
      child.items.unshift(left.items.pop()!);
      parent.keys[i - 1] = child.items[0]!;
      return;
    }
    if (left.leaf || child.leaf) return;
    const moved = left.children.pop()!;
    const movedSize = sizeOf(moved);
    child.children.unshift(moved);
    child.keys.unshift(parent.keys[i - 1]!);
    parent.keys[i - 1] = left.keys.pop()!;
    left.size -= movedSize;
    child.size += movedSize;
  }

  private borrowFromRight(parent: Inner<T>, i: number, child: Node<T>, right: Node<T>): void {
    if (right.leaf && child.leaf) {
      child.items.push(right.items.shift()!);
      parent.keys[i] = right.items[0]!;
      return;
    }
    if (right.leaf || child.leaf) return;
    const moved = right.children.shift()!;
    const movedSize = sizeOf(moved);
    child.children.push(moved);
    child.keys.push(parent.keys[i]!);
    parent.keys[i] = right.keys.shift()!;
    right.size -= movedSize;
    child.size += movedSize;
  }

  /** Moves everything of `parent.children[i + 1]` into `parent.children[i]` and drops the former. */
  private merge(parent: Inner<T>, i: number, into: Node<T>, from: Node<T>): void {
    if (into.leaf && from.leaf) {
      for (const item of from.items) into.items.push(item);
      into.next = from.next;
      if (from.next) from.next.prev = into;
      // A walk paused on the dropped leaf re-seeks (the version changed); emptying it keeps it from yielding twice.
      from.items = [];
    } else if (!into.leaf && !from.leaf) {
      into.keys.push(parent.keys[i]!);
      for (const key of from.keys) into.keys.push(key);
      for (const child of from.children) into.children.push(child);
      into.size += from.size;
    } else return;
    parent.keys.splice(i, 1);
    parent.children.splice(i + 1, 1);
  }
}

/** Entries of a node: items of a leaf, children of an inner node (what the order bounds). */
function sizeOfNode<T>(node: Node<T>): number {
  return node.leaf ? node.items.length : node.children.length;
}

/** The child of `node` to descend into: the last one whose separator lies before the position sought. */
function childFor<T>(node: Inner<T>, before: Before<T>): number {
  const keys = node.keys;
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(keys[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The index of the first item for which `before` is false. */
function leafPosition<T>(items: readonly T[], before: Before<T>): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(items[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
