/** ReduceMean: dy / count broadcast back over the reduced axes. */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceShape } from './reduce-common.js';
import { noGrads, scalar } from './shape-common.js';

export const reduceMeanRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const { b } = ctx;
  const r = reduceShape(ctx);
  const scaled = b.op('Mul', [reshape(b, dy, r.keep), scalar(ctx, 1 / r.count, ctx.meta(r.y).dtype, 'inv_count')]);
  out[0] = b.op('Expand', [scaled, b.ints(r.xDims, 'shape')]);
  return out;
};
