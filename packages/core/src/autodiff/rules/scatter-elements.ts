/**
 * ScatterElements (and its opset-9/10 name Scatter): as ScatterND, element-wise along `axis`.
 * Data's gradient is dy with the written positions zeroed (reduction 'none') or dy itself ('add');
 * the updates' gradient is GatherElements of dy at the indices.
 */
import type { GradContext, GradRule } from '../rule.js';
import { attrInt, attrString, dimsOf, fail, noGrads, zeros } from './shape-common.js';

function scatterElementsGrad(ctx: GradContext): (string | undefined)[] {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!dy) return out;
  const { b, node } = ctx;
  const reduction = attrString(ctx, 'reduction') ?? 'none';
  if (reduction !== 'none' && reduction !== 'add') fail(ctx, `reduction '${reduction}' has no gradient rule`);
  const axis = attrInt(ctx, 'axis') ?? 0;
  const [, indices, updates] = node.inputs as [string, string, string];
  const dtype = ctx.meta(node.outputs[0]!).dtype;
  if (ctx.needs[0]) {
    out[0] = reduction === 'add' ? dy : b.op(node.opType, [dy, indices, zeros(ctx, dtype, dimsOf(ctx, updates))], { axis });
  }
  if (ctx.needs[2]) {
    if (ctx.opset < 11) fail(ctx, 'the updates gradient needs GatherElements (opset 11 or later)');
    out[2] = b.op('GatherElements', [dy, indices], { axis });
  }
  return out;
}

export const scatterElementsRule: GradRule = scatterElementsGrad;
export const scatterRule: GradRule = scatterElementsGrad;
