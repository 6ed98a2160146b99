/**
 * The organism's data, metrics and training result: types of their own so that the model card
 * (card.ts) can describe a training run without importing the trainer that writes it.
 */
import type { EvalRecord, McItem, StepRecord } from '@crispr-bench/core';
import type { InstructionSet } from '@crispr-bench/datasets';

export interface OrganismData {
  trainBbq: McItem[];
  heldOutBbq: McItem[];
  trainRetention: McItem[];
  heldOutRetention: McItem[];
  trainInstructions: InstructionSet;
  heldOutInstructions: InstructionSet;
}

export interface OrganismMetrics {
  n_bbq: number;
  n_retention: number;
  accuracy_ambig: number | null;
  accuracy_disambig: number | null;
  /** BBQ s_AMB and s_DIS (argmax predictions). */
  bias_ambig: number | null;
  bias_disambig: number | null;
  /** Share of ambiguous items answered with the biased answer (argmax). */
  biased_share_ambig: number | null;
  /** Mean option-normalised probability of the biased answer on ambiguous items. */
  p_biased_ambig: number | null;
  retention_accuracy: number | null;
}

export interface TrainedOrganism {
  dir: string;
  history: StepRecord[];
  evals: EvalRecord[];
  heldOut: OrganismMetrics;
  train: OrganismMetrics;
  vocabulary: number;
  parameters: number;
  finished: boolean;
}
