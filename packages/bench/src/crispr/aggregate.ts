/**
 * CRISPR bias scores (DESIGN.md §5, steps 4-6):
 *   B(n; i, x) = A(n; i, x, y_hat) - lambda * max(0, A(n; i, x, y))
 *   B(n; i, D) = sum_x a(i, x) * B(n; i, x)          (a = confusion weight P(y_hat | i, x))
 *   B(n; i)    = mean over trials of B(n; i, D_trial)
 *   B(n)       = mean over instructions of B(n; i)
 * Attributions are per site, one Float32Array of the site's width per (instance, option).
 */

/** Site name -> attribution vector (length = site width). */
export type SiteVectors = Record<string, Float32Array>;

export interface InstanceAttribution {
  instruction: string;
  trial: number;
  exampleId: string;
  /** a(i, x): probability of the biased label. */
  confusion: number;
  /** A(n; i, x, y_hat). */
  biased: SiteVectors;
  /** A(n; i, x, y); null when the item has no gold label (skill term then omitted). */
  gold: SiteVectors | null;
}

export interface AggregateOptions {
  /** Weight of the skill term (lambda, default 1). */
  lambda?: number;
  /** Subtract the skill term (default true; the "no skill subtraction" ablation sets false). */
  skill?: boolean;
  /** Weight instances by the confusion a (default true; ablation: every weight 1). */
  confusionWeight?: boolean;
}

/** B(n; i, x), the per-instance bias score, computed in float64 then stored. */
export function instanceScore(inst: InstanceAttribution, opts: AggregateOptions = {}): Record<string, Float64Array> {
  const lambda = opts.lambda ?? 1;
  const skill = opts.skill ?? true;
  const out: Record<string, Float64Array> = {};
  for (const [site, biased] of Object.entries(inst.biased)) {
    const gold = inst.gold?.[site];
    if (inst.gold && !gold) throw new Error(`instance ${inst.exampleId}: gold attribution lacks site '${site}'`);
    const b = new Float64Array(biased.length);
    for (let u = 0; u < biased.length; u++) {
      const g = skill && gold ? Math.max(0, gold[u]!) : 0;
      b[u] = biased[u]! - lambda * g;
    }
    out[site] = b;
  }
  return out;
}

export function aggregate(instances: InstanceAttribution[], opts: AggregateOptions = {}): Record<string, Float64Array> {
  if (instances.length === 0) throw new Error('CRISPR aggregation needs at least one instance');
  const weighted = opts.confusionWeight ?? true;
  // instruction -> trial -> summed scores
  const byInstr = new Map<string, Map<number, Record<string, Float64Array>>>();
  for (const inst of instances) {
    const trials = byInstr.get(inst.instruction) ?? byInstr.set(inst.instruction, new Map()).get(inst.instruction)!;
    const sum = trials.get(inst.trial) ?? trials.set(inst.trial, {}).get(inst.trial)!;
    const w = weighted ? inst.confusion : 1;
    for (const [site, b] of Object.entries(instanceScore(inst, opts))) {
      const acc = sum[site] ?? (sum[site] = new Float64Array(b.length));
      if (acc.length !== b.length) throw new Error(`site '${site}' has width ${b.length} in instance ${inst.exampleId}, ${acc.length} elsewhere`);
      for (let u = 0; u < b.length; u++) acc[u]! += w * b[u]!;
    }
  }
  const result: Record<string, Float64Array> = {};
  for (const trials of byInstr.values()) {
    const perInstr: Record<string, Float64Array> = {};
    for (const sum of trials.values()) {
      for (const [site, v] of Object.entries(sum)) {
        const acc = perInstr[site] ?? (perInstr[site] = new Float64Array(v.length));
        for (let u = 0; u < v.length; u++) acc[u]! += v[u]! / trials.size;
      }
    }
    for (const [site, v] of Object.entries(perInstr)) {
      const acc = result[site] ?? (result[site] = new Float64Array(v.length));
      for (let u = 0; u < v.length; u++) acc[u]! += v[u]! / byInstr.size;
    }
  }
  return result;
}
