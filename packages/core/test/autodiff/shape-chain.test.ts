/**
 * The structural rules composed by the engine on the shape/index patterns of HF decoder exports
 * (float64): embedding Gather with run-time ids, a fused qkv projection Split into heads
 * (Reshape, Transpose), rotary rotate-half (Slice with an INT64_MAX end, Neg, Concat) with
 * cos/sin Gathered by position ids, a Where mask computed at run time from the attention mask and
 * a causal Trilu, then ReduceMax/ReduceMean pooling, Pad, Clip, Abs, Expand/Tile and a total
 * ReduceSum. Gradients w.r.t. the input activations and a weight against central differences.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, emptyModel, i64, numel, runModel, tensor, type Tensor } from '../../src/index.js';
import { buildGradientGraph } from '../../src/autodiff/index.js';
import { graphFiniteDiff, spreadIndices } from '../helpers/graph-fd.js';
import { randn } from '../helpers/gradcheck.js';

const B = 2,
  T = 5,
  H = 2,
  HD = 4,
  D = H * HD,
  V = 7;
const INT64_MAX = BigInt('9223372036854775807');

function build(opset: number) {
  const model = emptyModel(opset, 'shape_chain');
  const b = new GraphBuilder(model.graph);
  const ints = (v: (number | bigint)[]) => b.constant(i64([v.length], v as bigint[]), 'c');
  const axes = (v: number[]) => (opset >= 13 ? { inputs: [ints(v)], attrs: {} } : { inputs: [], attrs: { axes: v } });
  b.input('x', 'float64', [B, T, D]);
  b.input('ids', 'int64', [B, T]);
  b.input('attention_mask', 'int64', [B, T]);
  const embed = b.initializer('embed', randn([V, D], 11, 'float64', 0.5));
  const wqkv = b.initializer('wqkv', randn([D, 3 * D], 12, 'float64', 0.4));
  const cache = b.initializer('rope_cache', randn([16, HD], 13));
  const h = b.op('Add', [b.op('Gather', [embed, 'ids']), 'x']);
  const qkv = b.op('MatMul', [h, wqkv]);
  const [q, k, v] =
    opset >= 13
      ? b.node('Split', [qkv, ints([D, D, D])], { axis: -1 }, { outputs: 3 })
      : b.node('Split', [qkv], { axis: -1, split: [D, D, D] }, { outputs: 3 });
  const heads = (t: string) => b.op('Transpose', [b.op('Reshape', [t, ints([B, T, H, HD])])], { perm: [0, 2, 1, 3] });
  const pos = b.constant(i64([T], [3, 4, 5, 6, 7]), 'position_ids');
  const rot = b.op('Unsqueeze', [b.op('Gather', [cache, pos]), ...axes([0]).inputs], axes([0]).attrs); // [1, T, HD]
  const rope = (t: string) => {
    const x1 = b.op('Slice', [t, ints([0]), ints([HD / 2]), ints([-1])]);
    const x2 = b.op('Slice', [t, ints([HD / 2]), ints([INT64_MAX]), ints([-1])]);
    const half = b.op('Concat', [b.op('Neg', [x2]), x1], { axis: -1 });
    return b.op('Add', [b.op('Mul', [t, rot]), b.op('Mul', [half, b.op('Cos', [rot])])]);
  };
  const qh = rope(heads(q));
  const kh = rope(heads(k));
  const scores = b.op('MatMul', [qh, b.op('Transpose', [kh], { perm: [0, 1, 3, 2] })]); // [B, H, T, T]
  // Run-time condition: causal (Trilu of ones) and key padding from attention_mask.
  const causal = b.op('Cast', [b.op('Trilu', [b.constant(tensor('int64', [T, T], new Array(T * T).fill(1)), 'ones')], { upper: 0 })], { to: 9 });
  const keyOk = b.op('Cast', [b.op('Unsqueeze', ['attention_mask', ...axes([1, 2]).inputs], axes([1, 2]).attrs)], { to: 9 });
  const masked = b.op('Where', [b.op('And', [causal, keyOk]), scores, b.scalar(-1e4, 'float64')]);
  const probs = b.op('Softmax', [masked], { axis: -1 });
  const ctxv = b.op('Reshape', [b.op('Transpose', [b.op('MatMul', [probs, heads(v)])], { perm: [0, 2, 1, 3] }), ints([B, T, D])]);
  const redAttrs = (ax: number[], keep: number, op: string) =>
    (op === 'ReduceSum' ? opset >= 13 : opset >= 18) ? { inputs: [ints(ax)], attrs: { keepdims: keep } } : { inputs: [], attrs: { axes: ax, keepdims: keep } };
  const r1 = redAttrs([1], 0, 'ReduceMax');
  const pooledMax = b.op('ReduceMax', [ctxv, ...r1.inputs], r1.attrs); // [B, D]
  const r2 = redAttrs([-1], 1, 'ReduceMean');
  const pooledMean = b.op('ReduceMean', [ctxv, ...r2.inputs], r2.attrs); // [B, T, 1]
  const padded = b.op('Pad', [b.op('Squeeze', [pooledMean, ...axes([2]).inputs], axes([2]).attrs), ints([0, 1, 0, 2])]); // [B, T+3]
  const joined = b.op('Concat', [pooledMax, padded], { axis: 1 }); // [B, D+T+3]
  const clipped = b.op('Clip', [joined, b.scalar(-0.8, 'float64'), b.scalar(0.9, 'float64')]);
  const tiled = b.op('Tile', [b.op('Abs', [clipped]), ints([2, 1])]);
  const widened = b.op('Expand', [b.op('Unsqueeze', [tiled, ...axes([0]).inputs], axes([0]).attrs), ints([3, 2 * B, D + T + 3])]);
  const weights = b.constant(randn([3, 2 * B, D + T + 3], 14), 'w_obj');
  const r3 = redAttrs([0, 1, 2], 0, 'ReduceSum');
  const loss = b.op('ReduceSum', [b.op('Mul', [widened, weights]), ...r3.inputs], r3.attrs);
  const feeds: Record<string, Tensor> = {
    x: randn([B, T, D], 15),
    ids: i64([B, T], [1, 5, 5, 0, 1, 3, 3, 6, 3, 2]),
    attention_mask: i64([B, T], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]),
  };
  return { model, feeds, loss, probs, ctxv };
}

describe('structural rules composed by the engine', () => {
  for (const opset of [14, 17]) {
    it(`decoder-style shape chain, gradients w.r.t. x, a weight, the embeddings and the attention context (opset ${opset})`, async () => {
      const { model, feeds, loss, ctxv } = build(opset);
      const wrt = ['x', 'wqkv', 'embed', ctxv];
      const { model: gm, gradients } = await buildGradientGraph(model, { objective: loss, wrt, feeds });
      const res = await runModel(gm, feeds, { optimization: 'disabled' });
      for (const name of wrt) {
        const g = res[gradients.get(name)!]!;
        const idx = spreadIndices(numel(g.dims), 24, 1);
        const numeric = await graphFiniteDiff(model, name, idx, { objective: loss, feeds, eps: 1e-6 });
        expect(
          numeric.some((n) => Math.abs(n) > 1e-4),
          `${name}: finite differences not all ~0`,
        ).toBe(true);
        idx.forEach((i, j) => {
          const a = Number((g.data as Float64Array)[i]);
          expect(Math.abs(a - numeric[j]!) / Math.max(1, Math.abs(numeric[j]!)), `${name}[${i}]: ${a} vs ${numeric[j]}`).toBeLessThan(1e-6);
        });
      }
    });
  }
});
