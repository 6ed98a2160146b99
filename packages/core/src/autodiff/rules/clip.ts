/**
 * Clip(x, min, max) = Min(Max(x, min), max) (ONNX's order, which also fixes min > max: all max).
 * Following that composition, the gradient goes to max where Max(x, min) exceeds max, to min where
 * x is below min, and to x otherwise (at exact equality the value counts as x's). min and max come
 * from inputs (opset 11+) or attributes (before); as inputs they get the summed gradient if needed.
 */
import type { GradRule } from '../rule.js';
import { attrFloat, dimsOf, fail, noGrads, optInput, scalar, sumAllTo } from './shape-common.js';

export const clipRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!dy) return out;
  const { b, node } = ctx;
  const x = node.inputs[0]!;
  const y = node.outputs[0]!;
  const rank = dimsOf(ctx, y).length;
  const dtype = ctx.meta(y).dtype;
  let lo: string | undefined;
  let hi: string | undefined;
  if (ctx.opset < 9) fail(ctx, 'gradient needs opset 9 or later (Where, broadcasting Max)');
  if (ctx.opset < 11) {
    const a = attrFloat(ctx, 'min');
    const c = attrFloat(ctx, 'max');
    if (a !== undefined) lo = scalar(ctx, a, dtype, 'clip_min');
    if (c !== undefined) hi = scalar(ctx, c, dtype, 'clip_max');
  } else {
    lo = optInput(ctx, 1);
    hi = optInput(ctx, 2);
  }
  const zero = scalar(ctx, 0, dtype, 'zero');
  let g = dy;
  if (hi) {
    const m = lo ? b.op('Max', [x, lo]) : x;
    const above = b.op('Less', [hi, m]);
    if (ctx.opset >= 11 && ctx.needs[2]) out[2] = sumAllTo(ctx, b.op('Where', [above, g, zero]), rank, dimsOf(ctx, hi));
    g = b.op('Where', [above, zero, g]);
  }
  if (lo) {
    const below = b.op('Less', [x, lo]);
    if (ctx.opset >= 11 && ctx.needs[1]) out[1] = sumAllTo(ctx, b.op('Where', [below, g, zero]), rank, dimsOf(ctx, lo));
    g = b.op('Where', [below, zero, g]);
  }
  if (ctx.needs[0]) out[0] = g;
  return out;
};
