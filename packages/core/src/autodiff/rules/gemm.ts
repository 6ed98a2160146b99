/**
 * Gemm: Y = alpha * A' @ B' + beta * C with A' = transA ? A^T : A, B' = transB ? B^T : B (2-D).
 *   dA' = alpha * dY @ B'^T,  dB' = alpha * A'^T @ dY,  dC = beta * dY summed to C's shape.
 * Emitted with MatMul/Transpose so that it works at every opset (Gemm without C needs 11).
 */
import type { GradRule } from '../rule.js';
import type { GraphBuilder } from '../../onnx/builder.js';
import { sumToShape } from '../emit.js';
import { floatAttr, intAttr, outDtype, scalarLike } from './math-common.js';

const t = (b: GraphBuilder, x: string) => b.op('Transpose', [x], { perm: [1, 0] });

export const gemmRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  const g = ctx.b;
  const [a, bIn, c] = ctx.node.inputs as [string, string, string | undefined];
  const alpha = floatAttr(ctx, 'alpha', 1);
  const beta = floatAttr(ctx, 'beta', 1);
  const transA = intAttr(ctx, 'transA', 0) !== 0;
  const transB = intAttr(ctx, 'transB', 0) !== 0;
  const dt = outDtype(ctx);
  const scaled = (x: string, s: number, hint: string) => (s === 1 ? x : g.op('Mul', [x, scalarLike(ctx, s, dt, hint)]));
  const dyA = scaled(dy, alpha, 'alpha');
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  if (ctx.needs[0]) {
    // transA=0: dA = alpha dY B'^T; transA=1: dA = (alpha dY B'^T)^T = alpha B' dY^T.
    const bPrime = transB ? t(g, bIn) : bIn;
    out[0] = transA ? g.op('MatMul', [bPrime, t(g, dyA)]) : g.op('MatMul', [dyA, transB ? bIn : t(g, bIn)]);
  }
  if (ctx.needs[1]) {
    // transB=0: dB = alpha A'^T dY; transB=1: dB = alpha dY^T A'.
    const aPrime = transA ? t(g, a) : a;
    out[1] = transB ? g.op('MatMul', [t(g, dyA), aPrime]) : g.op('MatMul', [transA ? a : t(g, a), dyA]);
  }
  if (c && ctx.needs[2]) {
    out[2] = sumToShape(g, scaled(dy, beta, 'beta'), ctx.meta(ctx.node.outputs[0]!).dims, ctx.meta(c).dims, ctx.opset);
  }
  return out;
};
