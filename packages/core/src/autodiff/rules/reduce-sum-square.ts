/** ReduceSumSquare: dx = 2 x dy. */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceShape } from './reduce-common.js';
import { noGrads, scalar } from './shape-common.js';

export const reduceSumSquareRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const { b } = ctx;
  const r = reduceShape(ctx);
  const twice = b.op('Mul', [reshape(b, dy, r.keep), scalar(ctx, 2, ctx.meta(r.y).dtype, 'two')]);
  out[0] = b.op('Mul', [r.x, twice]);
  return out;
};
