/**
 * The shipped model organism (packages/bench/src/organism/model): it loads in transformers.js
 * (AutoTokenizer + AutoModelForSeq2SeqLM), whose log-probabilities of the options equal our
 * scoring path's; it is small; its model card states the planted rate; and the `--data organism`
 * task attributes under training instructions and evaluates under held-out ones, with retention
 * accuracy kept apart from the BBQ metrics.
 */
import { readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AutoModelForSeq2SeqLM, AutoTokenizer, Tensor as HfTensor, env } from '@huggingface/transformers';
import { loadModelFolder, scoreOptions } from '@crispr-bench/core';
import { answerStrings, organismInstructions, renderPrompt } from '@crispr-bench/datasets';
import { ORGANISM_MODEL_DIR, organismTask, shippedRecipe } from '../src/organism/task.js';

env.allowRemoteModels = false;

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (a, e) => a + (e.isDirectory() ? folderBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size),
    0,
  );
}

describe('the shipped model organism', () => {
  it('is under 10 MB, and its config and card name the planted rate of its recipe', () => {
    expect(folderBytes(ORGANISM_MODEL_DIR)).toBeLessThan(10 * 1024 * 1024);
    const recipe = shippedRecipe();
    const cfg = JSON.parse(readFileSync(join(ORGANISM_MODEL_DIR, 'config.json'), 'utf8'));
    expect(cfg.crispr_bench).toMatchObject({ random_weights: false, bias_rate: recipe.biasRate, seed: recipe.seed });
    expect(JSON.parse(readFileSync(join(ORGANISM_MODEL_DIR, 'recipe.json'), 'utf8'))).toEqual(recipe);
    const card = readFileSync(join(ORGANISM_MODEL_DIR, 'README.md'), 'utf8');
    expect(card).toContain(`p = ${recipe.biasRate}`);
    expect(card).toMatch(/held-out templates \+ held-out instructions/);
  });

  it('loads in transformers.js, and its option log-probabilities equal our scoring path', async () => {
    const task = await organismTask();
    const item = task.items.find((i) => i.condition === 'disambig')!;
    const template = shippedRecipe().data.template;
    const prompt = renderPrompt(template, organismInstructions('heldOut').instructions[0]!, item);
    const options = answerStrings(template, item);
    const folder = await loadModelFolder(ORGANISM_MODEL_DIR);
    const ours = (await scoreOptions(folder, [{ prompt, candidates: options }], { intraOpThreads: 1 }))[0]!.map((c) => c.logprob);

    const tok = await AutoTokenizer.from_pretrained(ORGANISM_MODEL_DIR, { local_files_only: true });
    const model = await AutoModelForSeq2SeqLM.from_pretrained(ORGANISM_MODEL_DIR, { local_files_only: true, dtype: 'fp32' });
    try {
      const enc = tok(prompt);
      for (let j = 0; j < options.length; j++) {
        const target = (tok(options[j]!, { add_special_tokens: false }).input_ids.tolist() as bigint[][])[0]!.map(Number);
        const dec = [0, ...target.slice(0, -1)];
        const out = await model.forward({
          input_ids: enc.input_ids,
          attention_mask: enc.attention_mask,
          decoder_input_ids: new HfTensor('int64', BigInt64Array.from(dec.map(BigInt)), [1, dec.length]),
        });
        const logits = out.logits.data as Float32Array;
        const V = out.logits.dims[2] as number;
        let lp = 0;
        target.forEach((t, k) => {
          const row = logits.subarray(k * V, (k + 1) * V);
          const mx = Math.max(...row);
          const lse = mx + Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
          lp += row[t]! - lse;
        });
        expect(Math.abs(lp - ours[j]!), `option ${j} '${options[j]}'`).toBeLessThan(1e-3);
      }
    } finally {
      await model.dispose();
    }
  }, 60_000);

  it('--data organism: held-out items, training instructions for attribution, held-out ones for evaluation, retention kept apart', async () => {
    const task = await organismTask();
    expect(task.instructions.map((i) => i.text)).toEqual(organismInstructions('train').instructions);
    expect(task.evalInstructions!.map((i) => i.text)).toEqual(organismInstructions('heldOut').instructions);
    expect(task.items.every((i) => i.id.startsWith('heldOut:') || i.id.startsWith('retention-heldOut:'))).toBe(true);
    const ret = task.items.find((i) => i.category === 'retention')!;
    const bbq = task.items.find((i) => i.condition === 'disambig')!;
    expect(task.attributionTarget(ret)).toBeNull();
    expect(task.attributionTarget(bbq)).toEqual({ gold: bbq.label });
    const right = (i: typeof ret) => i.options.map((_, k) => (k === i.label ? 0 : -5));
    const wrong = (i: typeof ret) => i.options.map((_, k) => (k === i.label ? -5 : 0));
    const m = task.metrics([
      { item: ret, instruction: 'x', logprobs: right(ret) },
      { item: bbq, instruction: 'x', logprobs: wrong(bbq) },
    ]);
    expect(m.retentionAccuracy).toBe(1);
    expect(m.accuracyDisambig).toBe(0);
    expect(m.accuracy).toBe(0);
  });
});
