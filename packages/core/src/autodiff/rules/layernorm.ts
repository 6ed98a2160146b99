/**
 * LayerNormalization (opset 17): Y = (X - mean) * rstd * Scale + B over the axes [axis, rank).
 * With xhat = (X - mean) * rstd and g = dY * Scale, means over the normalised axes:
 *   dX = rstd * (g - mean(g) - xhat * mean(g * xhat))
 *   dScale = sum over broadcast axes of dY * xhat,  dB = sum of dY.
 * Gradients reaching the optional Mean and InvStdDev outputs are included too:
 *   d mean/dx = 1/N,  d rstd/dx = -rstd^3 (x - mean) / N.
 * Statistics are recomputed in the backward graph in the stash type (float32 for float16 and
 * bfloat16 inputs when stash_type = 1), like the forward op.
 */
import type { GradRule } from '../rule.js';
import type { DType } from '../../onnx/types.js';
import { dtypeCode } from '../../onnx/io.js';
import { numel } from '../../onnx/tensor.js';
import { reduceOp, sumToShape } from '../emit.js';
import { floatAttr, intAttr, normAxis, scalarLike } from './math-common.js';

export const layerNormRule: GradRule = (ctx) => {
  const g = ctx.b;
  const [x, scale, bias] = ctx.node.inputs as [string, string, string | undefined];
  const xm = ctx.meta(x);
  const dt = xm.dtype;
  const rank = xm.dims.length;
  const where = `node '${ctx.node.name}' (LayerNormalization)`;
  const axis = normAxis(intAttr(ctx, 'axis', -1), rank, where);
  const eps = floatAttr(ctx, 'epsilon', 1e-5);
  const stash = intAttr(ctx, 'stash_type', 1);
  const cd: DType = (dt === 'float16' || dt === 'bfloat16') && stash === 1 ? 'float32' : dt;
  const cast = (v: string, from: DType, to: DType) => (from === to ? v : g.op('Cast', [v], { to: dtypeCode(to) }));
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const n = numel(xm.dims.slice(axis));
  const mean = (v: string) => reduceOp(g, 'ReduceMean', v, axes, true, ctx.opset);
  const k = (v: number, hint: string) => scalarLike(ctx, v, cd, hint);

  const [dY, dMean, dInv] = [0, 1, 2].map((i) => {
    const d = ctx.dy[i];
    return d ? cast(d, ctx.meta(ctx.node.outputs[i]!).dtype, cd) : undefined;
  });
  if (!dY && !dMean && !dInv) return [];

  const xc = cast(x, dt, cd);
  const mu = mean(xc);
  const centered = g.op('Sub', [xc, mu]);
  const variance = mean(g.op('Mul', [centered, centered]));
  const rstd = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, k(eps, 'eps')])])]);
  const xhat = g.op('Mul', [centered, rstd]);
  const out: (string | undefined)[] = [undefined, undefined, undefined];

  if (ctx.needs[0]) {
    const terms: string[] = [];
    if (dY) {
      const gs = g.op('Mul', [dY, cast(scale, ctx.meta(scale).dtype, cd)]);
      const inner = g.op('Sub', [g.op('Sub', [gs, mean(gs)]), g.op('Mul', [xhat, mean(g.op('Mul', [gs, xhat]))])]);
      terms.push(g.op('Mul', [rstd, inner]));
    }
    if (dMean) terms.push(g.op('Mul', [dMean, k(1 / n, 'inv_n')]));
    if (dInv) {
      const r3 = g.op('Mul', [rstd, g.op('Mul', [rstd, rstd])]);
      terms.push(g.op('Mul', [dInv, g.op('Mul', [g.op('Mul', [r3, centered]), k(-1 / n, 'neg_inv_n')])]));
    }
    // Mean/InvStdDev gradients have the reduced shape; adding to a full-shape term broadcasts them.
    let dx = terms.length === 1 ? terms[0]! : g.op('Sum', terms);
    if (!dY) dx = g.op('Expand', [dx, g.ints(xm.dims, 'shape')]); // give it X's full shape
    out[0] = cast(dx, cd, dt);
  }
  if (ctx.needs[1] && dY) {
    const sm = ctx.meta(scale);
    out[1] = cast(sumToShape(g, g.op('Mul', [dY, xhat]), xm.dims, sm.dims, ctx.opset), cd, sm.dtype);
  }
  if (bias && ctx.needs[2] && dY) {
    const bm = ctx.meta(bias);
    out[2] = cast(sumToShape(g, dY, xm.dims, bm.dims, ctx.opset), cd, bm.dtype);
  }
  return out;
};
