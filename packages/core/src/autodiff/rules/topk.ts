/**
 * TopK: the values output is x gathered at the returned indices along `axis` (distinct within each
 * line), so the gradient scatters dy(values) back there; the indices output carries none.
 */
import type { GradRule } from '../rule.js';
import { attrInt, dimsOf, fail, noGrads, normAxis, zeros } from './shape-common.js';

export const topKRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  if (ctx.opset < 11) fail(ctx, 'gradient needs ScatterElements (opset 11 or later)');
  const { node } = ctx;
  const xDims = dimsOf(ctx, node.inputs[0]!);
  const axis = normAxis(ctx, attrInt(ctx, 'axis') ?? -1, xDims.length);
  const dtype = ctx.meta(node.outputs[0]!).dtype;
  out[0] = ctx.b.op('ScatterElements', [zeros(ctx, dtype, xDims), node.outputs[1]!, dy], { axis });
  return out;
};
