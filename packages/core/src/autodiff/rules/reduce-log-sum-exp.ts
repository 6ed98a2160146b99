/** ReduceLogSumExp: dx = dy * exp(x - y), the softmax over the reduced axes. */
import type { GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { reduceRule } from './reduce-common.js';

export const reduceLogSumExpRule: GradRule = reduceRule((ctx, r, dy) => {
  const { b } = ctx;
  const soft = b.op('Exp', [b.op('Sub', [r.x, reshape(b, r.y, r.keep)])]);
  return b.op('Mul', [soft, reshape(b, dy, r.keep)]);
});
