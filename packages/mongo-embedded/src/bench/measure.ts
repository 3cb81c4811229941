/** Latency and throughput measurement shared by the engine benchmark's phases. */

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
