import { describe, expect, it } from 'vitest';
import { BPlusTree } from './btree.js';

const byNumber = (a: number, b: number): number => a - b;

/** A deterministic generator, so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The model: a sorted array of distinct numbers. */
function modelInsert(model: number[], v: number): boolean {
  const at = model.findIndex((x) => x >= v);
  if (at >= 0 && model[at] === v) return false;
  model.splice(at < 0 ? model.length : at, 0, v);
  return true;
}

function modelDelete(model: number[], v: number): boolean {
  const at = model.indexOf(v);
  if (at < 0) return false;
  model.splice(at, 1);
  return true;
}

function take<T>(items: Iterable<T>, n: number): T[] {
  const out: T[] = [];
  for (const item of items) {
    if (out.length >= n) break;
    out.push(item);
  }
  return out;
}

/** Checks every read the tree offers against the model, bounds included and excluded, both directions. */
function checkAgainst(tree: BPlusTree<number>, model: number[], pick: () => number): void {
  expect(tree.size).toBe(model.length);
  expect([...tree.ascending()]).toEqual(model);
  expect([...tree.descending()]).toEqual([...model].reverse());
  for (let probe = 0; probe < 5; probe++) {
    const v = pick();
    expect(tree.has(v)).toBe(model.includes(v));
    expect(tree.rank((x) => x < v)).toBe(model.filter((x) => x < v).length);
    expect(tree.rank((x) => x <= v)).toBe(model.filter((x) => x <= v).length);
    // From v inclusive / exclusive, upwards; below v inclusive / exclusive, downwards.
    expect(
      take(
        tree.ascending((x) => x < v),
        7,
      ),
    ).toEqual(model.filter((x) => x >= v).slice(0, 7));
    expect(
      take(
        tree.ascending((x) => x <= v),
        7,
      ),
    ).toEqual(model.filter((x) => x > v).slice(0, 7));
    expect(
      take(
        tree.descending((x) => x <= v),
        7,
      ),
    ).toEqual(
      model
        .filter((x) => x <= v)
        .reverse()
        .slice(0, 7),
    );
    expect(
      take(
        tree.descending((x) => x < v),
        7,
      ),
    ).toEqual(
      model
        .filter((x) => x < v)
        .reverse()
        .slice(0, 7),
    );
  }
}

