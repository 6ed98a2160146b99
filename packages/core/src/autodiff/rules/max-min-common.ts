/**
 * Variadic Max and Min: the gradient goes to the input(s) that attain the result. Ties are split
 * evenly among the inputs attaining it (the subgradient PyTorch's maximum/minimum also uses), so
 * the gradient stays symmetric in the inputs. Broadcast axes are summed back per input.
 */
import type { GradContext } from '../rule.js';
import { sumToShape } from '../emit.js';
import { cast, dimsOf, noGrads } from './shape-common.js';

export function maxMinGrad(ctx: GradContext): (string | undefined)[] {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!dy) return out;
  const { b, node } = ctx;
  const y = node.outputs[0]!;
  const yDims = dimsOf(ctx, y);
  const dtype = ctx.meta(y).dtype;
  const inputs = node.inputs;
  if (inputs.length === 1) {
    if (ctx.needs[0]) out[0] = dy;
    return out;
  }
  const hits = inputs.map((x) => cast(ctx, b.op('Equal', [x, y]), dtype)); // 1 where x attains y
  let count = hits[0]!;
  for (let i = 1; i < hits.length; i++) count = b.op('Add', [count, hits[i]!]);
  const share = b.op('Div', [dy, count]);
  inputs.forEach((x, i) => {
    if (!ctx.needs[i]) return;
    out[i] = sumToShape(b, b.op('Mul', [share, hits[i]!]), yDims, dimsOf(ctx, x), ctx.opset);
  });
  return out;
}
