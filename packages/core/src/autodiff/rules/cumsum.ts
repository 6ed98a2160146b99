/**
 * CumSum along an axis: each input element feeds every later (or, with reverse, earlier) output,
 * so the gradient is the cumulative sum of dy in the opposite direction with the same exclusivity.
 */
import type { GradRule } from '../rule.js';
import { attrInt, noGrads } from './shape-common.js';

export const cumSumRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const reverse = attrInt(ctx, 'reverse') ?? 0;
  const exclusive = attrInt(ctx, 'exclusive') ?? 0;
  out[0] = ctx.b.op('CumSum', [dy, ctx.node.inputs[1]!], { exclusive, reverse: reverse ? 0 : 1 });
  return out;
};
