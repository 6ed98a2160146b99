/** Concat: each input's gradient is its slab of the output gradient along the concat axis. */
import type { GradRule } from '../rule.js';
import { attrInt, dimsOf, fail, noGrads, normAxis, slice } from './shape-common.js';

export const concatRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!dy) return out;
  const yDims = dimsOf(ctx, ctx.node.outputs[0]!);
  const axisAttr = attrInt(ctx, 'axis');
  if (axisAttr === undefined) fail(ctx, 'attribute axis is required');
  const axis = normAxis(ctx, axisAttr, yDims.length);
  let offset = 0;
  ctx.node.inputs.forEach((name, i) => {
    const len = dimsOf(ctx, name)[axis]!;
    if (ctx.needs[i]) {
      out[i] = len === yDims[axis] ? dy : slice(ctx, dy, [offset], [offset + len], [axis]);
    }
    offset += len;
  });
  if (offset !== yDims[axis]) fail(ctx, `input sizes along axis ${axis} sum to ${offset}, output has ${yDims[axis]}`);
  return out;
};
