/** ReduceSumSquare: dx = 2 x dy. */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceRule } from './reduce-common.js';
import { scalar } from './shape-common.js';

export const reduceSumSquareRule: GradRule = reduceRule((ctx, r, dy) => {
  const { b } = ctx;
  const twice = b.op('Mul', [reshape(b, dy, r.keep), scalar(ctx, 2, ctx.meta(r.y).dtype, 'two')]);
  return b.op('Mul', [r.x, twice]);
});
