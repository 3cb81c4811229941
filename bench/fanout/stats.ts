/** Percentile summaries and ratio helpers shared by the benchmark reports. */

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Median of a non-empty list (NaN for an empty one). */
export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** p50/p99/p99.9/max/mean of `values` (NaN entries ignored). */
export function summarize(values: readonly number[]): Summary {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

export function mean(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length === 0 ? Number.NaN : finite.reduce((a, b) => a + b, 0) / finite.length;
}

/** A/B as the ratio of the means, with the spread of the per-repetition ratios. */
export interface Ratio {
  ratio: number;
  min: number;
  max: number;
}

export function ratioOf(a: readonly number[], b: readonly number[]): Ratio {
  const pairs: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (Number.isFinite(x) && Number.isFinite(y) && y !== 0) pairs.push(x / y);
  }
  const mb = mean(b);
  return {
    ratio: mb === 0 ? Number.NaN : mean(a) / mb,
    min: pairs.length > 0 ? Math.min(...pairs) : Number.NaN,
    max: pairs.length > 0 ? Math.max(...pairs) : Number.NaN,
  };
}

/** Fixed-precision number for tables; '–' for missing values. */
export function fmt(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtRatio(r: Ratio): string {
  if (!Number.isFinite(r.ratio)) return '–';
  return `${fmt(r.ratio, 2)}× (${fmt(r.min, 2)}–${fmt(r.max, 2)})`;
}
