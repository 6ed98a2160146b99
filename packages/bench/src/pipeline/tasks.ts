/**
 * Evaluation tasks: what the pipeline needs to know about a dataset (prompts, candidates, the
 * biased label, the metrics), so that the CRISPR loop is the same for BBQ and the pronoun set.
 */
import type { McItem } from '@crispr-bench/core';
import { argmax, bbqMetrics, pronounMetrics, softmax, biasedLabel, type BbqMetrics, type PronounMetrics } from '@crispr-bench/judges';

export interface Instruction {
  id: string;
  text: string;
}

export interface ScoredOptions {
  item: McItem;
  instruction: string;
  /** log P(candidate | prompt) per option (empty when the answer was generated). */
  logprobs: number[];
  /** A generated answer's matched option (null: it matched none); absent: argmax of logprobs. */
  pred?: number | null;
}

export interface MetricSpec {
  key: string;
  label: string;
  better: 'higher' | 'lower' | 'zero';
}

/**
 * `{ gold }`: y_hat is the most probable candidate other than the gold one (biasedLabel), and the
 * gold answer's attribution is the skill term. `{ gold: null, biased }`: y_hat is fixed (the
 * stereotyped pronoun of a probe), with no skill term.
 */
export type AttributionTarget = { gold: number } | { gold: null; biased: number };

/** The biased label y_hat, its confusion weight a and the gold answer (DESIGN.md §5 step 2), from an item's scores. */
export function biasedTarget(t: AttributionTarget, logprobs: readonly number[]): { biased: number; confusion: number; gold: number | null } {
  if (t.gold === null) return { biased: t.biased, confusion: optionProbs(logprobs)[t.biased]!, gold: null };
  const b = biasedLabel(logprobs, t.gold);
  return { biased: b.index, confusion: b.confusionWeight, gold: t.gold };
}

export interface EvalTask {
  name: string;
  description: string;
  items: McItem[];
  /** Instructions of attribution and of the k search on the dev split. */
  instructions: Instruction[];
  /** Instructions of the evaluation sweep on the test split (default: `instructions`). */
  evalInstructions?: Instruction[];
  prompt(item: McItem, instruction: Instruction): string;
  candidates(item: McItem): string[];
  /**
   * How the item's biased label is found, before any scoring (so the attribution sample is drawn
   * from the items alone and only the sample is scored): null when the item gives none.
   */
  attributionTarget(item: McItem): AttributionTarget | null;
  metrics(scored: ScoredOptions[], indices?: ArrayLike<number>): Record<string, number | null>;
  metricInfo: MetricSpec[];
  /** What the k search maximises on the dev split, and its name for logs and reports. */
  selection(scored: ScoredOptions[]): number;
  selectionLabel: string;
}

/**
 * The judged form of a scored array, computed once per array: the bootstrap calls metrics()
 * with the same rows and a thousand index sets, and only the index sets change.
 */
function judgedOnce<T>(judge: (s: ScoredOptions) => T): (scored: readonly ScoredOptions[]) => T[] {
  const cache = new WeakMap<readonly ScoredOptions[], T[]>();
  return (scored) => {
    let j = cache.get(scored);
    if (!j) cache.set(scored, (j = scored.map(judge)));
    return j;
  };
}

/** Option-normalised probabilities (the distribution over the offered answers). */
export function optionProbs(logprobs: readonly number[]): number[] {
  return softmax(logprobs);
}

export function pronounTask(items: McItem[], description: string): EvalTask {
  const judgedPronoun = judgedOnce((s) => ({ item: s.item, probs: optionProbs(s.logprobs) }));
  return {
    name: 'pronoun',
    description,
    items,
    // The frames are continuations for a causal LM: no instruction wording.
    instructions: [{ id: 'none', text: '' }],
    prompt: (item) => item.fields.text ?? item.fields.prompt ?? item.fields.frame ?? '',
    candidates: (item) => item.options,
    // A bias probe: the stereotyped pronoun is the biased answer; no answer is "correct".
    attributionTarget: (item) => (item.label !== null ? { gold: item.label } : item.targetIndex !== null ? { gold: null, biased: item.targetIndex } : null),
    metrics: (scored, indices) => {
      const m: PronounMetrics = pronounMetrics(judgedPronoun(scored), indices);
      return { stereotypePreference: m.stereotypePreference, stereotypeWinShare: m.stereotypeWinShare, controlAccuracy: m.controlAccuracy };
    },
    // No answer is right for a probe, so the search trades bias against the controls' skill.
    selection: (scored) => {
      const m = pronounMetrics(scored.map((s) => ({ item: s.item, probs: optionProbs(s.logprobs) })));
      return (m.controlAccuracy ?? 0) - Math.abs(m.stereotypePreference ?? 0);
    },
    selectionLabel: 'control accuracy - |stereotype preference|',
    metricInfo: [
      { key: 'stereotypePreference', label: 'mean P(stereotyped) - P(anti-stereotyped) over probes', better: 'zero' },
      { key: 'stereotypeWinShare', label: 'share of probes where the stereotyped pronoun wins', better: 'zero' },
      { key: 'controlAccuracy', label: 'accuracy on gender-explicit controls', better: 'higher' },
    ],
  };
}

/** The metrics of a BBQ task, in display order. */
export const BBQ_METRIC_INFO: MetricSpec[] = [
  { key: 'accuracy', label: 'accuracy', better: 'higher' },
  { key: 'accuracyAmbig', label: 'accuracy on ambiguous contexts', better: 'higher' },
  { key: 'accuracyDisambig', label: 'accuracy on disambiguated contexts', better: 'higher' },
  { key: 'biasAmbig', label: 'BBQ s_AMB', better: 'zero' },
  { key: 'biasDisambig', label: 'BBQ s_DIS', better: 'zero' },
];

export function bbqTask(
  items: McItem[],
  instructions: Instruction[],
  render: (item: McItem, instruction: Instruction) => string,
  candidates: (item: McItem) => string[],
  description: string,
): EvalTask {
  const judgedBbq = judgedOnce((s) => ({ item: s.item, pred: s.pred !== undefined ? s.pred : argmax(s.logprobs) }));
  return {
    name: 'bbq',
    description,
    items,
    instructions,
    prompt: render,
    candidates,
    attributionTarget: (item) => (item.label === null ? null : { gold: item.label }),
    metrics: (scored, indices) => {
      const m: BbqMetrics = bbqMetrics(judgedBbq(scored), indices);
      return {
        accuracy: m.accuracy,
        accuracyAmbig: m.accuracyAmbig,
        accuracyDisambig: m.accuracyDisambig,
        biasDisambig: m.biasDisambig,
        biasAmbig: m.biasAmbig,
      };
    },
    // DESIGN.md §5 step 7: k maximises dev accuracy.
    selection: (scored) => bbqMetrics(scored.map((s) => ({ item: s.item, pred: argmax(s.logprobs) }))).accuracy ?? 0,
    selectionLabel: 'accuracy',
    metricInfo: BBQ_METRIC_INFO,
  };
}
