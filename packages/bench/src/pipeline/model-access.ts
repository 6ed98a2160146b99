/** What the pipeline needs from a model and how it reports progress: the contract between the stages and their callers. */
import type { AttributionExample, AttributionResult, ChoiceResult, NeuronSite } from '@crispr-bench/core';

/** What the pipeline needs from a model: scoring, tokenising for attribution, attribution. */
export interface ModelAccess {
  id: string;
  kind: 'seq2seq' | 'decoder-only';
  description: string;
  sites: NeuronSite[];
  /** How many score() calls may usefully run at once (workers scoring side by side); default 1. */
  scoreParallel?: number;
  /** log P(candidate | prompt) for every candidate of every prompt, under optional masks. */
  score(batch: { prompt: string | number[]; candidates: (string | number[])[] }[], masks?: Record<string, Float32Array>): Promise<number[][]>;
  /** Token ids of prompt and candidate exactly as score() sees them (token-id arrays as given). */
  encode(prompt: string | number[], candidate: string | number[]): AttributionExample;
  attribute(examples: AttributionExample[], onProgress?: (done: number, total: number) => void): Promise<AttributionResult>;
  /**
   * Scores every candidate of each item, picks its biased label y_hat (the most probable candidate
   * other than `gold`; ties: the lowest index) and attributes y_hat and gold: attribution rows 2i
   * and 2i + 1. seq2seq runs it as one graph (the encoder once per prompt); decoder-only as score()
   * then attribute().
   */
  scoreAndAttribute(
    items: { prompt: string | number[]; candidates: (string | number[])[]; gold: number }[],
    onProgress?: (done: number, total: number) => void,
  ): Promise<ChoiceResult>;
  close?(): Promise<void>;
}

export interface Progress {
  /** A new stage (or sub-stage: the instruction being attributed); resets the step counter. */
  stage(name: string): void;
  /** `done` of `total` units of the current stage, for a bar or plain lines with rate and ETA. */
  step(done: number, total: number): void;
  note(line: string): void;
}

export const silentProgress: Progress = { stage: () => {}, step: () => {}, note: () => {} };
