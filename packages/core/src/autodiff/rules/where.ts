/**
 * Where(cond, x, y): the gradient flows to x where cond holds and to y elsewhere, each summed over
 * its broadcast axes. The condition (often computed from an attention mask at run time) gets none.
 */
import type { GradRule } from '../rule.js';
import { sumToShape } from '../emit.js';
import { dimsOf, noGrads, scalar } from './shape-common.js';

export const whereRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!dy) return out;
  const { b, node } = ctx;
  const yDims = dimsOf(ctx, node.outputs[0]!);
  const zero = scalar(ctx, 0, ctx.meta(node.outputs[0]!).dtype, 'zero');
  const cond = node.inputs[0]!;
  if (ctx.needs[1]) out[1] = sumToShape(b, b.op('Where', [cond, dy, zero]), yDims, dimsOf(ctx, node.inputs[1]!), ctx.opset);
  if (ctx.needs[2]) out[2] = sumToShape(b, b.op('Where', [cond, zero, dy]), yDims, dimsOf(ctx, node.inputs[2]!), ctx.opset);
  return out;
};
