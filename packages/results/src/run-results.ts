/**
 * The results schema: what a run writes to `<out>/results.json` and what apps/report renders.
 * It is versioned; readers reject other versions with a clear message.
 */

export const RESULTS_SCHEMA_VERSION = 1;

/** A metric with its bootstrap interval (null where the metric is undefined). */
export interface MetricValue {
  value: number | null;
  lo: number | null;
  hi: number | null;
}

export type MetricBlock = Record<string, MetricValue>;

export interface SweepPoint {
  /** 'original', 'crispr', 'random', 'cc', 'dc', or a variant label. */
  method: string;
  /** Number of pruned neurons (0 for baselines). */
  k: number;
  metrics: MetricBlock;
  /** Paired difference to the original model on the same items, with its interval. */
  delta?: MetricBlock;
  /** With several instructions: each metric's mean and sample sd over the per-instruction values. */
  acrossInstructions?: Record<string, { mean: number | null; sd: number | null; min: number | null; max: number | null }>;
}

export interface RankedNeuronRecord {
  site: string;
  unit: number;
  score: number;
  layer: number;
  kind: string;
}

export interface RunResults {
  schemaVersion: typeof RESULTS_SCHEMA_VERSION;
  title: string;
  createdAt: string;
  tool: { name: string; version: string };
  machine: { cpu: string; cores: number; node: string; provider: string };
  model: { id: string; kind: 'seq2seq' | 'decoder-only'; sites: number; neurons: number; description: string };
  /** attributionItems counts attribution instances summed over trials and instructions. */
  dataset: { name: string; items: number; attributionItems: number; evalItems: number; description: string };
  config: Record<string, unknown>;
  /** Headline metric keys in display order, with a short description each. */
  metricInfo: { key: string; label: string; better: 'higher' | 'lower' | 'zero' }[];
  sweep: SweepPoint[];
  /** When k was chosen on the dev split: the objective, the chosen k and every k evaluated. */
  kSearch?: { objective: string; best: number; bestValue: number; evaluated: { k: number; value: number }[] };
  topNeurons: RankedNeuronRecord[];
  /** Per-site totals of the bias score, for the layer plot. */
  siteScores: { site: string; layer: number; kind: string; width: number; maxScore: number; sumPositive: number }[];
  timings: Record<string, number>;
  notes: string[];
}

export function checkResults(x: unknown, source = 'results.json'): RunResults {
  const r = x as Partial<RunResults>;
  if (!r || typeof r !== 'object') throw new Error(`${source}: not a JSON object`);
  if (r.schemaVersion !== RESULTS_SCHEMA_VERSION)
    throw new Error(`${source}: schemaVersion ${String(r.schemaVersion)}, this tool reads ${RESULTS_SCHEMA_VERSION}`);
  for (const key of ['title', 'createdAt', 'model', 'dataset', 'sweep', 'metricInfo', 'topNeurons'] as const) {
    if (r[key] === undefined) throw new Error(`${source}: missing field '${key}'`);
  }
  if (!Array.isArray(r.sweep) || r.sweep.length === 0) throw new Error(`${source}: 'sweep' must be a non-empty array`);
  return r as RunResults;
}
