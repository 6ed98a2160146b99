/** ReduceLogSumExp: dx = dy * exp(x - y), the softmax over the reduced axes. */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceShape } from './reduce-common.js';
import { noGrads } from './shape-common.js';

export const reduceLogSumExpRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const { b } = ctx;
  const r = reduceShape(ctx);
  const soft = b.op('Exp', [b.op('Sub', [r.x, reshape(b, r.y, r.keep)])]);
  out[0] = b.op('Mul', [soft, reshape(b, dy, r.keep)]);
  return out;
};
