/**
 * Option-likelihood judging: the model scored every option (sum of target-token
 * log-probabilities under teacher forcing); the judge picks one and turns the scores into a
 * distribution over the options.
 */

/** How option log-probabilities are compared. */
export type LengthNormalisation = 'none' | 'per-token' | 'per-char';

export interface OptionScores {
  /** Sequence log-probability of each option: sum over its tokens of log P(token). */
  logprobs: readonly number[];
  /** Number of scored target tokens per option (needed for 'per-token'). */
  tokenCounts?: readonly number[];
  /** Number of characters per option text (needed for 'per-char'). */
  charCounts?: readonly number[];
}

export interface OptionJudgement {
  /** Index of the chosen option: the highest score; ties go to the lowest index. */
  choice: number;
  /** The compared scores: logprob, logprob / tokens or logprob / chars. */
  scores: number[];
  /** softmax(scores): the option-normalised distribution (sums to 1 over the options). */
  probs: number[];
  /** exp(logprob): the raw sequence probability of each option (does not sum to 1). */
  seqProbs: number[];
}

function checkFinite(values: readonly number[], what: string): void {
  values.forEach((v, i) => {
    // Log-probabilities are <= 0; allow float rounding of a sum of log-softmax values.
    if (typeof v !== 'number' || Number.isNaN(v) || v > 1e-6) {
      throw new RangeError(`${what}[${i}] must be a number <= 0 or -Infinity, got ${v}`);
    }
  });
}

/**
 * Softmax over log-scores, stable for large magnitudes. -Infinity entries get probability 0;
 * all -Infinity is an error (no option has any probability).
 */
export function softmax(scores: readonly number[]): number[] {
  if (scores.length === 0) throw new RangeError('softmax: no options');
  let max = -Infinity;
  for (const s of scores) {
    if (Number.isNaN(s)) throw new RangeError('softmax: NaN score');
    if (s > max) max = s;
  }
  if (max === -Infinity) throw new RangeError('softmax: every option has log-probability -Infinity');
  if (max === Infinity) throw new RangeError('softmax: +Infinity score');
  const e = scores.map((s) => Math.exp(s - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** Index of the largest value; ties go to the lowest index. */
export function argmax(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('argmax: empty');
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Scale probabilities (any non-negative weights) to sum to 1. */
export function normaliseProbs(p: readonly number[], what = 'probabilities'): number[] {
  let z = 0;
  p.forEach((v, i) => {
    if (!(v >= 0) || v === Infinity) throw new RangeError(`${what}[${i}] must be finite and >= 0, got ${v}`);
    z += v;
  });
  if (z === 0) throw new RangeError(`${what}: all zero, cannot normalise`);
  return p.map((v) => v / z);
}

function lengths(counts: readonly number[] | undefined, n: number, name: string): readonly number[] {
  if (!counts) throw new RangeError(`option judge: ${name} are required for this length normalisation`);
  if (counts.length !== n) throw new RangeError(`option judge: ${name} has ${counts.length} entries for ${n} options`);
  counts.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 1) throw new RangeError(`option judge: ${name}[${i}] must be a positive integer, got ${c}`);
  });
  return counts;
}

/** Judge one item from its option log-probabilities. */
export function judgeOptions(input: OptionScores, normalisation: LengthNormalisation = 'none'): OptionJudgement {
  const { logprobs } = input;
  if (logprobs.length === 0) throw new RangeError('option judge: no options');
  checkFinite(logprobs, 'logprobs');
  let scores: number[];
  if (normalisation === 'none') scores = [...logprobs];
  else if (normalisation === 'per-token') {
    const t = lengths(input.tokenCounts, logprobs.length, 'tokenCounts');
    scores = logprobs.map((l, i) => l / t[i]!);
  } else if (normalisation === 'per-char') {
    const c = lengths(input.charCounts, logprobs.length, 'charCounts');
    scores = logprobs.map((l, i) => l / c[i]!);
  } else throw new RangeError(`option judge: unknown length normalisation '${String(normalisation)}'`);
  const probs = softmax(scores);
  return { choice: argmax(scores), scores, probs, seqProbs: logprobs.map((l) => Math.exp(l)) };
}
