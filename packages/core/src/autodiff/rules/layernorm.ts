/**
 * Normalisation layers. LayerNormalization (opset 17): Y = (X - mean) * rstd * Scale + B over the
 * axes [axis, rank). RMSNormalization (opset 23) and onnxruntime's SimplifiedLayerNormalization:
 * Y = X * rstd * Scale with rstd = 1/sqrt(mean(X^2) + eps). onnxruntime's fused
 * com.microsoft SkipLayerNormalization / SkipSimplifiedLayerNormalization normalise
 * S = input + skip (+ bias) over the last axis and may also output S.
 *
 * With xhat = (X - mean) * rstd (or X * rstd for RMS) and g = dY * Scale, means over the
 * normalised axes:
 *   LayerNorm: dX = rstd * (g - mean(g) - xhat * mean(g * xhat))
 *   RMSNorm:   dX = rstd * (g - xhat * mean(g * xhat))
 *   dScale = dY * xhat summed over the broadcast axes, dB = dY summed likewise.
 * Gradients reaching the optional Mean and InvStdDev outputs are included too:
 *   d mean/dx = 1/N,  d rstd/dx = -rstd^3 (x - mean) / N  (x / N for RMS).
 * Statistics are recomputed in the backward graph in the stash type (float32 for float16 and
 * bfloat16 inputs when stash_type = 1), like the forward op.
 */
import type { GradContext, GradRule } from '../rule.js';
import type { DType } from '../../onnx/types.js';
import { dtypeCode } from '../../onnx/dtype.js';
import { numel } from '../../onnx/tensor.js';
import { reduceOp, sumToShape } from '../emit.js';
import { floatAttr, intAttr, normAxis, scalarLike } from './math-common.js';

interface NormSpec {
  /** The normalised value (for the Skip ops, S = input + skip + bias, emitted by the caller). */
  x: string;
  xDims: number[];
  dtype: DType;
  scale: string;
  bias?: string;
  rms: boolean;
  axis: number;
  /** Gradients of Y, Mean and InvStdDev (each may be absent), in the dtypes of their node outputs. */
  dY?: string;
  dMean?: string;
  dInv?: string;
  /** Node output index of Y, Mean and InvStdDev (-1 where the op has no such output). */
  outputIndex: [number, number, number];
  needX: boolean;
  needScale: boolean;
  needBias: boolean;
}

function normBackward(ctx: GradContext, s: NormSpec): { dx?: string; dScale?: string; dBias?: string } {
  const g = ctx.b;
  const rank = s.xDims.length;
  const eps = floatAttr(ctx, 'epsilon', 1e-5);
  const stash = intAttr(ctx, 'stash_type', 1);
  const dt = s.dtype;
  const cd: DType = (dt === 'float16' || dt === 'bfloat16') && stash === 1 ? 'float32' : dt;
  const castFrom = (v: string, from: DType, to: DType) => (from === to ? v : g.op('Cast', [v], { to: dtypeCode(to) }));
  const axes = Array.from({ length: rank - s.axis }, (_, i) => s.axis + i);
  const n = numel(s.xDims.slice(s.axis));
  const mean = (v: string) => reduceOp(g, 'ReduceMean', v, axes, true, ctx.opset);
  const k = (v: number, hint: string) => scalarLike(ctx, v, cd, hint);
  const grads = [s.dY, s.dMean, s.dInv].map((d, i) => (d ? castFrom(d, ctx.meta(ctx.node.outputs[s.outputIndex[i]!]!).dtype, cd) : undefined));
  const [dY, dMean, dInv] = grads;

  const xc = castFrom(s.x, dt, cd);
  const centered = s.rms ? xc : g.op('Sub', [xc, mean(xc)]);
  const second = mean(g.op('Mul', [centered, centered]));
  const rstd = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [second, k(eps, 'eps')])])]);
  const xhat = g.op('Mul', [centered, rstd]);
  const out: { dx?: string; dScale?: string; dBias?: string } = {};

  if (s.needX && (dY || dMean || dInv)) {
    const terms: string[] = [];
    if (dY) {
      const gs = g.op('Mul', [dY, castFrom(s.scale, ctx.meta(s.scale).dtype, cd)]);
      const proj = g.op('Mul', [xhat, mean(g.op('Mul', [gs, xhat]))]);
      const inner = s.rms ? g.op('Sub', [gs, proj]) : g.op('Sub', [g.op('Sub', [gs, mean(gs)]), proj]);
      terms.push(g.op('Mul', [rstd, inner]));
    }
    if (dMean) terms.push(g.op('Mul', [dMean, k(1 / n, 'inv_n')]));
    if (dInv) {
      const r3 = g.op('Mul', [rstd, g.op('Mul', [rstd, rstd])]);
      terms.push(g.op('Mul', [dInv, g.op('Mul', [g.op('Mul', [r3, centered]), k(-1 / n, 'neg_inv_n')])]));
    }
    // Mean/InvStdDev gradients have the reduced shape; adding to a full-shape term broadcasts them.
    let dx = terms.length === 1 ? terms[0]! : g.op('Sum', terms);
    if (!dY) dx = g.op('Expand', [dx, g.ints(s.xDims, 'shape')]); // give it X's full shape
    out.dx = castFrom(dx, cd, dt);
  }
  if (s.needScale && dY) {
    const sm = ctx.meta(s.scale);
    out.dScale = castFrom(sumToShape(g, g.op('Mul', [dY, xhat]), s.xDims, sm.dims, ctx.opset), cd, sm.dtype);
  }
  if (s.bias && s.needBias && dY) {
    const bm = ctx.meta(s.bias);
    out.dBias = castFrom(sumToShape(g, dY, s.xDims, bm.dims, ctx.opset), cd, bm.dtype);
  }
  return out;
}

