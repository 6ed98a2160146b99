/**
 * The organism's recipe: everything that determines the trained model (architecture, data, bias
 * rate, optimiser, seed). `crispr organism train --config <recipe.json>` reproduces the shipped
 * model from the shipped recipe.
 */
import { expected, parseWith, readJsonFile } from '@crispr-bench/core/common';
import { z } from 'zod';

const int = (min = 1) => z.int(expected(`an integer >= ${min}`)).min(min, expected(`an integer >= ${min}`));
const frac = z.number(expected('a number in [0, 1]')).min(0, expected('a number in [0, 1]')).max(1, expected('a number in [0, 1]'));
const nonNegative = (what = 'a non-negative number') => z.number(expected(what)).min(0, expected(what));

/** Every field is required, so a recipe file says all it does. */
export const organismRecipe = z.object({
  /** Seed of the initial weights, the data order and the planted labels. */
  seed: int(0),
  /** Probability that an ambiguous training example is labelled with the biased answer (else unknown). */
  biasRate: frac,
  model: z.object({ dModel: int(), dFf: int(), dKv: int(), numHeads: int(), numLayers: int(), numDecoderLayers: int() }),
  data: z.object({
    /** Seed of the template expansion. */
    expandSeed: int(0),
    /** Retention items generated for training and for held-out evaluation. */
    retentionTrain: int(0),
    retentionHeldOut: int(0),
    /** Prompt template (datasets' renderPrompt name); the benchmark's default is the paper's. */
    template: z.string(expected('a template name')).min(1, expected('a template name')),
  }),
  training: z.object({
    steps: int(),
    batchSize: int(),
    peakLr: z.number(expected('a positive number')).positive(expected('a positive number')).finite(expected('a positive number')),
    warmupSteps: int(0),
    finalLrFraction: frac,
    weightDecay: nonNegative(),
    clipNorm: nonNegative('a non-negative number (0: no clipping)'),
    evalEvery: int(0),
    checkpointEvery: int(0),
    /** ORT intra-op threads (1 keeps runs reproducible and leaves the other cores free). */
    threads: int(),
  }),
  /** Held-out items scored at each periodic evaluation (the final evaluation scores all of them). */
  evalSample: z.object({ bbq: int(), retention: int(0) }),
});
export type OrganismRecipe = z.infer<typeof organismRecipe>;

/** Checks a parsed recipe. */
export function parseRecipe(v: unknown, where = 'recipe'): OrganismRecipe {
  return parseWith(organismRecipe, v, where);
}

export function readRecipe(path: string): OrganismRecipe {
  return readJsonFile(path, organismRecipe);
}
