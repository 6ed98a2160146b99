/** ReduceL1: dx = dy * sign(x) (subgradient 0 at x = 0). */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceShape } from './reduce-common.js';
import { noGrads } from './shape-common.js';

export const reduceL1Rule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const { b } = ctx;
  const r = reduceShape(ctx);
  out[0] = b.op('Mul', [b.op('Sign', [r.x]), reshape(b, dy, r.keep)]);
  return out;
};