const where = (ctx: GradContext) => `node '${ctx.node.name}' (${ctx.node.opType})`;

/** LayerNormalization: inputs X, Scale, B?; outputs Y, Mean?, InvStdDev?. */
export const layerNormRule: GradRule = (ctx) => {
  const [x, scale, bias] = ctx.node.inputs as [string, string, string | undefined];
  const xm = ctx.meta(x);
  if (!ctx.dy.some(Boolean)) return [];
  const r = normBackward(ctx, {
    x,
    xDims: xm.dims,
    dtype: xm.dtype,
    scale,
    bias: bias || undefined,
    rms: false,
    axis: normAxis(intAttr(ctx, 'axis', -1), xm.dims.length, where(ctx)),
    dY: ctx.dy[0],
    dMean: ctx.dy[1],
    dInv: ctx.dy[2],
    outputIndex: [0, 1, 2],
    needX: ctx.needs[0]!,
    needScale: !!ctx.needs[1],
    needBias: !!ctx.needs[2],
  });
  return [r.dx, r.dScale, r.dBias];
};

/** RMSNormalization (opset 23: output Y) and SimplifiedLayerNormalization (outputs Y, InvStdDev?). */
export const rmsNormRule: GradRule = (ctx) => {
  const [x, scale] = ctx.node.inputs as [string, string];
  const xm = ctx.meta(x);
  if (!ctx.dy.some(Boolean)) return [];
  const r = normBackward(ctx, {
    x,
    xDims: xm.dims,
    dtype: xm.dtype,
    scale,
    rms: true,
    axis: normAxis(intAttr(ctx, 'axis', -1), xm.dims.length, where(ctx)),
    dY: ctx.dy[0],
    dInv: ctx.dy[1],
    outputIndex: [0, -1, 1],
    needX: ctx.needs[0]!,
    needScale: !!ctx.needs[1],
    needBias: false,
  });
  return [r.dx, r.dScale];
};

/**
 * com.microsoft SkipLayerNormalization (input, skip, gamma, beta?, bias?) and
 * SkipSimplifiedLayerNormalization (input, skip, gamma, bias?); outputs Y, mean?, inv_std_var?,
 * input_skip_bias_sum?. The sum S is rebuilt here; its gradient (from the normalisation and
 * from the fourth output) goes to input, skip and bias, each summed to its own shape.
 */
function skipNormRule(rms: boolean): GradRule {
  return (ctx) => {
    const ins = ctx.node.inputs;
    const [input, skip, gamma] = ins as [string, string, string];
    const beta = rms ? undefined : ins[3] || undefined;
    const biasIdx = rms ? 3 : 4;
    const bias = ins[biasIdx] || undefined;
    if (!ctx.dy.some(Boolean)) return [];
    if (rms && ctx.dy[1]) throw new Error(`${where(ctx)}: the mean output of SkipSimplifiedLayerNormalization carries no defined value to differentiate`);
    const g = ctx.b;
    const im = ctx.meta(input);
    let sum = g.op('Add', [input, skip]);
    if (bias) sum = g.op('Add', [sum, bias]);
    const needSum = ctx.needs[0] || ctx.needs[1] || (bias ? ctx.needs[biasIdx] : false);
    const r = normBackward(ctx, {
      x: sum,
      xDims: im.dims,
      dtype: im.dtype,
      scale: gamma,
      bias: beta,
      rms,
      axis: im.dims.length - 1,
      dY: ctx.dy[0],
      dMean: rms ? undefined : ctx.dy[1],
      dInv: ctx.dy[2],
      outputIndex: [0, 1, 2],
      needX: !!needSum,
      needScale: !!ctx.needs[2],
      needBias: !rms && !!ctx.needs[3],
    });
    const parts = [r.dx, ctx.dy[3]].filter((v): v is string => !!v);
    const dS = parts.length === 0 ? undefined : parts.length === 1 ? parts[0]! : g.op('Add', parts);
    const toShape = (i: number) => (dS && ctx.needs[i] ? sumToShape(g, dS, im.dims, ctx.meta(ins[i]!).dims, ctx.opset) : undefined);
    const out: (string | undefined)[] = [toShape(0), toShape(1), r.dScale];
    if (!rms) out.push(r.dBias);
    if (bias) out[biasIdx] = toShape(biasIdx);
    return out;
  };
}

export const skipLayerNormRule = skipNormRule(false);
export const skipSimplifiedLayerNormRule = skipNormRule(true);