describe('BPlusTree', () => {
  it('answers every read on an empty tree with nothing', () => {
    const tree = new BPlusTree(byNumber, 4);
    expect(tree.size).toBe(0);
    expect(tree.height).toBe(1);
    expect([...tree.ascending()]).toEqual([]);
    expect([...tree.descending()]).toEqual([]);
    expect(tree.rank((x) => x < 5)).toBe(0);
    expect(tree.has(1)).toBe(false);
    expect(tree.find(1)).toBeUndefined();
    expect(tree.delete(1)).toBe(false);
    tree.load([]);
    expect([...tree.ascending()]).toEqual([]);
  });

  it('refuses an order below 4', () => {
    expect(() => new BPlusTree(byNumber, 3)).toThrow(RangeError);
    expect(() => new BPlusTree(byNumber, 4.5)).toThrow(RangeError);
  });

  it('keeps items distinct: a second equal insert changes nothing', () => {
    const tree = new BPlusTree(byNumber, 4);
    expect(tree.insert(3)).toBe(true);
    expect(tree.insert(3)).toBe(false);
    expect(tree.size).toBe(1);
    expect(tree.delete(3)).toBe(true);
    expect(tree.delete(3)).toBe(false);
    expect(tree.size).toBe(0);
  });

  it('returns the stored item for an equal probe (compound entries compared by key only)', () => {
    const tree = new BPlusTree<{ k: number; tag: string }>((a, b) => a.k - b.k, 4);
    for (let k = 0; k < 50; k++) tree.insert({ k, tag: `t${k}` });
    expect(tree.find({ k: 17, tag: '' })).toEqual({ k: 17, tag: 't17' });
    expect(tree.insert({ k: 17, tag: 'other' })).toBe(false);
    expect(tree.find({ k: 17, tag: '' })?.tag).toBe('t17');
  });

  for (const order of [4, 5, 8, 64]) {
    it(`matches a sorted-array model under random inserts and deletes (order ${order})`, () => {
      const rnd = random(order * 7919);
      const pick = (): number => Math.floor(rnd() * 600);
      const tree = new BPlusTree(byNumber, order);
      const model: number[] = [];
      for (let step = 0; step < 4000; step++) {
        const v = pick();
        // Phases that grow, shrink and churn, so leaves split, borrow and merge at every level.
        const phase = Math.floor(step / 1000);
        const insert = phase === 0 ? rnd() < 0.8 : phase === 1 ? rnd() < 0.2 : rnd() < 0.5;
        if (insert) expect(tree.insert(v)).toBe(modelInsert(model, v));
        else expect(tree.delete(v)).toBe(modelDelete(model, v));
        if (step % 97 === 0) checkAgainst(tree, model, pick);
      }
      checkAgainst(tree, model, pick);
      for (const v of [...model]) {
        expect(tree.delete(v)).toBe(true);
        modelDelete(model, v);
      }
      checkAgainst(tree, model, pick);
      expect(tree.height).toBe(1);
    });
  }

  it('grows many levels and shrinks back, staying ordered', () => {
    const tree = new BPlusTree(byNumber, 4);
    const n = 5000;
    for (let i = 0; i < n; i++) tree.insert((i * 7919) % n);
    expect(tree.height).toBeGreaterThanOrEqual(7);
    expect([...tree.ascending()]).toEqual(Array.from({ length: n }, (_, i) => i));
    for (let i = 0; i < n; i += 2) tree.delete(i);
    expect([...tree.ascending()]).toEqual(Array.from({ length: n / 2 }, (_, i) => 2 * i + 1));
    expect(tree.rank((x) => x < 2001)).toBe(1000);
  });

  it('bulk-loads sorted items into a tree that then behaves like one built by inserts', () => {
    const rnd = random(42);
    const pick = (): number => Math.floor(rnd() * 3000);
    for (const count of [1, 2, 3, 17, 1000, 2500]) {
      const tree = new BPlusTree(byNumber, 6);
      const model = Array.from({ length: count }, (_, i) => i * 2);
      tree.load(model);
      checkAgainst(tree, model, pick);
      for (let step = 0; step < 600; step++) {
        const v = pick();
        if (rnd() < 0.5) expect(tree.insert(v)).toBe(modelInsert(model, v));
        else expect(tree.delete(v)).toBe(modelDelete(model, v));
      }
      checkAgainst(tree, model, pick);
    }
  });

  it('continues a paused walk in order after writes split and merge its leaves', () => {
    const rnd = random(7);
    for (const reverse of [false, true]) {
      const tree = new BPlusTree(byNumber, 4);
      const model: number[] = [];
      for (let i = 0; i < 400; i += 2) {
        tree.insert(i);
        modelInsert(model, i);
      }
      const walk = reverse ? tree.descending() : tree.ascending();
      const seen: number[] = [];
      const touched = new Set<number>();
      let done = false;
      for (let step = 0; step < 2000; step++) {
        const next = walk.next();
        if (next.done) {
          done = true;
          break;
        }
        seen.push(next.value);
        // Writes between items: far from and right next to the walk's position.
        for (let w = 0; w < 3; w++) {
          const v = rnd() < 0.5 ? Math.floor(rnd() * 400) : next.value + Math.floor(rnd() * 9) - 4;
          touched.add(v);
          if (rnd() < 0.5) tree.insert(v);
          else tree.delete(v);
        }
      }
      expect(done).toBe(true);
      // Strictly monotone: nothing twice, nothing out of order.
      for (let i = 1; i < seen.length; i++) {
        if (reverse) expect(seen[i]).toBeLessThan(seen[i - 1]!);
        else expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
      }
      // Every item present from start to end and never written is seen.
      const seenSet = new Set(seen);
      const untouched = model.filter((v) => !touched.has(v));
      expect(untouched.length).toBeGreaterThan(20);
      for (const v of untouched) expect(seenSet.has(v)).toBe(true);
    }
  });

  it('resumes a walk that had not yielded yet from its starting bound', () => {
    const tree = new BPlusTree(byNumber, 4);
    for (let i = 0; i < 100; i++) tree.insert(i);
    const walk = tree.ascending((x) => x < 50);
    for (let i = 0; i < 60; i++) tree.delete(i);
    expect(take(walk, 3)).toEqual([60, 61, 62]);
    const down = tree.descending((x) => x < 80);
    for (let i = 70; i < 80; i++) tree.delete(i);
    expect(take(down, 3)).toEqual([69, 68, 67]);
  });
});
