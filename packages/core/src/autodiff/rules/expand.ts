/** Expand broadcasts its input: the gradient sums over the broadcast axes back to the input's dims. */
import type { GradRule } from '../rule.js';
import { sumToShape } from '../emit.js';
import { dimsOf, noGrads } from './shape-common.js';

export const expandRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  out[0] = sumToShape(ctx.b, dy, dimsOf(ctx, ctx.node.outputs[0]!), dimsOf(ctx, ctx.node.inputs[0]!), ctx.opset);
  return out;
};
