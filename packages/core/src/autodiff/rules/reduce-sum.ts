/** ReduceSum: dy broadcast back over the reduced axes. */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceRule } from './reduce-common.js';

export const reduceSumRule: GradRule = reduceRule((ctx, r, dy) => {
  const { b } = ctx;
  return b.op('Expand', [reshape(b, dy, r.keep), b.ints(r.xDims, 'shape')]);
});
