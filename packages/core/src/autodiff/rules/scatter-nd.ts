/**
 * ScatterND(data, indices, updates). Without reduction the written positions take the updates, so
 * data's gradient is dy with those positions zeroed and the updates' gradient is dy gathered there
 * (indices repeated under reduction 'none' are undefined forward and not supported). With
 * reduction 'add' data passes dy through unchanged. 'mul', 'max', 'min' have no rule.
 */
import type { GradRule } from '../rule.js';
import { attrString, dimsOf, fail, noGrads, zeros } from './shape-common.js';

export const scatterNDRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!dy) return out;
  const { b, node } = ctx;
  const reduction = attrString(ctx, 'reduction') ?? 'none';
  if (reduction !== 'none' && reduction !== 'add') fail(ctx, `reduction '${reduction}' has no gradient rule`);
  const [, indices, updates] = node.inputs as [string, string, string];
  const dtype = ctx.meta(node.outputs[0]!).dtype;
  if (ctx.needs[0]) {
    out[0] = reduction === 'add' ? dy : b.op('ScatterND', [dy, indices, zeros(ctx, dtype, dimsOf(ctx, updates))]);
  }
  if (ctx.needs[2]) out[2] = b.op('GatherND', [dy, indices]);
  return out;
};
