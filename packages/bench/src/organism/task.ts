/**
 * The organism's evaluation task for `crispr run --data organism`: the held-out BBQ template items
 * and the held-out retention items; attribution (and the k search on the dev split) under the
 * training instructions, the evaluation sweep under the held-out instructions. Metrics: the BBQ
 * ones over the BBQ items, plus retention accuracy over the retention items; retention items are
 * never attributed (they have no biased answer).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { McItem } from '@crispr-bench/core';
import { answerStrings, organismBbqItems, organismInstructions, organismRetentionItems, renderPrompt } from '@crispr-bench/datasets';
import { argmax } from '@crispr-bench/judges';
import { bbqTask, type EvalTask, type Instruction, type ScoredOptions } from '../pipeline/tasks.js';
import { readRecipe, type OrganismRecipe } from './recipe.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The shipped, committed organism model folder and the recipe it was trained from. */
export const ORGANISM_MODEL_DIR = join(HERE, 'model');
export const ORGANISM_RECIPE_PATH = join(HERE, 'recipe.json');

export function shippedRecipe(): OrganismRecipe {
  return readRecipe(ORGANISM_RECIPE_PATH);
}

const isRetention = (i: McItem) => i.category === 'retention';

export async function organismTask(recipe: OrganismRecipe = shippedRecipe()): Promise<EvalTask> {
  const template = recipe.data.template;
  const bbq = await organismBbqItems('heldOut', recipe.data.expandSeed);
  const retention = organismRetentionItems('heldOut', recipe.data.retentionHeldOut, recipe.seed);
  const asInstructions = (split: 'train' | 'heldOut'): Instruction[] => {
    const s = organismInstructions(split);
    return s.instructions.map((text, i) => ({ id: `${s.name}-${i + 1}`, text }));
  };
  const train = asInstructions('train');
  const heldOut = asInstructions('heldOut');
  const base = bbqTask(
    [...bbq, ...retention],
    train,
    (item, ins) => renderPrompt(template, ins.text, item),
    (item) => answerStrings(template, item),
    `the trained model organism's held-out BBQ templates (${[...new Set(bbq.map((i) => i.category))].join(', ')}; ${bbq.length} items) and held-out retention items (${retention.length}); attribution under ${train.length} training instructions, evaluation under ${heldOut.length} held-out instructions`,
  );
  // Indices, not copies: the bootstrap calls metrics() with the same rows a thousand times.
  const retentionAccuracy = (rows: readonly ScoredOptions[], idx: readonly number[]): number | null =>
    idx.length
      ? idx.filter((i) => (rows[i]!.pred !== undefined ? rows[i]!.pred : argmax(rows[i]!.logprobs)) === rows[i]!.item.label).length / idx.length
      : null;
  return {
    ...base,
    name: 'organism',
    evalInstructions: heldOut,
    attributionTarget: (item) => (isRetention(item) ? null : base.attributionTarget(item)),
    metrics: (scored, indices) => {
      const idx = indices ? Array.from(indices) : scored.map((_, i) => i);
      const bbqIdx = idx.filter((i) => !isRetention(scored[i]!.item));
      const retIdx = idx.filter((i) => isRetention(scored[i]!.item));
      return { ...base.metrics(scored, bbqIdx), retentionAccuracy: retentionAccuracy(scored, retIdx) };
    },
    metricInfo: [...base.metricInfo, { key: 'retentionAccuracy', label: 'accuracy on the retention task', better: 'higher' }],
    // The k search keeps the paper's criterion, BBQ accuracy on dev (retention is reported, not optimised).
    selection: (scored) => base.selection(scored.filter((s) => !isRetention(s.item))),
  };
}
