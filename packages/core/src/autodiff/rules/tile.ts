/**
 * Tile repeats the input r_i times along each axis. The gradient views the output [r0*d0, r1*d1, ...]
 * as [r0, d0, r1, d1, ...] and sums the repeat axes. Repeats come from the static dims.
 */
import type { GradRule } from '../rule.js';
import { reduceOp, reshape } from '../emit.js';
import { dimsOf, fail, noGrads } from './shape-common.js';

export const tileRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const x = dimsOf(ctx, ctx.node.inputs[0]!);
  const y = dimsOf(ctx, ctx.node.outputs[0]!);
  if (x.length !== y.length) fail(ctx, `output rank ${y.length} differs from input rank ${x.length}`);
  const split: number[] = [];
  const axes: number[] = [];
  x.forEach((d, i) => {
    const r = d === 0 ? 0 : y[i]! / d;
    if (!Number.isInteger(r)) fail(ctx, `output dim ${y[i]} is not a multiple of input dim ${d} on axis ${i}`);
    split.push(r, d);
    if (r !== 1) axes.push(2 * i);
  });
  if (!axes.length) {
    out[0] = dy;
    return out;
  }
  const summed = reduceOp(ctx.b, 'ReduceSum', reshape(ctx.b, dy, split), axes, false, ctx.opset);
  // Axes with repeat 1 were not summed; the rank still drops by exactly the summed axes, so a reshape restores x.
  out[0] = reshape(ctx.b, summed, x);
  return out;
};
