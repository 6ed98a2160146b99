/** ReduceSum: dy broadcast back over the reduced axes. */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceShape } from './reduce-common.js';
import { noGrads } from './shape-common.js';

export const reduceSumRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const { b } = ctx;
  const r = reduceShape(ctx);
  out[0] = b.op('Expand', [reshape(b, dy, r.keep), b.ints(r.xDims, 'shape')]);
  return out;
};
