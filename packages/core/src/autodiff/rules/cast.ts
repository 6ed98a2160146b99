/**
 * Cast between float types is differentiable: the gradient is cast back to the input's type.
 * A cast to an integer or bool type ends the differentiable path (no gradient).
 */
import type { GradContext, GradRule } from '../rule.js';
import { isFloat } from '../../onnx/tensor.js';
import { cast, noGrads } from './shape-common.js';

function castBack(ctx: GradContext): (string | undefined)[] {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const xType = ctx.meta(ctx.node.inputs[0]!).dtype;
  const yType = ctx.meta(ctx.node.outputs[0]!).dtype;
  if (!isFloat(xType) || !isFloat(yType)) return out;
  out[0] = xType === yType ? dy : cast(ctx, dy, xType);
  return out;
}

export const castRule: GradRule = castBack;
export const castLikeRule: GradRule = castBack;
