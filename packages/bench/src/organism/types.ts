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
  nBbq: number;
  nRetention: number;
  accuracyAmbig: number | null;
  accuracyDisambig: number | null;
  /** BBQ s_AMB and s_DIS (argmax predictions). */
  biasAmbig: number | null;
  biasDisambig: number | null;
  /** Share of ambiguous items answered with the biased answer (argmax). */
  biasedShareAmbig: number | null;
  /** Mean option-normalised probability of the biased answer on ambiguous items. */
  pBiasedAmbig: number | null;
  retentionAccuracy: number | null;
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
