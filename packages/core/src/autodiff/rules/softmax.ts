/**
 * Softmax and LogSoftmax. From opset 13 the op normalises along one axis (default -1); before 13
 * the input is coerced to 2-D at `axis` (default 1) and normalised over all axes from `axis` on.
 * Both cases reduce over the same set of axes in the gradient, so no reshape is needed:
 *   Softmax:    dx = y * (dy - sum(dy * y))
 *   LogSoftmax: dx = dy - exp(y) * sum(dy)
 */
import type { GradContext, GradRule } from '../rule.js';
import { reduceOp } from '../emit.js';
import { intAttr, normAxis } from './math-common.js';

function normalisedAxes(ctx: GradContext): number[] {
  const rank = ctx.meta(ctx.node.inputs[0]!).dims.length;
  if (rank === 0) throw new Error(`node '${ctx.node.name}' (${ctx.node.opType}): scalar input has no axis to normalise`);
  if (ctx.opset >= 13) return [normAxis(intAttr(ctx, 'axis', -1), rank, `node '${ctx.node.name}' (${ctx.node.opType})`)];
  const axis = normAxis(intAttr(ctx, 'axis', 1), rank, `node '${ctx.node.name}' (${ctx.node.opType})`);
  return Array.from({ length: rank - axis }, (_, i) => axis + i);
}

export const softmaxRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy || !ctx.needs[0]) return [];
  const g = ctx.b;
  const y = ctx.node.outputs[0]!;
  const dyy = g.op('Mul', [dy, y]);
  const s = reduceOp(g, 'ReduceSum', dyy, normalisedAxes(ctx), true, ctx.opset);
  return [g.op('Sub', [dyy, g.op('Mul', [y, s])])];
};

export const logSoftmaxRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy || !ctx.needs[0]) return [];
  const g = ctx.b;
  const y = ctx.node.outputs[0]!;
  const s = reduceOp(g, 'ReduceSum', dy, normalisedAxes(ctx), true, ctx.opset);
  return [g.op('Sub', [dy, g.op('Mul', [g.op('Exp', [y]), s])])];
};
