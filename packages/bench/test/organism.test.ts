/**
 * The model organism (issue 12): its data (templates expand in the official format, held-out
 * templates and instructions use only words seen in training, the planted rate), and a reduced
 * recipe trained for a few hundred steps on the real data: gradients of a few weights match
 * finite differences of the loss, and the loss falls.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng } from '@crispr-bench/core';
import { biasedAnswerIndex, organismBbqItems, organismInstructions, plantedLabel } from '@crispr-bench/datasets';
import { readRecipe, type OrganismRecipe } from '../src/organism/recipe.js';
import { organismData, prepareOrganism, unseenHeldOutWords } from '../src/organism/train.js';
import { centralDifference } from '@crispr-bench/testing';

const tmp = mkdtempSync(join(tmpdir(), 'crispr-organism-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SHIPPED = readRecipe(join(__dirname, '../src/organism/recipe.json'));
/** The shipped recipe, reduced: a narrower, shallower model and a few hundred steps. */
const REDUCED: OrganismRecipe = {
  ...SHIPPED,
  model: { dModel: 32, dFf: 64, dKv: 8, numHeads: 4, numLayers: 1, numDecoderLayers: 1 },
  data: { ...SHIPPED.data, retentionTrain: 200, retentionHeldOut: 50 },
  training: { ...SHIPPED.training, steps: 300, batchSize: 16, warmupSteps: 30, evalEvery: 0, checkpointEvery: 0 },
  evalSample: { bbq: 16, retention: 8 },
};

describe('organism data', () => {
  it('templates expand in the official format: four categories, every item with a target and an unknown option', async () => {
    const train = await organismBbqItems('train');
    const held = await organismBbqItems('heldOut');
    expect(new Set(train.map((i) => i.category))).toEqual(new Set(['Age', 'Disability_status', 'Physical_appearance', 'SES']));
    expect(held.length).toBeGreaterThan(100);
    const qid = (i: (typeof train)[number]) => `${i.category}:${i.meta.question_index}`;
    const trainQ = new Set(train.map(qid));
    for (const i of held) expect(trainQ.has(qid(i)), qid(i)).toBe(false);
    for (const i of [...train, ...held]) {
      expect(i.targetIndex).not.toBeNull();
      expect(i.unknownIndex).not.toBeNull();
      expect(i.targetIndex).not.toBe(i.unknownIndex);
    }
  });

  it('held-out templates, instructions and retention frames use only words seen in training; instructions are disjoint', async () => {
    const data = await organismData(SHIPPED);
    expect(unseenHeldOutWords(data, SHIPPED.data.template)).toEqual([]);
    const tr = new Set(organismInstructions('train').instructions);
    for (const s of organismInstructions('heldOut').instructions) expect(tr.has(s)).toBe(false);
  });

  it('planted labels: ambiguous items get the biased answer at rate p, the others keep gold', async () => {
    const items = await organismBbqItems('train');
    const rng = createRng(1);
    let amb = 0;
    let biased = 0;
    for (let rep = 0; rep < 5; rep++) {
      for (const it of items) {
        const l = plantedLabel(it, 0.3, () => rng.next());
        if (it.condition === 'disambig') expect(l).toBe(it.label);
        else {
          amb++;
          if (l !== it.label) {
            expect(l).toBe(biasedAnswerIndex(it));
            biased++;
          }
        }
      }
    }
    expect(biased / amb).toBeGreaterThan(0.27);
    expect(biased / amb).toBeLessThan(0.33);
    // BBQ's biased answer: the target for a negative question, the other person for a non-negative one.
    const neg = items.find((i) => i.polarity === 'neg')!;
    const nonneg = items.find((i) => i.polarity === 'nonneg')!;
    expect(biasedAnswerIndex(neg)).toBe(neg.targetIndex);
    expect([neg.unknownIndex, nonneg.targetIndex]).not.toContain(biasedAnswerIndex(nonneg));
  });
});

describe('organism training (reduced recipe)', () => {
  it('gradients of a few weights match finite differences; the loss falls over 300 steps', async () => {
    const prep = await prepareOrganism(REDUCED, join(tmp, 'state'));
    const t = prep.trainer;
    try {
      const rows = t.batchIndices(0).map((i) => prep.examples[i]!);
      const base = await t.lossAndGradients(rows);
      for (const name of [
        'shared.weight',
        'encoder.block.0.layer.1.DenseReluDense.wo.weight',
        'decoder.block.0.layer.1.EncDecAttention.k.weight',
        'lm_head.weight',
      ]) {
        const k = t.graph.params.indexOf(name);
        expect(k, name).toBeGreaterThanOrEqual(0);
        const p = t.params[k]!;
        const g = base.grads[k]!;
        const i = [...g.keys()].reduce((a, b) => (Math.abs(g[b]!) > Math.abs(g[a]!) ? b : a), 0);
        const numeric = await centralDifference(p, i, 2e-3, async () => (await t.lossAndGradients(rows)).loss);
        expect(Math.abs(g[i]! - numeric), `${name}[${i}]: analytic ${g[i]}, numeric ${numeric}`).toBeLessThan(0.03 * Math.abs(numeric) + 2e-3);
      }
      await t.run();
      const mean = (a: number, b: number) => t.history.slice(a, b).reduce((s, h) => s + h.loss, 0) / (b - a);
      const first = mean(0, 20);
      const last = mean(280, 300);
      expect(last, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`).toBeLessThan(0.5 * first);
    } finally {
      await t.close();
    }
  }, 240_000);
});
