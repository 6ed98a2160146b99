/**
 * End-to-end check of the engine on a transformer block (test/helpers/transformer-block.ts):
 * embedding Gather, RMSNorm, multi-head attention with a causal + padding additive mask,
 * LayerNorm, gated SiLU FFN, residuals, LM head, cross-entropy via LogSoftmax + one-hot Mul +
 * ReduceSum. Engine gradients of the loss w.r.t. weights and intermediate activations, computed
 * in float32 by ORT (optimisation level 'all'), are compared with central finite differences of
 * the same graph in float64 (weights copied from the float32 model, eps 1e-6). Per sampled
 * element: |analytic - numeric| <= 1e-3 * max(|numeric|, 1e-3). The float64 gradient graph is
 * held to 1e-6 with the same metric.
 */
import { describe, expect, it } from 'vitest';
import { runModel, numel, tensor, type Tensor } from '../../src/index.js';
import { buildGradientGraph } from '../../src/autodiff/index.js';
import { buildTransformerBlock, type BlockConfig } from '../helpers/transformer-block.js';
import { graphFiniteDiff, spreadIndices } from '../helpers/graph-fd.js';
import { randn } from '../helpers/gradcheck.js';

const CFG: Omit<BlockConfig, 'dtype'> = { batch: 3, seq: 8, dModel: 8, heads: 2, dFf: 12, vocab: 11, seed: 3 };

function blocks() {
  const b32 = buildTransformerBlock({ ...CFG, dtype: 'float32' });
  const b64 = buildTransformerBlock({ ...CFG, dtype: 'float64' });
  // Same weights exactly: the float64 graph gets the float32 values.
  for (const [name, t] of b32.model.graph.initializers) {
    if (t.dtype === 'float32') b64.model.graph.initializers.set(name, tensor('float64', t.dims, t.data as Float32Array));
  }
  return { b32, b64 };
}

const SAMPLES = 10;

function compare(what: string, analytic: Tensor, idx: number[], numeric: number[], tol: number) {
  idx.forEach((i, k) => {
    const a = Number((analytic.data as Float32Array)[i]);
    const n = numeric[k]!;
    const rel = Math.abs(a - n) / Math.max(Math.abs(n), 1e-3);
    expect(rel, `${what}[${i}]: analytic ${a}, numeric ${n}`).toBeLessThan(tol);
  });
}

describe('engine on a transformer block', () => {
  const { b32, b64 } = blocks();
  const weightNames = Object.values(b32.weights);
  const actNames = [b32.activations.norm1!, b32.activations.probs!, b32.activations.hidden1!, b32.activations.gated!];

  it('the fixture has padding and masked target positions', () => {
    const am = Array.from(b32.feeds.attention_mask!.data as BigInt64Array, Number);
    expect(am.filter((v) => v === 0).length).toBeGreaterThan(0);
  });

  it('loss gradients w.r.t. every weight and four activations match float64 finite differences (float32 rel. error < 1e-3)', async () => {
    const wrt = [...weightNames, ...actNames];
    const { model, gradients } = await buildGradientGraph(b32.model, { objective: b32.loss, wrt, feeds: b32.feeds });
    const res = await runModel(model, b32.feeds);
    const feeds64 = { ...b64.feeds };
    for (const name of wrt) {
      const g = res[gradients.get(name)!]!;
      const idx = spreadIndices(numel(g.dims), SAMPLES, 1);
      const numeric = await graphFiniteDiff(b64.model, name, idx, { objective: b64.loss, feeds: feeds64, eps: 1e-6 });
      expect(
        numeric.some((v) => Math.abs(v) > 1e-6),
        `${name}: the sampled finite differences are not all ~0`,
      ).toBe(true);
      compare(name, g, idx, numeric, 1e-3);
    }
  });

  it('the float64 gradient graph matches to 1e-6', async () => {
    const wrt = [b64.weights.embed!, b64.weights.wq!, b64.weights.norm1!, b64.weights.norm2!, b64.weights.wd!, b64.activations.probs!];
    const { model, gradients } = await buildGradientGraph(b64.model, { objective: b64.loss, wrt, feeds: b64.feeds });
    // ORT's level-'all' fusions (x * Sigmoid(x) -> QuickGelu) have no double kernels.
    const res = await runModel(model, b64.feeds, { optimization: 'basic' });
    for (const name of wrt) {
      const g = res[gradients.get(name)!]!;
      const idx = spreadIndices(numel(g.dims), SAMPLES, 2);
      compare(name, g, idx, await graphFiniteDiff(b64.model, name, idx, { objective: b64.loss, feeds: b64.feeds, eps: 1e-6 }), 1e-6);
    }
  });

  it('per-example log-probability [batch] with a seed input, as attribution uses it', async () => {
    const seed = randn([CFG.batch], 77, 'float32');
    const wrt = [b32.activations.gated!, b32.weights.wu!];
    const { model, gradients } = await buildGradientGraph(b32.model, { objective: b32.logProb, wrt, feeds: b32.feeds, seed: 'd_log_prob' });
    const res = await runModel(model, { ...b32.feeds, d_log_prob: seed });
    const seed64 = tensor('float64', [CFG.batch], seed.data as Float32Array);
    for (const name of wrt) {
      const g = res[gradients.get(name)!]!;
      const idx = spreadIndices(numel(g.dims), SAMPLES, 3);
      compare(name, g, idx, await graphFiniteDiff(b64.model, name, idx, { objective: b64.logProb, feeds: b64.feeds, seed: seed64, eps: 1e-6 }), 1e-3);
    }
  });
});
