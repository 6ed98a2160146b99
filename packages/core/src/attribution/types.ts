/** Types of attribution graphs and their results (DESIGN.md §4, "Attribution graph"). */

/** What is differentiated: log P(target) (default) or P(target) = exp(log P). */
export type AttributionObjective = 'logprob' | 'prob';
/** How h_t * dObjective/dh_t is reduced over a site's valid token positions. */
export type TokenReduction = 'max' | 'mean' | 'sum';

export interface AttributionOptions {
  objective?: AttributionObjective;
  reduce?: TokenReduction;
  /** Restrict sites by kind (default: every linear layer). 'ffn' keeps FFN sites only. */
  kinds?: string[] | 'all' | 'ffn';
}

/** One example: token ids of the prompt and of the target continuation. */
export interface AttributionExample {
  promptIds: number[];
  targetIds: number[];
}

/** A shape bucket: every graph input has these concrete sizes. */
export interface AttributionBucket {
  batch: number;
  /** Encoder length (seq2seq) or total prompt+target length (decoder-only). */
  inputLength: number;
  /** Target tokens (seq2seq: the decoder length; decoder-only: the predictions scored). */
  targetLength: number;
}

export interface SiteAttribution {
  name: string;
  side: 'input' | 'target';
  width: number;
  layer: number;
  kind: string;
  /** One row per example: reduce_t(h_t * dObjective/dh_t), length `width`. */
  values: Float32Array[];
}

export interface AttributionResult {
  /** Objective per example (log P(target) or P(target)). */
  objective: number[];
  /** log P(target) per example, whatever the objective. */
  logprob: number[];
  sites: SiteAttribution[];
  /** The bucket and batch size actually used, for the run log. */
  plan: {
    batchSize: number;
    buckets: AttributionBucket[];
    bytesPerExample: number;
    /** seq2seq: the encoder forward ran once per distinct prompt of a batch, not once per row. */
    sharedPrompts?: boolean;
  };
}

/** An item to score, choose a biased label for, and attribute (Attributor.runChoices). */
export interface ChoiceExample {
  promptIds: number[];
  /** Token ids of each candidate (the target continuations, as scoring encodes them). */
  candidates: number[][];
  /** Index of the gold candidate. */
  gold: number;
}

export interface ChoiceResult {
  /** log P(candidate | prompt) per item and candidate. */
  logprobs: number[][];
  /** The biased label y_hat of each item: the most probable candidate other than the gold one. */
  biased: number[];
  /** Rows 2i and 2i + 1: item i's y_hat and gold candidate. */
  attribution: AttributionResult;
}
