/**
 * ReduceMax and ReduceMin: the gradient goes to the positions attaining the extremum; ties share
 * it evenly (as for variadic Max/Min).
 */
import { reduceOp, reshape } from '../emit.js';
import { reduceRule } from './reduce-common.js';
import { cast } from './shape-common.js';

export const reduceExtremumGrad = reduceRule((ctx, r, dy) => {
  const { b } = ctx;
  const dtype = ctx.meta(r.y).dtype;
  const hit = cast(ctx, b.op('Equal', [r.x, reshape(b, r.y, r.keep)]), dtype);
  const count = r.axes.length ? reduceOp(b, 'ReduceSum', hit, r.axes, true, ctx.opset) : hit;
  return b.op('Mul', [hit, b.op('Div', [reshape(b, dy, r.keep), count])]);
});
