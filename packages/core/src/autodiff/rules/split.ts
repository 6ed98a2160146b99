/**
 * Split: the input gradient concatenates the output gradients along the split axis, with zeros
 * for outputs that receive none. Piece sizes come from the static output dims, so the split
 * attribute/input and num_outputs (opset 18) need not be read.
 */
import type { GradRule } from '../rule.js';
import { attrInt, dimsOf, noGrads, normAxis, zeros } from './shape-common.js';

export const splitRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  if (!ctx.needs[0] || ctx.dy.every((g) => !g)) return out;
  const xDims = dimsOf(ctx, ctx.node.inputs[0]!);
  const axis = normAxis(ctx, attrInt(ctx, 'axis') ?? 0, xDims.length);
  const dtype = ctx.meta(ctx.node.outputs[0]!).dtype;
  const pieces = ctx.node.outputs.map((y, k) => ctx.dy[k] ?? zeros(ctx, dtype, dimsOf(ctx, y)));
  out[0] = pieces.length === 1 ? pieces[0] : ctx.b.op('Concat', pieces, { axis });
  return out;
};
