import type { McItem } from '@crispr-bench/core';
import { createRng, hashSeed } from './rng.js';

/**
 * Seeded splits and samples. Stratification groups items by category x context condition x
 * polarity (null values form their own group), so a split or sample keeps the mix of ambiguous /
 * disambiguated and negative / non-negative questions of the whole.
 */

export interface ItemFilter {
  categories?: string[];
  conditions?: ('ambig' | 'disambig')[];
  polarities?: ('neg' | 'nonneg')[];
}

export function filterItems<T extends McItem>(items: readonly T[], f: ItemFilter = {}): T[] {
  return items.filter(
    (it) =>
      (f.categories === undefined || f.categories.includes(it.category)) &&
      (f.conditions === undefined || (it.condition !== null && f.conditions.includes(it.condition))) &&
      (f.polarities === undefined || (it.polarity !== null && f.polarities.includes(it.polarity))),
  );
}

export function stratumOf(it: McItem): string {
  return `${it.category}|${it.condition ?? '-'}|${it.polarity ?? '-'}`;
}

function groupBy<T extends McItem>(items: readonly T[], stratify: boolean): Map<string, T[]> {
  const g = new Map<string, T[]>();
  for (const it of items) {
    const k = stratify ? stratumOf(it) : '*';
    let l = g.get(k);
    if (!l) g.set(k, (l = []));
    l.push(it);
  }
  return g;
}

export interface SplitOptions {
  /** Fraction of items that go to dev (default 0.1). */
  devFraction?: number;
  seed?: number | string;
  /** Split each category x condition x polarity stratum separately (default true). */
  stratify?: boolean;
}

/**
 * Splits `total` places over groups in proportion to their sizes: floor of each share, then one
 * more to the largest remainders (ties to the earlier group), so the parts add up exactly.
 */
export function allocate(sizes: readonly number[], total: number): number[] {
  const all = sizes.reduce((a, b) => a + b, 0);
  if (all === 0) return sizes.map(() => 0);
  const quota = sizes.map((s) => (total * s) / all);
  const take = quota.map((q) => Math.floor(q + 1e-9));
  const rest = total - take.reduce((a, b) => a + b, 0);
  const order = quota.map((q, i) => [q - take[i]!, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let r = 0; r < rest; r++) take[order[r]![1]]! += 1;
  return take;
}

/**
 * Dev/test split: round(fraction x n) items go to dev, allocated over the strata in proportion
 * to their sizes and drawn at random within each (seeded per stratum); both parts keep the input
 * order.
 */
export function splitDevTest<T extends McItem>(items: readonly T[], opts: SplitOptions = {}): { dev: T[]; test: T[] } {
  const frac = opts.devFraction ?? 0.1;
  if (!(frac >= 0 && frac <= 1)) throw new Error(`devFraction must be in [0, 1], got ${frac}`);
  const seed = opts.seed ?? 0;
  const groups = [...groupBy(items, opts.stratify ?? true).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const take = allocate(
    groups.map(([, g]) => g.length),
    Math.round(frac * items.length),
  );
  const devSet = new Set<T>();
  groups.forEach(([k, group], i) => {
    const rng = createRng(hashSeed(`${String(seed)}|split|${k}`));
    for (const it of rng.sample(group, take[i]!)) devSet.add(it);
  });
  return { dev: items.filter((it) => devSet.has(it)), test: items.filter((it) => !devSet.has(it)) };
}

export interface AttributionSampleOptions {
  /** Instances per trial (paper default 20). */
  n?: number;
  /** Trials, each with its own seed (paper default 3). */
  trials?: number;
  seed?: number | string;
  /** Spread each trial over the strata in proportion to their size (default true). */
  stratify?: boolean;
}

export interface AttributionTrial<T> {
  trial: number;
  seed: number;
  items: T[];
}

/**
 * Attribution samples: `trials` samples of `n` distinct instances, trial t drawn with the seed
 * hash(seed, t). Stratified sampling gives each stratum its share of the n places (see allocate),
 * so small strata are not dropped by chance alone.
 */
export function attributionSamples<T extends McItem>(items: readonly T[], opts: AttributionSampleOptions = {}): AttributionTrial<T>[] {
  const n = opts.n ?? 20;
  const trials = opts.trials ?? 3;
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`trials must be a positive integer, got ${trials}`);
  if (items.length < n) throw new Error(`cannot sample ${n} instances from ${items.length} items`);
  const groups = [...groupBy(items, opts.stratify ?? true).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const out: AttributionTrial<T>[] = [];
  for (let t = 0; t < trials; t++) {
    const seed = hashSeed(`${String(opts.seed ?? 0)}|trial|${t}`);
    const rng = createRng(seed);
    // Equal remainders would always favour the same strata; a seeded order of strata spreads them.
    const perm = rng.shuffle(groups.map((_, i) => i));
    const permTake = allocate(
      perm.map((i) => groups[i]![1].length),
      n,
    );
    const take = new Array<number>(groups.length).fill(0);
    perm.forEach((gi, j) => (take[gi] = permTake[j]!));
    const picked: T[] = [];
    groups.forEach(([, g], i) => picked.push(...rng.sample(g, take[i]!)));
    out.push({ trial: t, seed, items: rng.shuffle(picked) });
  }
  return out;
}
