/**
 * GatherND (with batch_dims): each index tuple selects a slice data[b, i0..ik-1, ...] of Q elements.
 * Viewing data as n = B*R rows of Q (B batch, R = product of the k indexed dims), the tuple picks
 * row b*R + sum_j i_j * stride_j; the gradient scatter-adds the rows of dy there.
 */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { tensor } from '../../onnx/tensor.js';
import { asInt64, attrInt, dataInputRule, dimsOf, fail, gatherRows, prod, scatterAddRows, strides, wrapIndex } from './shape-common.js';

export const gatherNDRule: GradRule = dataInputRule((ctx, dy) => {
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
  const fromConstant = (v: number[]) => {
    const flat = new Array<number>(tuples);
    for (let t = 0; t < tuples; t++) {
      let r = Math.floor(t / M) * R;
      for (let j = 0; j < k; j++) r += wrapIndex(ctx, v[t * k + j]!, inner[j]!, `a dim of size ${inner[j]}`) * st[j]!;
      flat[t] = r;
    }
    return flat;
  };
  const atRunTime = () => {
    const idx = reshape(b, asInt64(ctx, iName), [B, M, k]);
    const wrapped = b.op('Mod', [idx, b.constant(tensor('int64', [k], inner), 'dims')], { fmod: 0 });
    const weighted = b.op('Mul', [wrapped, b.constant(tensor('int64', [k], st), 'strides')]);
    const local =
      ctx.opset >= 13 ? b.op('ReduceSum', [weighted, b.ints([2], 'axes')], { keepdims: 0 }) : b.op('ReduceSum', [weighted], { axes: [2], keepdims: 0 });
    const offsets = b.constant(
      tensor(
        'int64',
        [B, 1],
        Array.from({ length: B }, (_, i) => i * R),
      ),
      'batch_offsets',
    );
    return reshape(b, b.op('Add', [local, offsets]), [tuples]);
  };
  const { rows, distinct } = gatherRows(ctx, iName, tuples, 'gathernd_rows', fromConstant, atRunTime);
  const acc = scatterAddRows(ctx, rows, reshape(b, dy, [tuples, Q]), B * R, tuples, Q, dtype, distinct);
  return reshape(b, acc, dDims);
});
