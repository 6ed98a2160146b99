/** Gradients of Relu, LeakyRelu and Gelu (opset 20, exact and tanh approximations). */
import type { GradRule } from '../rule.js';
import { floatAttr, outDtype, scalarLike, stringAttr } from './math-common.js';

/** Relu passes the gradient where x > 0 (the subgradient at 0 is taken as 0). */
export const reluRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy || !ctx.needs[0]) return [];
  const dt = outDtype(ctx);
  const pos = ctx.b.op('Greater', [ctx.node.inputs[0]!, scalarLike(ctx, 0, dt, 'zero')]);
  return [ctx.b.op('Where', [pos, dy, scalarLike(ctx, 0, dt, 'zero')])];
};

export const leakyReluRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy || !ctx.needs[0]) return [];
  const dt = outDtype(ctx);
  const alpha = floatAttr(ctx, 'alpha', 0.01);
  const pos = ctx.b.op('Greater', [ctx.node.inputs[0]!, scalarLike(ctx, 0, dt, 'zero')]);
  return [ctx.b.op('Where', [pos, dy, ctx.b.op('Mul', [dy, scalarLike(ctx, alpha, dt, 'alpha')])])];
};

/**
 * Gelu. approximate='none': y = x Phi(x), dy/dx = Phi(x) + x phi(x).
 * approximate='tanh': y = 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3), c = sqrt(2/pi),
 * dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2).
 */
export const geluRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy || !ctx.needs[0]) return [];
  const g = ctx.b;
  const dt = outDtype(ctx);
  const x = ctx.node.inputs[0]!;
  const k = (v: number, hint: string) => scalarLike(ctx, v, dt, hint);
  const approximate = stringAttr(ctx, 'approximate', 'none');
  let d: string;
  if (approximate === 'none') {
    const cdf = g.op('Mul', [k(0.5, 'half'), g.op('Add', [k(1, 'one'), g.op('Erf', [g.op('Mul', [x, k(Math.SQRT1_2, 'inv_sqrt2')])])])]);
    const pdf = g.op('Mul', [g.op('Exp', [g.op('Mul', [g.op('Mul', [x, x]), k(-0.5, 'neg_half')])]), k(1 / Math.sqrt(2 * Math.PI), 'inv_sqrt_2pi')]);
    d = g.op('Add', [cdf, g.op('Mul', [x, pdf])]);
  } else if (approximate === 'tanh') {
    const c = Math.sqrt(2 / Math.PI);
    const x2 = g.op('Mul', [x, x]);
    const inner = g.op('Mul', [x, g.op('Add', [k(1, 'one'), g.op('Mul', [x2, k(0.044715, 'gelu_a')])])]);
    const t = g.op('Tanh', [g.op('Mul', [inner, k(c, 'gelu_c')])]);
    const left = g.op('Mul', [k(0.5, 'half'), g.op('Add', [k(1, 'one'), t])]);
    const sech2 = g.op('Sub', [k(1, 'one'), g.op('Mul', [t, t])]);
    const du = g.op('Add', [k(c, 'gelu_c'), g.op('Mul', [x2, k(3 * 0.044715 * c, 'gelu_3ac')])]);
    const right = g.op('Mul', [g.op('Mul', [k(0.5, 'half'), x]), g.op('Mul', [sech2, du])]);
    d = g.op('Add', [left, right]);
  } else {
    throw new Error(`node '${ctx.node.name}' (Gelu): unknown approximate='${approximate}'`);
  }
  return [g.op('Mul', [dy, d])];
};
