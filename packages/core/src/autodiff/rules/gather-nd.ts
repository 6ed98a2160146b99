/**
 * GatherND (with batch_dims): each index tuple selects a slice data[b, i0..ik-1, ...] of Q elements.
 * Viewing data as n = B*R rows of Q (B batch, R = product of the k indexed dims), the tuple picks
 * row b*R + sum_j i_j * stride_j; the gradient scatter-adds the rows of dy there.
 */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { toNumbers, tensor } from '../../onnx/tensor.js';
import {
  allDistinct, asInt64, attrInt, dimsOf, fail, noGrads, prod, scatterAddRows, strides,
} from './shape-common.js';

export const gatherNDRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const { b } = ctx;
  const dDims = dimsOf(ctx, ctx.node.inputs[0]!);
  const iName = ctx.node.inputs[1]!;
  const iDims = dimsOf(ctx, iName);
  const bd = attrInt(ctx, 'batch_dims') ?? 0;
  const k = iDims[iDims.length - 1]!;
  if (k < 1 || bd + k > dDims.length) fail(ctx, `index tuples of length ${k} with batch_dims ${bd} do not fit data rank ${dDims.length}`);
  const dtype = ctx.meta(ctx.node.outputs[0]!).dtype;
  const B = prod(dDims.slice(0, bd));
  const inner = dDims.slice(bd, bd + k);
  const R = prod(inner);
  const Q = prod(dDims.slice(bd + k));
  const tuples = prod(iDims.slice(0, -1));
  const M = tuples / B;
  const st = strides(inner);
  let rows: string;
  let distinct = false;
  const known = ctx.constant(iName);
  if (known) {
    const v = toNumbers(known);
    const flat = new Array<number>(tuples);
    for (let t = 0; t < tuples; t++) {
      let r = Math.floor(t / M) * R;
      for (let j = 0; j < k; j++) {
        const d = inner[j]!;
        const i = v[t * k + j]!;
        if (i < -d || i >= d) fail(ctx, `index ${i} is out of range for a dim of size ${d}`);
        r += (i < 0 ? i + d : i) * st[j]!;
      }
      flat[t] = r;
    }
    distinct = allDistinct(flat);
    rows = b.constant(tensor('int64', [tuples], flat), 'gathernd_rows');
  } else {
    const idx = reshape(b, asInt64(ctx, iName), [B, M, k]);
    const wrapped = b.op('Mod', [idx, b.constant(tensor('int64', [k], inner), 'dims')], { fmod: 0 });
    const weighted = b.op('Mul', [wrapped, b.constant(tensor('int64', [k], st), 'strides')]);
    const local = ctx.opset >= 13
      ? b.op('ReduceSum', [weighted, b.ints([2], 'axes')], { keepdims: 0 })
      : b.op('ReduceSum', [weighted], { axes: [2], keepdims: 0 });
    const offsets = b.constant(tensor('int64', [B, 1], Array.from({ length: B }, (_, i) => i * R)), 'batch_offsets');
    rows = reshape(b, b.op('Add', [local, offsets]), [tuples]);
  }
  const acc = scatterAddRows(ctx, rows, reshape(b, dy, [tuples, Q]), B * R, tuples, Q, dtype, distinct);
  out[0] = reshape(b, acc, dDims);
  return out;
};
