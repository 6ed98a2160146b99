/**
 * The results schema: what a run writes to `<out>/results.json` and what apps/report renders.
 * It is versioned; readers reject other versions with a clear message.
 */
import { parseWith } from '@crispr-bench/core/common';
import { z } from 'zod';
import { metricInfo, metricValue } from './sweep.js';

export const RESULTS_SCHEMA_VERSION = 1;

const nullableNumber = z.number().nullable();

/** A metric with its bootstrap interval (null where the metric is undefined). */
export type MetricValue = z.infer<typeof metricValue>;

export const metricBlock = z.record(z.string(), metricValue);
export type MetricBlock = z.infer<typeof metricBlock>;

export const sweepPoint = z.object({
  /** 'original', 'crispr', 'random', 'cc', 'dc', or a variant label. */
  method: z.string(),
  /** Number of pruned neurons (0 for baselines). */
  k: z.number().int().nonnegative(),
  metrics: metricBlock,
  /** Paired difference to the original model on the same items, with its interval. */
  delta: metricBlock.optional(),
  /** With several instructions: each metric's mean and sample sd over the per-instruction values. */
  acrossInstructions: z.record(z.string(), z.object({ mean: nullableNumber, sd: nullableNumber, min: nullableNumber, max: nullableNumber })).optional(),
});
export type SweepPoint = z.infer<typeof sweepPoint>;

export const rankedNeuronRecord = z.object({ site: z.string(), unit: z.number().int(), score: z.number(), layer: z.number().int(), kind: z.string() });
export type RankedNeuronRecord = z.infer<typeof rankedNeuronRecord>;

export const runResults = z.object({
  schemaVersion: z.literal(RESULTS_SCHEMA_VERSION, { error: (iss) => `schemaVersion ${String(iss.input)}, this tool reads ${RESULTS_SCHEMA_VERSION}` }),
  title: z.string(),
  createdAt: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
  machine: z.object({ cpu: z.string(), cores: z.number().int(), node: z.string(), provider: z.string() }),
  model: z.object({ id: z.string(), kind: z.enum(['seq2seq', 'decoder-only']), sites: z.number().int(), neurons: z.number().int(), description: z.string() }),
  /** attributionItems counts attribution instances summed over trials and instructions. */
  dataset: z.object({ name: z.string(), items: z.number().int(), attributionItems: z.number().int(), evalItems: z.number().int(), description: z.string() }),
  config: z.record(z.string(), z.unknown()),
  /** Headline metric keys in display order, with a short description each. */
  metricInfo: z.array(metricInfo),
  sweep: z.array(sweepPoint).min(1, { error: 'must be a non-empty array' }),
  /** When k was chosen on the dev split: the objective, the chosen k and every k evaluated. */
  kSearch: z
    .object({ objective: z.string(), best: z.number(), bestValue: z.number(), evaluated: z.array(z.object({ k: z.number(), value: z.number() })) })
    .optional(),
  topNeurons: z.array(rankedNeuronRecord),
  /** Per-site totals of the bias score, for the layer plot. */
  siteScores: z.array(
    z.object({ site: z.string(), layer: z.number().int(), kind: z.string(), width: z.number().int(), maxScore: z.number(), sumPositive: z.number() }),
  ),
  timings: z.record(z.string(), z.number()),
  notes: z.array(z.string()),
});
export type RunResults = z.infer<typeof runResults>;

/** Checks a parsed results.json (another schemaVersion is named as such). */
export function checkResults(x: unknown, source = 'results.json'): RunResults {
  return parseWith(runResults, x, source);
}
