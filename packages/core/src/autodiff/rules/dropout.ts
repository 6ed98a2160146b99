/**
 * Dropout in inference mode is the identity (opsets before 12 always, later ones unless
 * training_mode is true). A training-mode Dropout is an error: its mask is random per run, so a
 * gradient graph could not reproduce the forward pass it differentiates.
 */
import type { GradRule } from '../rule.js';
import { constTensor, fail, noGrads, optInput } from './shape-common.js';
import { toNumbers } from '../../onnx/tensor.js';

export const dropoutRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  if (!ctx.needs[0] || !dy) return out;
  if (ctx.opset >= 12 && optInput(ctx, 2)) {
    const mode = constTensor(ctx, 2);
    if (!mode) fail(ctx, 'training_mode is only known at run time; attribution graphs need inference-mode Dropout');
    if (toNumbers(mode).some((v) => v !== 0)) fail(ctx, 'training-mode Dropout has no reproducible gradient (random mask per run)');
  }
  out[0] = dy;
  return out;
};
