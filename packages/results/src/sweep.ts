/**
 * A sweep's results folder (`crispr sweep`, DESIGN.md §5):
 *
 *   manifest.json            what ran: the resolved config and its hash, versions, git revision,
 *                            machine, shard, start and end, the models and datasets with their
 *                            metric definitions, the number of cells planned
 *   cells.jsonl              one complete CellRow per finished cell, appended and flushed
 *   predictions/<file>.jsonl per-item option scores behind a group of cells (one model, method,
 *                            k and evaluation dataset; every instruction), for paired statistics
 *                            across runs (the gate) without the data set
 *   rankings/<file>.json     each ranking's top neurons (site, unit, score, layer, kind)
 *   results.csv              one row per cell, every metric with its interval
 *   logs/sweep.log           what was computed and reused, and why
 *   stages/                  the content-keyed stage checkpoints (internal)
 *
 * JSON keys are camelCase, metric keys too (`accuracyAmbig`, `biasAmbig`); see README "File formats".
 * Every path inside these files is relative to the folder: nothing local is ever published.
 */
import { z } from 'zod';

export const SWEEP_SCHEMA = 'crispr-bench/sweep@1';

export const metricValue = z.object({ value: z.number().nullable(), lo: z.number().nullable(), hi: z.number().nullable() });
export type SweepMetricValue = z.infer<typeof metricValue>;

export const metricInfo = z.object({ key: z.string(), label: z.string(), better: z.enum(['higher', 'lower', 'zero']) });

/** How a dataset is used: attributed on (bias), evaluated only (eval), or a retention task. */
export const datasetRole = z.enum(['bias', 'eval', 'retention']);

/** The method of a cell: the ranking that chose the pruned neurons, or a baseline. */
export const methodName = z.enum(['original', 'crispr', 'random', 'cc', 'dc', 'crispr+cc', 'crispr+dc']);

export const cellRow = z.object({
  schema: z.literal(SWEEP_SCHEMA),
  /** Position in the sweep's plan: merged shards and resumed runs sort by it. */
  index: z.number().int().nonnegative(),
  /** Stable id: model/ranking/k/dataset/instruction. */
  id: z.string(),
  model: z.string(),
  method: methodName,
  /** Ablation label of the CRISPR settings ('default', 'reduce=mean', 'skill=off', ...); '' for baselines. */
  variant: z.string(),
  /** The dataset whose attributions ranked the neurons (null: no ranking, e.g. original, cc, dc). */
  rankedOn: z.string().nullable(),
  k: z.number().int().nonnegative(),
  /** True when k was chosen by the golden-section search on the ranking dataset's dev split. */
  kAuto: z.boolean(),
  dataset: z.string(),
  role: datasetRole,
  /** The instruction id, or '*' for all the evaluation instructions pooled. */
  instruction: z.string(),
  /** attribution: also used to rank; heldout: evaluation only; pooled: the '*' cell. */
  instructionUse: z.enum(['attribution', 'heldout', 'pooled']),
  /** Items evaluated (rows of the prediction file under this instruction). */
  n: z.number().int().nonnegative(),
  metrics: z.record(z.string(), metricValue),
  /** Paired change against the original model on the same items and instruction (null for the original). */
  delta: z.record(z.string(), metricValue).nullable(),
  /** Generation judging only: outputs that matched no option (counted, never dropped). */
  unmatched: z.number().int().nonnegative().optional(),
  /** The per-item scores behind this cell, relative to the folder. */
  predictions: z.string(),
  /** Timing fields differ between otherwise identical runs; everything else does not. */
  timing: z.object({ seconds: z.number(), computed: z.boolean() }),
});
export type CellRow = z.infer<typeof cellRow>;

/** One item under one instruction, with what the metrics need (no prompt text). */
export const predictionRow = z.object({
  id: z.string(),
  category: z.string(),
  instruction: z.string(),
  options: z.number().int().positive(),
  label: z.number().int().nullable(),
  unknownIndex: z.number().int().nullable(),
  targetIndex: z.number().int().nullable(),
  polarity: z.enum(['neg', 'nonneg']).nullable(),
  condition: z.enum(['ambig', 'disambig']).nullable(),
  /** The option scores the prediction was made from (log-probabilities, or calibrated log-scores). */
  scores: z.array(z.number()),
  /** The chosen option; null when a generated answer matched none. */
  pred: z.number().int().nullable(),
});
export type PredictionRow = z.infer<typeof predictionRow>;

export const rankingFile = z.object({
  schema: z.literal(SWEEP_SCHEMA),
  model: z.string(),
  rankedOn: z.string(),
  method: methodName,
  variant: z.string(),
  /** The CRISPR settings of this ranking. */
  settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  neurons: z.array(z.object({ site: z.string(), unit: z.number().int(), score: z.number(), layer: z.number().int(), kind: z.string() })),
});
export type RankingFile = z.infer<typeof rankingFile>;

export const manifest = z.object({
  schema: z.literal(SWEEP_SCHEMA),
  title: z.string(),
  /** sha256 of the resolved config: shards and runs of the same config share it. */
  configHash: z.string(),
  config: z.record(z.string(), z.unknown()),
  versions: z.object({ tool: z.string(), node: z.string(), onnxruntime: z.string(), stages: z.number().int() }),
  git: z.string().nullable(),
  machine: z.object({ cpu: z.string(), cores: z.number().int(), memoryGiB: z.number(), os: z.string(), provider: z.string() }),
  shard: z.object({ index: z.number().int().positive(), count: z.number().int().positive() }).nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  models: z.array(
    z.object({ label: z.string(), kind: z.enum(['seq2seq', 'decoder-only']), sites: z.number().int(), neurons: z.number().int(), description: z.string() }),
  ),
  datasets: z.array(
    z.object({
      label: z.string(),
      kind: z.enum(['bbq', 'pronoun', 'mc']),
      role: datasetRole,
      items: z.number().int(),
      metricInfo: z.array(metricInfo),
      description: z.string(),
    }),
  ),
  /** Cells this folder is meant to hold (its shard's share) and cells finished. */
  cells: z.object({ planned: z.number().int(), finished: z.number().int() }),
  timings: z.record(z.string(), z.number()),
});
export type Manifest = z.infer<typeof manifest>;

export type MethodName = z.infer<typeof methodName>;
