/**
 * The report's view model: every input (a sweep results folder or a `crispr run` results.json)
 * is converted into these records, so that one renderer draws them all.
 */
import type { MetricValue } from '@crispr-bench/results';

export type Better = 'higher' | 'lower' | 'zero';
export interface MetricDef {
  key: string;
  label: string;
  better: Better;
}

/** One evaluated cell (model, method/variant/ranking, k, dataset, instruction), from any input. */
export interface ViewCell {
  /** Index into ReportInput.runs. */
  run: number;
  model: string;
  dataset: string;
  role: 'bias' | 'eval' | 'retention';
  method: string;
  variant: string;
  rankedOn: string | null;
  k: number;
  kAuto: boolean;
  /** '*' = every instruction pooled. */
  instruction: string;
  instructionUse: 'attribution' | 'heldout' | 'pooled';
  n: number | null;
  metrics: Record<string, MetricValue>;
  delta: Record<string, MetricValue> | null;
  /** A run's precomputed spread across instructions (sweeps have per-instruction cells instead). */
  across?: Record<string, { mean: number | null; sd: number | null }>;
}

export interface ViewRanking {
  run: number;
  model: string;
  rankedOn: string;
  variant: string;
  neurons: { site: string; unit: number; score: number; layer: number; kind: string }[];
}

export interface ViewRun {
  /** Short label used in tables (the folder's name). */
  label: string;
  title: string;
  kind: 'sweep' | 'run';
  /** Where the input is, relative to the report's folder (never absolute). */
  path: string;
  meta: { key: string; value: string }[];
  config: { key: string; value: string }[];
  timings: { key: string; value: string }[];
}

export interface ReportInput {
  runs: ViewRun[];
  cells: ViewCell[];
  /** Metric definitions and kind per dataset label (first definition wins across runs). */
  datasets: Map<string, { kind: string; role: ViewCell['role']; metrics: MetricDef[] }>;
  rankings: ViewRanking[];
}
