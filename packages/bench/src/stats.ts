// Pure statistics helpers (tested in stats.test.ts).

export function sorted(values: readonly number[]): number[] {
  return [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
}

/** Median of the finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const s = sorted(values);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Percentile by linear interpolation between closest ranks (the "R-7"/Excel method), p in [0, 100].
 * Small samples therefore never report a value outside what was observed.
 */
export function percentile(values: readonly number[], p: number): number {
  const s = sorted(values);
  if (s.length === 0) return Number.NaN;
  if (p <= 0) return s[0]!;
  if (p >= 100) return s[s.length - 1]!;
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** Half the range relative to the median, in percent: "± spread %". 0 for a single sample. */
  spreadPct: number;
}

export function summarize(values: readonly number[]): Summary {
  const s = sorted(values);
  if (s.length === 0)
    return { n: 0, median: Number.NaN, min: Number.NaN, max: Number.NaN, spreadPct: Number.NaN };
  const m = median(s);
  const min = s[0]!;
  const max = s[s.length - 1]!;
  const spreadPct = m === 0 ? 0 : ((max - min) / 2 / Math.abs(m)) * 100;
  return { n: s.length, median: m, min, max, spreadPct };
}

/** Jobs per second from a count and a duration in ms; NaN if the duration is not positive. */
export function rate(count: number, ms: number): number {
  return ms > 0 ? (count / ms) * 1000 : Number.NaN;
}

/** The best value of a list under a direction; NaN when nothing is finite. */
export function best(values: readonly number[], better: "higher" | "lower"): number {
  const s = sorted(values);
  if (s.length === 0) return Number.NaN;
  return better === "higher" ? s[s.length - 1]! : s[0]!;
}
