/**
 * Calibration baselines over option probabilities.
 *
 * CC, contextual calibration (Zhao et al. 2021, "Calibrate Before Use"): estimate the model's
 * prior over the options from a content-free input ("N/A" in place of the example, same prompt
 * and options), then q_c = (p_c / p_cf_c) / sum_d (p_d / p_cf_d). Zhao et al. write
 * softmax(W p) with W = diag(p_cf)^-1; the chosen option is the same, and dividing and
 * renormalising keeps q a plain reweighting of p.
 *
 * DC, domain-context calibration (Fei et al. 2023, "Mitigating Label Biases for In-context
 * Learning"): the same, with the prior averaged over several content-free inputs made of random
 * in-domain words (drawDomainWords below builds those strings).
 */
import { argmax, normaliseProbs } from './option-judge.js';
import { mulberry32 } from './prng.js';

export interface CalibratedJudgement {
  /** Calibrated distribution over the options. */
  probs: number[];
  /** argmax of probs; ties go to the lowest index. */
  choice: number;
  /** The prior that was divided out (option-normalised, averaged for DC). */
  prior: number[];
}

/** Divide p by the prior elementwise and renormalise. Both are normalised first. */
function divideOut(probs: readonly number[], prior: readonly number[]): CalibratedJudgement {
  if (probs.length !== prior.length) {
    throw new RangeError(`calibration: ${probs.length} option probabilities but ${prior.length} prior entries`);
  }
  const p = normaliseProbs(probs, 'option probabilities');
  const q = normaliseProbs(prior, 'content-free probabilities');
  q.forEach((v, i) => {
    if (v === 0) throw new RangeError(`calibration: content-free probability of option ${i} is 0, cannot divide by it`);
  });
  const out = normaliseProbs(
    p.map((v, i) => v / q[i]!),
    'calibrated probabilities',
  );
  return { probs: out, choice: argmax(out), prior: q };
}

/**
 * CC: calibrate one item's option probabilities with the option probabilities the model gave
 * for the content-free input "N/A" in the same prompt.
 */
export function contextualCalibration(probs: readonly number[], contentFree: readonly number[]): CalibratedJudgement {
  return divideOut(probs, contentFree);
}

/** Mean of several option distributions, each normalised first. */
export function averagePrior(contentFree: readonly (readonly number[])[]): number[] {
  if (contentFree.length === 0) throw new RangeError('calibration: need at least one content-free distribution');
  const k = contentFree[0]!.length;
  const acc = new Array<number>(k).fill(0);
  contentFree.forEach((d, j) => {
    if (d.length !== k) throw new RangeError(`calibration: content-free distribution ${j} has ${d.length} entries, expected ${k}`);
    normaliseProbs(d, `content-free distribution ${j}`).forEach((v, i) => (acc[i]! += v));
  });
  return acc.map((v) => v / contentFree.length);
}

/**
 * DC: calibrate with the mean of the option distributions obtained for several random
 * in-domain word strings (each in the same prompt as the item).
 */
export function domainContextCalibration(probs: readonly number[], contentFree: readonly (readonly number[])[]): CalibratedJudgement {
  return divideOut(probs, averagePrior(contentFree));
}

export interface DomainWordOptions {
  /** PRNG seed (default 0). */
  seed?: number;
  /** How many strings to draw (default 20, as in Fei et al.). */
  count?: number;
  /** Words per string; default the mean word count of the texts, rounded (at least 1). */
  length?: number;
}

/** Split a text into words: whitespace-separated, outer punctuation stripped, empties dropped. */
export function domainWords(text: string): string[] {
  return text
    .split(/\s+/)
    .map((w) => w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ''))
    .filter((w) => w.length > 0);
}

/**
 * Draw `count` content-free strings of random in-domain words: each word is drawn uniformly
 * from all word tokens of `texts` (so with their corpus frequency), with replacement.
 */
export function drawDomainWords(texts: readonly string[], opts: DomainWordOptions = {}): string[] {
  const count = opts.count ?? 20;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`drawDomainWords: count must be a positive integer, got ${count}`);
  const pool: string[] = [];
  let totalWords = 0;
  for (const t of texts) {
    const w = domainWords(t);
    totalWords += w.length;
    for (const x of w) pool.push(x);
  }
  if (pool.length === 0) throw new RangeError('drawDomainWords: the texts contain no words');
  const length = opts.length ?? Math.max(1, Math.round(totalWords / texts.length));
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`drawDomainWords: length must be a positive integer, got ${length}`);
  const rng = mulberry32(opts.seed ?? 0);
  const out: string[] = [];
  for (let j = 0; j < count; j++) {
    const words: string[] = [];
    for (let i = 0; i < length; i++) words.push(pool[rng.int(pool.length)]!);
    out.push(words.join(' '));
  }
  return out;
}
