/**
 * Gather along any axis. Viewing data as [P, A, Q] (before, at, after the axis) and dy as
 * [P, N, Q] (N = number of indices), the gradient adds row n of dy into row idx[n] of the data
 * gradient; repeated indices (an embedding lookup of a repeated token) accumulate. Negative
 * indices count from the end. The indices may be a run-time tensor (token ids).
 */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { toNumbers, tensor } from '../../onnx/tensor.js';
import {
  allDistinct, asInt64, attrInt, dimsOf, fail, noGrads, normAxis, prod, scatterAddRows, transpose,
} from './shape-common.js';

export const gatherRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
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

  let rows: string;
  let distinct = false;
  const known = ctx.constant(iName);
  if (known) {
    const idx = toNumbers(known).map((v) => {
      if (v < -A || v >= A) fail(ctx, `index ${v} is out of range for axis ${axis} of size ${A}`);
      return v < 0 ? v + A : v;
    });
    distinct = allDistinct(idx);
    rows = b.constant(tensor('int64', [N], idx), 'gather_rows');
  } else {
    // Python-style Mod maps [-A, A) onto [0, A).
    const flat = reshape(b, asInt64(ctx, iName), [N]);
    rows = b.op('Mod', [flat, b.constant(tensor('int64', [], [A]), 'axis_size')], { fmod: 0 });
  }
  const upd = reshape(b, transpose(ctx, reshape(b, dy, [P, N, Q]), [1, 0, 2]), [N, P * Q]);
  const acc = scatterAddRows(ctx, rows, upd, A, N, P * Q, dtype, distinct); // [A, P*Q]
  out[0] = reshape(b, transpose(ctx, reshape(b, acc, [A, P, Q]), [1, 0, 2]), dDims);
  return out;
};
