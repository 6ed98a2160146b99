/** ReduceMean: dy / count broadcast back over the reduced axes. */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceRule } from './reduce-common.js';
import { scalar } from './shape-common.js';

export const reduceMeanRule: GradRule = reduceRule((ctx, r, dy) => {
  const { b } = ctx;
  const scaled = b.op('Mul', [reshape(b, dy, r.keep), scalar(ctx, 1 / r.count, ctx.meta(r.y).dtype, 'inv_count')]);
  return b.op('Expand', [scaled, b.ints(r.xDims, 'shape')]);
});
