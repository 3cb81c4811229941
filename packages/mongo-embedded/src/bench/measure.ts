/** Latency and throughput measurement shared by the engine benchmark's phases. */

import type { MongoClient } from 'mongodb';

export interface Latency {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** p50/p99/max of `values` (nearest rank). */
export function summarize(values: number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

/** Runs `op` from `concurrency` loops for `ms` (and at most `maxOps` in all); returns ops/s and latencies. */
export async function load(
  concurrency: number,
  ms: number,
  maxOps: number,
  op: (i: number) => Promise<unknown>,
): Promise<{ perSecond: number; latency: Latency }> {
  const latencies: number[] = [];
  let issued = 0;
  const start = performance.now();
  const end = start + ms;
  const loop = async (): Promise<void> => {
    while (performance.now() < end && issued < maxOps) {
      const i = issued++;
      const t0 = performance.now();
      await op(i);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: latencies.length / seconds, latency: summarize(latencies) };
}

/** A change-stream reader started by `watchInserts`. */
export interface EventWatcher {
  /** Resolves once the stream is open (its aggregate answered), before which nothing should be written. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** Reads `db.coll`'s insert events; `arrived` gets each inserted `_id` with its arrival time (epoch ms). */
export function watchInserts(
  client: MongoClient,
  db: string,
  coll: string,
  arrived: (id: number, at: number) => void,
): EventWatcher {
  const stream = client
    .db(db)
    .collection<{ _id: number }>(coll)
    .watch([{ $match: { operationType: 'insert' } }]);
  // An object, because close() clears it from another closure, which control-flow analysis does not follow.
  const state = { reading: true };
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const reader = (async () => {
    await stream.tryNext().catch(() => null);
    markReady();
    while (state.reading) {
      const change = await stream.tryNext().catch(() => null);
      if (change?.operationType !== 'insert') continue;
      arrived(change.documentKey._id, nowMs());
    }
  })();
  return {
    ready,
    async close() {
      state.reading = false;
      await stream.close();
      await reader;
    },
  };
}
