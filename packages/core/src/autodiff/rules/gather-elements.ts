/**
 * GatherElements: y[s] = x[s with s_axis replaced by idx[s]]. Each output element reads one element
 * of x; the gradient scatter-adds dy to those flat positions (repeats accumulate). The flat
 * position is the base offset of s without the axis term plus idx[s] * stride(axis).
 */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { tensor } from '../../onnx/tensor.js';
import { asInt64, attrInt, dataInputRule, dimsOf, fail, gatherRows, normAxis, prod, scatterAddRows, strides, wrapIndex } from './shape-common.js';

export const gatherElementsRule: GradRule = dataInputRule((ctx, dy) => {
  const { b } = ctx;
  const xDims = dimsOf(ctx, ctx.node.inputs[0]!);
  const iName = ctx.node.inputs[1]!;
  const sDims = dimsOf(ctx, iName);
  if (sDims.length !== xDims.length) fail(ctx, `indices rank ${sDims.length} differs from data rank ${xDims.length}`);
  const axis = normAxis(ctx, attrInt(ctx, 'axis') ?? 0, xDims.length);
  const dtype = ctx.meta(ctx.node.outputs[0]!).dtype;
  const xs = strides(xDims);
  const ss = strides(sDims);
  const N = prod(sDims);
  const n = prod(xDims);
  const A = xDims[axis]!;
  // base[s] = sum over the other axes of s_i * stride_i of x.
  const base = new Array<number>(N);
  for (let f = 0; f < N; f++) {
    let off = 0;
    for (let i = 0; i < sDims.length; i++) if (i !== axis) off += (Math.floor(f / ss[i]!) % sDims[i]!) * xs[i]!;
    base[f] = off;
  }
  const { rows, distinct } = gatherRows(
    ctx,
    iName,
    N,
    'gather_rows',
    (v) => v.map((i, f) => base[f]! + wrapIndex(ctx, i, A, `axis ${axis} of size ${A}`) * xs[axis]!),
    () => {
      const idx = b.op('Mod', [reshape(b, asInt64(ctx, iName), [N]), b.constant(tensor('int64', [], [A]), 'axis_size')], { fmod: 0 });
      const scaled = b.op('Mul', [idx, b.constant(tensor('int64', [], [xs[axis]!]), 'stride')]);
      return b.op('Add', [scaled, b.constant(tensor('int64', [N], base), 'base')]);
    },
  );
  const acc = scatterAddRows(ctx, rows, reshape(b, dy, [N, 1]), n, N, 1, dtype, distinct);
  return reshape(b, acc, xDims);
});
