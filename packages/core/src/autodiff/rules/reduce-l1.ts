/** ReduceL1: dx = dy * sign(x) (subgradient 0 at x = 0). */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceRule } from './reduce-common.js';

export const reduceL1Rule: GradRule = reduceRule((ctx, r, dy) => {
  const { b } = ctx;
  return b.op('Mul', [b.op('Sign', [r.x]), reshape(b, dy, r.keep)]);
});
