/**
 * Gather along any axis. Viewing data as [P, A, Q] (before, at, after the axis) and dy as
 * [P, N, Q] (N = number of indices), the gradient adds row n of dy into row idx[n] of the data
 * gradient; repeated indices (an embedding lookup of a repeated token) accumulate. Negative
 * indices count from the end. The indices may be a run-time tensor (token ids).
 */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { tensor } from '../../onnx/tensor.js';
import { asInt64, attrInt, dataInputRule, dimsOf, gatherRows, normAxis, prod, scatterAddRows, transpose, wrapIndex } from './shape-common.js';

export const gatherRule: GradRule = dataInputRule((ctx, dy) => {
  const { b } = ctx;
  const dDims = dimsOf(ctx, ctx.node.inputs[0]!);
  const iName = ctx.node.inputs[1]!;
  const iDims = dimsOf(ctx, iName);
  const axis = normAxis(ctx, attrInt(ctx, 'axis') ?? 0, dDims.length);
  const dtype = ctx.meta(ctx.node.outputs[0]!).dtype;
  const P = prod(dDims.slice(0, axis));
  const A = dDims[axis]!;
  const Q = prod(dDims.slice(axis + 1));
  const N = prod(iDims);

  const { rows, distinct } = gatherRows(
    ctx,
    iName,
    N,
    'gather_rows',
    (v) => v.map((i) => wrapIndex(ctx, i, A, `axis ${axis} of size ${A}`)),
    // Python-style Mod maps [-A, A) onto [0, A).
    () => b.op('Mod', [reshape(b, asInt64(ctx, iName), [N]), b.constant(tensor('int64', [], [A]), 'axis_size')], { fmod: 0 }),
  );
  const upd = reshape(b, transpose(ctx, reshape(b, dy, [P, N, Q]), [1, 0, 2]), [N, P * Q]);
  const acc = scatterAddRows(ctx, rows, upd, A, N, P * Q, dtype, distinct); // [A, P*Q]
  return reshape(b, transpose(ctx, reshape(b, acc, [A, P, Q]), [1, 0, 2]), dDims);
});
