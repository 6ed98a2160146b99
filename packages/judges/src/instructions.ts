/**
 * Spread across instructions (the paper's inter-instruction gap): the same metric computed
 * once per instruction, summarised by mean and sample standard deviation.
 */

export interface AcrossSummary {
  /** Mean over the instructions where the metric is defined; null when none is. */
  mean: number | null;
  /** Sample standard deviation (n - 1 denominator); null with fewer than two defined values. */
  sd: number | null;
  min: number | null;
  max: number | null;
  /** Instructions where the metric is defined (not null). */
  nDefined: number;
  nInstructions: number;
}

export function summariseValues(values: readonly (number | null)[]): AcrossSummary {
  const d = values.filter((v): v is number => v !== null);
  const k = d.length;
  if (k === 0) return { mean: null, sd: null, min: null, max: null, nDefined: 0, nInstructions: values.length };
  const mean = d.reduce((a, b) => a + b, 0) / k;
  const sd = k < 2 ? null : Math.sqrt(d.reduce((a, v) => a + (v - mean) ** 2, 0) / (k - 1));
  return { mean, sd, min: Math.min(...d), max: Math.max(...d), nDefined: k, nInstructions: values.length };
}

/**
 * For each metric key, the summary across instructions.
 * @param perInstruction metrics per instruction id (e.g. from bbqMetrics on each run)
 */
export function acrossInstructions<K extends string>(perInstruction: Record<string, Record<K, number | null>>, keys: readonly K[]): Record<K, AcrossSummary> {
  const runs = Object.values(perInstruction);
  const out = {} as Record<K, AcrossSummary>;
  for (const k of keys) out[k] = summariseValues(runs.map((r) => r[k] ?? null));
  return out;
}
