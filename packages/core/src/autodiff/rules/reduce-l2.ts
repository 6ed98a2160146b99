/** ReduceL2: y = sqrt(sum x^2), dx = dy * x / y (0 where y = 0, where x is all zeros). */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceRule } from './reduce-common.js';
import { scalar } from './shape-common.js';

export const reduceL2Rule: GradRule = reduceRule((ctx, r, dy) => {
  const { b } = ctx;
  const dtype = ctx.meta(r.y).dtype;
  const yk = reshape(b, r.y, r.keep);
  const safe = b.op('Where', [b.op('Equal', [yk, scalar(ctx, 0, dtype, 'zero')]), scalar(ctx, 1, dtype, 'one'), yk]);
  return b.op('Mul', [r.x, b.op('Div', [reshape(b, dy, r.keep), safe])]);
});
