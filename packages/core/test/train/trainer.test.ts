/**
 * The trainer on a small T5 with a word-level tokenizer: the folder loads (transformers.js
 * tokenizer included), gradients of the training loss w.r.t. weights match central finite
 * differences of the same loss, a copy task's loss falls, and a resumed run equals an unbroken one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { centralDifference } from '@crispr-bench/testing';
import {
  Trainer,
  collectWordVocabulary,
  learningRate,
  loadModelFolder,
  makeT5Folder,
  wordLevelTokenizer,
  type Seq2seqExample,
  type T5TinyConfig,
} from '../../src/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'crispr-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const COLOURS = ['red', 'blue', 'green', 'black', 'white', 'pink'];
const THINGS = ['cup', 'hat', 'box', 'car', 'pen', 'bag'];
const texts: { prompt: string; target: string }[] = [];
for (const c of COLOURS) for (const t of THINGS) texts.push({ prompt: `the ${t} is ${c} . what colour is the ${t} ?`, target: c });

async function setup(name: string) {
  const words = collectWordVocabulary(texts.flatMap((x) => [x.prompt, x.target]));
  const cfg: T5TinyConfig = {
    dModel: 32,
    dFf: 64,
    dKv: 8,
    numHeads: 4,
    numLayers: 1,
    numDecoderLayers: 1,
    vocabSize: words.length + 3,
    feedForwardProj: 'relu',
    tieWordEmbeddings: false,
    seed: 3,
    tokenizer: 'generated',
  };
  const dir = join(tmp, name);
  makeT5Folder(dir, cfg, { tokenizerJson: wordLevelTokenizer(words), mergedDecoder: false });
  const folder = await loadModelFolder(dir);
  const examples: Seq2seqExample[] = texts.map((x) => ({
    inputIds: folder.tokenizer.encode(x.prompt),
    target: folder.tokenizer.encode(x.target, { add_special_tokens: false }),
  }));
  return { folder, examples };
}

const OPTS = {
  batchSize: 8,
  peakLr: 1e-2,
  warmupSteps: 10,
  weightDecay: 0.01,
  clipNorm: 1,
  seed: 5,
  evalEvery: 0,
  checkpointEvery: 0,
  padTokenId: 0,
  decoderStartTokenId: 0,
  session: { intraOpThreads: 1 },
};

describe('trainer', () => {
  it('word-level tokenizer: one id per word, </s> appended, unknown words to <unk>', async () => {
    const { folder } = await setup('tok');
    const ids = folder.tokenizer.encode('The CUP is red.');
    expect(ids).toHaveLength(6);
    expect(ids[5]).toBe(1);
    expect(folder.tokenizer.encode('zebra', { add_special_tokens: false })).toEqual([2]);
  });

  it('gradients w.r.t. weights match central finite differences of the loss', async () => {
    const { folder, examples } = await setup('fd');
    const t = await Trainer.create(folder.graph, examples, { ...OPTS, steps: 1 });
    try {
      const rows = examples.slice(0, 8);
      const base = await t.lossAndGradients(rows);
      const names = t.graph.params;
      const pick = [
        'shared.weight',
        'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight',
        'decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight',
        'encoder.block.0.layer.0.SelfAttention.q.weight',
        'decoder.block.0.layer.1.EncDecAttention.v.weight',
        'decoder.block.0.layer.2.DenseReluDense.wi.weight',
        'decoder.final_layer_norm.weight',
        'lm_head.weight',
      ];
      let checked = 0;
      for (const name of pick) {
        const k = names.indexOf(name);
        expect(k, name).toBeGreaterThanOrEqual(0);
        const p = t.params[k]!;
        const g = base.grads[k]!;
        // The elements with the largest gradients (small ones are all rounding at float32).
        const idx = [...g.keys()].sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 3);
        for (const i of idx) {
          const numeric = await centralDifference(p, i, 2e-3, async () => (await t.lossAndGradients(rows)).loss);
          expect(Math.abs(g[i]! - numeric), `${name}[${i}] analytic ${g[i]} numeric ${numeric}`).toBeLessThan(0.03 * Math.abs(numeric) + 2e-3);
          checked++;
        }
      }
      expect(checked).toBe(24);
    } finally {
      await t.close();
    }
  });

  it('the loss of a copy task falls, and a resumed run equals an unbroken one', async () => {
    const { folder, examples } = await setup('fit');
    const opts = { ...OPTS, steps: 120 };
    const full = await Trainer.create(folder.graph, examples, opts);
    const first = await Trainer.create(folder.graph, examples, opts);
    const second = await Trainer.create(folder.graph, examples, opts);
    try {
      await full.run();
      const mean = (xs: { loss: number }[]) => xs.reduce((s, h) => s + h.loss, 0) / xs.length;
      expect(mean(full.history.slice(-10))).toBeLessThan(0.3 * mean(full.history.slice(0, 10)));
      // Interrupted after 50 steps (state written there), resumed by a fresh trainer.
      const dir = join(tmp, 'state');
      await first.run({}, dir, 50);
      expect(first.step).toBe(50);
      expect(second.loadState(dir)).toBe(true);
      expect(second.step).toBe(50);
      await second.run({}, dir);
      expect(second.history.map((h) => h.step)).toEqual(full.history.map((h) => h.step));
      second.params.forEach((p, k) => {
        const q = full.params[k]!;
        let d = 0;
        for (let i = 0; i < p.length; i++) d = Math.max(d, Math.abs(p[i]! - q[i]!));
        expect(d, full.graph.params[k]).toBeLessThan(1e-5);
      });
      // Another run's state is refused.
      const other = await Trainer.create(folder.graph, examples, { ...opts, seed: 6 });
      expect(() => other.loadState(dir)).toThrow(/other options or data/);
      await other.close();
    } finally {
      await Promise.all([full.close(), first.close(), second.close()]);
    }
  });

  it('learning rate: linear warm-up, cosine decay to the final fraction', () => {
    const s = { peakLr: 1, warmupSteps: 10, totalSteps: 110, finalFraction: 0.1 };
    expect(learningRate(0, s)).toBeCloseTo(0.1);
    expect(learningRate(9, s)).toBeCloseTo(1);
    expect(learningRate(60, s)).toBeCloseTo(0.55);
    expect(learningRate(110, s)).toBeCloseTo(0.1);
  });
});
