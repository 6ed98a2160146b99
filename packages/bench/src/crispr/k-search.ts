/**
 * Choosing the number of pruned neurons k on a dev split (DESIGN.md §5 step 7): golden-section
 * search of dev accuracy over the integers [0, kMax]. Accuracy as a function of k is assumed
 * unimodal, as in the paper; every evaluated k is kept so callers can report the whole curve.
 */

const INV_PHI = (Math.sqrt(5) - 1) / 2;

export interface KSearchResult {
  best: number;
  bestValue: number;
  evaluated: { k: number; value: number }[];
}

export async function goldenSectionK(evaluate: (k: number) => Promise<number>, kMax: number, opts: { tolerance?: number } = {}): Promise<KSearchResult> {
  if (!Number.isInteger(kMax) || kMax < 0) throw new Error(`kMax must be a non-negative integer, got ${kMax}`);
  const memo = new Map<number, number>();
  const f = async (k: number) => {
    if (!memo.has(k)) memo.set(k, await evaluate(k));
    return memo.get(k)!;
  };
  const tol = opts.tolerance ?? 2;
  let lo = 0;
  let hi = kMax;
  let c = Math.round(hi - INV_PHI * (hi - lo));
  let d = Math.round(lo + INV_PHI * (hi - lo));
  while (hi - lo > tol) {
    if (c === d) d = Math.min(hi, c + 1);
    if ((await f(c)) >= (await f(d))) hi = d;
    else lo = c;
    c = Math.round(hi - INV_PHI * (hi - lo));
    d = Math.round(lo + INV_PHI * (hi - lo));
  }
  for (let k = lo; k <= hi; k++) await f(k);
  await f(0);
  let best = 0;
  let bestValue = -Infinity;
  // Highest value; among equals, the smallest k (prune as little as possible).
  for (const [k, v] of [...memo.entries()].sort((a, b) => a[0] - b[0])) {
    if (v > bestValue) {
      best = k;
      bestValue = v;
    }
  }
  return { best, bestValue, evaluated: [...memo.entries()].sort((a, b) => a[0] - b[0]).map(([k, value]) => ({ k, value })) };
}
