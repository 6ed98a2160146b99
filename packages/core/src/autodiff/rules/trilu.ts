/** Trilu keeps one triangle (a fixed 0/1 mask): its gradient is the same Trilu of dy. k gets none. */
import type { GradRule } from '../rule.js';
import { noGrads } from './shape-common.js';

export const triluRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  out[0] = ctx.b.op('Trilu', [dy, ...ctx.node.inputs.slice(1)], { upper: ctx.node.attributes.upper });
  return out;
};
