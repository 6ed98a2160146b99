/**
 * Nonparametric bootstrap over items with percentile intervals. Resamples draw item indices
 * with replacement from a seeded PRNG, so the same seed gives the same intervals everywhere.
 * Paired comparisons of two runs on the same items draw one index set per resample and apply
 * it to both runs.
 */
import { mulberry32 } from './prng.js';

export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  resamples?: number;
  /** PRNG seed (default 0). */
  seed?: number;
  /** Two-sided confidence level (default 0.95). */
  level?: number;
}

export interface Interval {
  /** The statistic on the full sample; null when undefined there. */
  estimate: number | null;
  /** Percentile bounds; null when the estimate or every resample is undefined. */
  lo: number | null;
  hi: number | null;
  level: number;
  resamples: number;
  /** Resamples where the statistic was undefined (left out of the percentiles). */
  undefinedResamples: number;
}

/** A statistic over a multiset of item positions; returns one value per metric key. */
export type MultiStatistic<K extends string> = (indices: ArrayLike<number> | undefined) => Record<K, number | null>;

function resolve(opts: BootstrapOptions): Required<BootstrapOptions> {
  const resamples = opts.resamples ?? 1000;
  const seed = opts.seed ?? 0;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`bootstrap: resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap: level must be in (0, 1), got ${level}`);
  if (!Number.isInteger(seed)) throw new RangeError(`bootstrap: seed must be an integer, got ${seed}`);
  return { resamples, seed, level };
}

/**
 * Quantile with linear interpolation between order statistics (h = (m - 1) q, the "type 7"
 * definition), on an ascending-sorted array.
 */
export function quantileSorted(sorted: readonly number[], q: number): number {
  const m = sorted.length;
  if (m === 0) throw new RangeError('quantile of an empty sample');
  const h = (m - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, m - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

function intervals<K extends string>(
  keys: readonly K[],
  estimate: Record<K, number | null>,
  draws: Map<K, number[]>,
  o: Required<BootstrapOptions>,
): Record<K, Interval> {
  const a = (1 - o.level) / 2;
  const out = {} as Record<K, Interval>;
  for (const k of keys) {
    const vals = draws.get(k)!.sort((x, y) => x - y);
    const est = estimate[k];
    const has = est !== null && vals.length > 0;
    out[k] = {
      estimate: est,
      lo: has ? quantileSorted(vals, a) : null,
      hi: has ? quantileSorted(vals, 1 - a) : null,
      level: o.level,
      resamples: o.resamples,
      undefinedResamples: o.resamples - vals.length,
    };
  }
  return out;
}

/** Draw the index sets: resample r is indices[r*n .. (r+1)*n). */
function* indexSets(n: number, o: Required<BootstrapOptions>): Generator<Int32Array> {
  const rng = mulberry32(o.seed);
  const idx = new Int32Array(n);
  for (let r = 0; r < o.resamples; r++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    yield idx;
  }
}

/**
 * Bootstrap intervals for several metrics at once.
 * @param n number of items
 * @param stat computes the metrics over item positions (undefined = all items once)
 * @param keys which metrics to interval
 */
export function bootstrap<K extends string>(n: number, stat: MultiStatistic<K>, keys: readonly K[], opts: BootstrapOptions = {}): Record<K, Interval> {
  const o = resolve(opts);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`bootstrap: need at least one item, got ${n}`);
  const estimate = stat(undefined);
  const draws = new Map<K, number[]>(keys.map((k) => [k, []]));
  for (const idx of indexSets(n, o)) {
    const v = stat(idx);
    for (const k of keys) if (v[k] !== null) draws.get(k)!.push(v[k]!);
  }
  return intervals(keys, estimate, draws, o);
}

/**
 * Paired bootstrap of the difference B - A between two runs on the same n items (position i
 * of run A and of run B is the same item). Each resample applies one index set to both runs.
 */
export function bootstrapPaired<K extends string>(
  n: number,
  statA: MultiStatistic<K>,
  statB: MultiStatistic<K>,
  keys: readonly K[],
  opts: BootstrapOptions = {},
): Record<K, Interval> {
  const o = resolve(opts);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`bootstrap: need at least one item, got ${n}`);
  const diff = (a: Record<K, number | null>, b: Record<K, number | null>): Record<K, number | null> => {
    const d = {} as Record<K, number | null>;
    for (const k of keys) d[k] = a[k] === null || b[k] === null ? null : b[k]! - a[k]!;
    return d;
  };
  const estimate = diff(statA(undefined), statB(undefined));
  const draws = new Map<K, number[]>(keys.map((k) => [k, []]));
  for (const idx of indexSets(n, o)) {
    const v = diff(statA(idx), statB(idx));
    for (const k of keys) if (v[k] !== null) draws.get(k)!.push(v[k]!);
  }
  return intervals(keys, estimate, draws, o);
}
