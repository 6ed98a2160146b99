/** Trilu keeps one triangle (a fixed 0/1 mask): its gradient is the same Trilu of dy. k gets none. */
import { registerRule } from '../rule.js';
import { noGrads } from './shape-common.js';

registerRule('Trilu', (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  out[0] = ctx.b.op('Trilu', [dy, ...ctx.node.inputs.slice(1)], { upper: ctx.node.attributes.upper });
  return out;
});
