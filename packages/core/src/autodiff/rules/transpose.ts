/** Transpose: the gradient goes back through the inverse permutation (default perm reverses the axes). */
import type { GradRule } from '../rule.js';
import { attrInts, dimsOf, fail, inversePerm, noGrads, transpose } from './shape-common.js';

export const transposeRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  const rank = dimsOf(ctx, ctx.node.inputs[0]!).length;
  const perm = attrInts(ctx, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    fail(ctx, `perm [${perm}] is not a permutation of ${rank} axes`);
  }
  out[0] = transpose(ctx, dy, inversePerm(perm));
  return out;
};
