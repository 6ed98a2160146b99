/**
 * ReduceMax and ReduceMin: the gradient goes to the positions attaining the extremum; ties share
 * it evenly (as for variadic Max/Min).
 */
import type { GradContext } from '../rule.js';
import { reduceOp, reshape } from '../emit.js';
import { reduceShape } from './reduce-common.js';
import { cast, noGrads } from './shape-common.js';

export function reduceExtremumGrad(ctx: GradContext): (string | undefined)[] {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const { b } = ctx;
  const r = reduceShape(ctx);
  const dtype = ctx.meta(r.y).dtype;
  const hit = cast(ctx, b.op('Equal', [r.x, reshape(b, r.y, r.keep)]), dtype);
  const count = r.axes.length ? reduceOp(b, 'ReduceSum', hit, r.axes, true, ctx.opset) : hit;
  out[0] = b.op('Mul', [hit, b.op('Div', [reshape(b, dy, r.keep), count])]);
  return out;
}
