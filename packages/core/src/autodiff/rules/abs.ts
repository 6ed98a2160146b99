/** Abs: dy * sign(x), with the subgradient 0 at x = 0. */
import type { GradRule } from '../rule.js';
import { noGrads } from './shape-common.js';

export const absRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  out[0] = ctx.b.op('Mul', [dy, ctx.b.op('Sign', [ctx.node.inputs[0]!])]);
  return out;
};
