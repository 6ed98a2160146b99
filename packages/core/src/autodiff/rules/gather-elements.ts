/**
 * GatherElements: y[s] = x[s with s_axis replaced by idx[s]]. Each output element reads one element
 * of x; the gradient scatter-adds dy to those flat positions (repeats accumulate). The flat
 * position is the base offset of s without the axis term plus idx[s] * stride(axis).
 */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { toNumbers, tensor } from '../../onnx/tensor.js';
import {
  allDistinct, asInt64, attrInt, dimsOf, fail, noGrads, normAxis, prod, scatterAddRows, strides,
} from './shape-common.js';

export const gatherElementsRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
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
    for (let i = 0; i < sDims.length; i++) if (i !== axis) off += Math.floor(f / ss[i]!) % sDims[i]! * xs[i]!;
    base[f] = off;
  }
  let rows: string;
  let distinct = false;
  const known = ctx.constant(iName);
  if (known) {
    const flat = toNumbers(known).map((v, f) => {
      if (v < -A || v >= A) fail(ctx, `index ${v} is out of range for axis ${axis} of size ${A}`);
      return base[f]! + (v < 0 ? v + A : v) * xs[axis]!;
    });
    distinct = allDistinct(flat);
    rows = b.constant(tensor('int64', [N], flat), 'gather_rows');
  } else {
    const idx = b.op('Mod', [reshape(b, asInt64(ctx, iName), [N]), b.constant(tensor('int64', [], [A]), 'axis_size')], { fmod: 0 });
    const scaled = b.op('Mul', [idx, b.constant(tensor('int64', [], [xs[axis]!]), 'stride')]);
    rows = b.op('Add', [scaled, b.constant(tensor('int64', [N], base), 'base')]);
  }
  const acc = scatterAddRows(ctx, rows, reshape(b, dy, [N, 1]), n, N, 1, dtype, distinct);
  out[0] = reshape(b, acc, xDims);
  return out;
};
