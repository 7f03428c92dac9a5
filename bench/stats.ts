/** Order statistics the benchmarks share. */

/** The p-th percentile of an ascending array (index floor(p% of n)); NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export interface Stats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Count, nearest-rank p50/p90/p99 and max of a sample, rounded to 0.1. */
export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: s.length, p50: r(q(50)), p90: r(q(90)), p99: r(q(99)), max: r(s[s.length - 1] ?? NaN) };
}
