/**
 * CRISPR's biased label (DESIGN.md §5 step 2): the wrong option the model finds most
 * probable, y_hat = argmax_{c != y} P(c | i, x), with confusion weight a = P(y_hat | i, x).
 */
import { softmax } from './option-judge.js';

export interface BiasedLabel {
  /** y_hat: index of the most probable wrong option (ties: lowest index). */
  index: number;
  /**
   * Confusion weight with P normalised over the item's options: softmax(logprobs)[y_hat].
   * Comparable across items whose options differ in length.
   */
  confusionWeight: number;
  /** The paper's literal P(y_hat | i, x): exp(sequence logprob of y_hat), not normalised. */
  sequenceProb: number;
}

/**
 * @param logprobs sequence log-probability of each option (sum of token log-probabilities)
 * @param gold index of the correct option
 */
export function biasedLabel(logprobs: readonly number[], gold: number): BiasedLabel {
  if (logprobs.length < 2) throw new RangeError(`biased label: need at least two options, got ${logprobs.length}`);
  if (!Number.isInteger(gold) || gold < 0 || gold >= logprobs.length) {
    throw new RangeError(`biased label: gold index ${gold} is not an option index (0..${logprobs.length - 1})`);
  }
  const probs = softmax(logprobs);
  let best = -1;
  for (let c = 0; c < logprobs.length; c++) {
    if (c === gold) continue;
    if (best < 0 || logprobs[c]! > logprobs[best]!) best = c;
  }
  return { index: best, confusionWeight: probs[best]!, sequenceProb: Math.exp(logprobs[best]!) };
}
