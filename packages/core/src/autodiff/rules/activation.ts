/** Gradients of Relu, LeakyRelu, Gelu (opset 20, exact and tanh) and onnxruntime's fused Gelu variants. */
import type { GradContext, GradRule } from '../rule.js';
import { floatAttr, outDtype, scalarLike, stringAttr, toInputShape } from './math-common.js';

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
 * d gelu(x)/dx. approximate='none': y = x Phi(x), dy/dx = Phi(x) + x phi(x).
 * approximate='tanh': y = 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3), c = sqrt(2/pi),
 * dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2).
 */
function geluDerivative(ctx: GradContext, x: string, approximate: string): string {
  const g = ctx.b;
  const dt = outDtype(ctx);
  const k = (v: number, hint: string) => scalarLike(ctx, v, dt, hint);
  if (approximate === 'none') {
    const cdf = g.op('Mul', [k(0.5, 'half'), g.op('Add', [k(1, 'one'), g.op('Erf', [g.op('Mul', [x, k(Math.SQRT1_2, 'inv_sqrt2')])])])]);
    const pdf = g.op('Mul', [g.op('Exp', [g.op('Mul', [g.op('Mul', [x, x]), k(-0.5, 'neg_half')])]), k(1 / Math.sqrt(2 * Math.PI), 'inv_sqrt_2pi')]);
    return g.op('Add', [cdf, g.op('Mul', [x, pdf])]);
  }
  if (approximate === 'tanh') {
    const c = Math.sqrt(2 / Math.PI);
    const x2 = g.op('Mul', [x, x]);
    const inner = g.op('Mul', [x, g.op('Add', [k(1, 'one'), g.op('Mul', [x2, k(0.044715, 'gelu_a')])])]);
    const t = g.op('Tanh', [g.op('Mul', [inner, k(c, 'gelu_c')])]);
    const left = g.op('Mul', [k(0.5, 'half'), g.op('Add', [k(1, 'one'), t])]);
    const sech2 = g.op('Sub', [k(1, 'one'), g.op('Mul', [t, t])]);
    const du = g.op('Add', [k(c, 'gelu_c'), g.op('Mul', [x2, k(3 * 0.044715 * c, 'gelu_3ac')])]);
    const right = g.op('Mul', [g.op('Mul', [k(0.5, 'half'), x]), g.op('Mul', [sech2, du])]);
    return g.op('Add', [left, right]);
  }
  throw new Error(`node '${ctx.node.name}' (${ctx.node.opType}): unknown approximate='${approximate}'`);
}

/** Gelu (opset 20), approximate 'none' or 'tanh'. */
export const geluRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy || !ctx.needs[0]) return [];
  return [ctx.b.op('Mul', [dy, geluDerivative(ctx, ctx.node.inputs[0]!, stringAttr(ctx, 'approximate', 'none'))])];
};

/**
 * onnxruntime contrib ops that its transformer optimiser fuses into exported models:
 * com.microsoft Gelu (exact), BiasGelu (exact gelu of A + B), FastGelu (tanh gelu of X + optional
 * bias), QuickGelu (x * sigmoid(alpha x), alpha default 1.702).
 */
function biasedGelu(approximate: string): GradRule {
  return (ctx) => {
    const dy = ctx.dy[0];
    if (!dy) return [];
    const [x, bias] = ctx.node.inputs as [string, string | undefined];
    const pre = bias ? ctx.b.op('Add', [x, bias]) : x;
    const dpre = ctx.b.op('Mul', [dy, geluDerivative(ctx, pre, approximate)]);
    return [ctx.needs[0] ? toInputShape(ctx, dpre, 0) : undefined, bias && ctx.needs[1] ? toInputShape(ctx, dpre, 1) : undefined];
  };
}

export const msGeluRule = biasedGelu('none');
export const msBiasGeluRule = biasedGelu('none');
export const msFastGeluRule = biasedGelu('tanh');

export const msQuickGeluRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy || !ctx.needs[0]) return [];
  const g = ctx.b;
  const dt = outDtype(ctx);
  const x = ctx.node.inputs[0]!;
  const alpha = floatAttr(ctx, 'alpha', 1.702);
  const ax = g.op('Mul', [x, scalarLike(ctx, alpha, dt, 'alpha')]);
  const s = g.op('Sigmoid', [ax]);
  // d/dx x s(ax) = s + ax s (1 - s)
  const d = g.op('Add', [s, g.op('Mul', [ax, g.op('Mul', [s, g.op('Sub', [scalarLike(ctx, 1, dt, 'one'), s])])])]);
  return [g.op('Mul', [dy, d])];
};
