/**
 * Gradients of the less common elementwise activations and inverse/hyperbolic trig functions,
 * so that models using them (Softplus in state-space models, HardSwish/HardSigmoid in mobile
 * architectures, PRelu, ...) stay differentiable. Each rule is dy * f'(x) with f' written in
 * terms of x (or of the forward output y where that is shorter).
 */
import type { GradContext, GradRule } from '../rule.js';
import { floatAttr, outDtype, scalarLike, toInputShape } from './math-common.js';

type Deriv = (ctx: GradContext, x: string, y: string, k: (v: number, hint: string) => string) => string;

/** dy * f'(x) for a single-input elementwise op. */
function elementwise(deriv: Deriv): GradRule {
  return (ctx) => {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [];
    const dt = outDtype(ctx);
    const k = (v: number, hint: string) => scalarLike(ctx, v, dt, hint);
    return [ctx.b.op('Mul', [dy, deriv(ctx, ctx.node.inputs[0]!, ctx.node.outputs[0]!, k)])];
  };
}

/** 1 where x > t, else 0, in the forward dtype. */
function stepAbove(ctx: GradContext, x: string, t: string, k: (v: number, hint: string) => string): string {
  return ctx.b.op('Where', [ctx.b.op('Greater', [x, t]), k(1, 'one'), k(0, 'zero')]);
}

/** softplus'(x) = sigmoid(x) */
export const softplusRule = elementwise((ctx, x) => ctx.b.op('Sigmoid', [x]));

/** softsign'(x) = 1 / (1 + |x|)^2 */
export const softsignRule = elementwise((ctx, x, _y, k) => {
  const d = ctx.b.op('Add', [k(1, 'one'), ctx.b.op('Abs', [x])]);
  return ctx.b.op('Reciprocal', [ctx.b.op('Mul', [d, d])]);
});

/** elu'(x) = 1 for x > 0, else y + alpha */
export const eluRule = elementwise((ctx, x, y, k) => {
  const alpha = floatAttr(ctx, 'alpha', 1);
  return ctx.b.op('Where', [ctx.b.op('Greater', [x, k(0, 'zero')]), k(1, 'one'), ctx.b.op('Add', [y, k(alpha, 'alpha')])]);
});

/** selu'(x) = gamma for x > 0, else y + gamma * alpha */
export const seluRule = elementwise((ctx, x, y, k) => {
  const alpha = floatAttr(ctx, 'alpha', 1.6732631921768188);
  const gamma = floatAttr(ctx, 'gamma', 1.0507010221481323);
  return ctx.b.op('Where', [ctx.b.op('Greater', [x, k(0, 'zero')]), k(gamma, 'gamma'), ctx.b.op('Add', [y, k(gamma * alpha, 'gamma_alpha')])]);
});

/** celu'(x) = 1 for x > 0, else exp(x / alpha) */
export const celuRule = elementwise((ctx, x, _y, k) => {
  const alpha = floatAttr(ctx, 'alpha', 1);
  return ctx.b.op('Where', [ctx.b.op('Greater', [x, k(0, 'zero')]), k(1, 'one'), ctx.b.op('Exp', [ctx.b.op('Mul', [x, k(1 / alpha, 'inv_alpha')])])]);
});

/** hardsigmoid'(x) = alpha where 0 < alpha x + beta < 1, else 0 */
export const hardSigmoidRule = elementwise((ctx, x, _y, k) => {
  const alpha = floatAttr(ctx, 'alpha', 0.2);
  const beta = floatAttr(ctx, 'beta', 0.5);
  const g = ctx.b;
  const z = g.op('Add', [g.op('Mul', [x, k(alpha, 'alpha')]), k(beta, 'beta')]);
  const inside = g.op('And', [g.op('Greater', [z, k(0, 'zero')]), g.op('Less', [z, k(1, 'one')])]);
  return g.op('Where', [inside, k(alpha, 'alpha'), k(0, 'zero')]);
});

/** hardswish(x) = x * clamp(x/6 + 1/2, 0, 1): derivative 0 below -3, 1 above 3, x/3 + 1/2 between */
export const hardSwishRule = elementwise((ctx, x, _y, k) => {
  const g = ctx.b;
  const mid = g.op('Add', [g.op('Mul', [x, k(1 / 3, 'third')]), k(0.5, 'half')]);
  const upper = g.op('Where', [g.op('Greater', [x, k(3, 'three')]), k(1, 'one'), mid]);
  return g.op('Where', [g.op('Less', [x, k(-3, 'minus_three')]), k(0, 'zero'), upper]);
});

/** mish(x) = x tanh(sp), sp = softplus(x): derivative tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x) */
export const mishRule = elementwise((ctx, x, _y, k) => {
  const g = ctx.b;
  const t = g.op('Tanh', [g.op('Softplus', [x])]);
  const sech2 = g.op('Sub', [k(1, 'one'), g.op('Mul', [t, t])]);
  return g.op('Add', [t, g.op('Mul', [x, g.op('Mul', [sech2, g.op('Sigmoid', [x])])])]);
});

/** thresholdedrelu'(x) = 1 where x > alpha, else 0 */
export const thresholdedReluRule = elementwise((ctx, x, _y, k) => stepAbove(ctx, x, k(floatAttr(ctx, 'alpha', 1), 'alpha'), k));

/** PRelu y = x for x > 0, slope * x otherwise (slope broadcasts to x). */
export const preluRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  const g = ctx.b;
  const [x, slope] = ctx.node.inputs as [string, string];
  const dt = outDtype(ctx);
  const pos = g.op('Greater', [x, scalarLike(ctx, 0, dt, 'zero')]);
  return [
    ctx.needs[0] ? toInputShape(ctx, g.op('Where', [pos, dy, g.op('Mul', [dy, slope])]), 0) : undefined,
    ctx.needs[1] ? toInputShape(ctx, g.op('Where', [pos, scalarLike(ctx, 0, dt, 'zero'), g.op('Mul', [dy, x])]), 1) : undefined,
  ];
};

// Hyperbolic and inverse trig functions (onnxruntime runs these in float32 only).
const half = (ctx: GradContext, a: string, b: string, k: (v: number, hint: string) => string) => ctx.b.op('Mul', [ctx.b.op('Add', [a, b]), k(0.5, 'half')]);
const expPair = (ctx: GradContext, x: string) => [ctx.b.op('Exp', [x]), ctx.b.op('Exp', [ctx.b.op('Neg', [x])])] as const;
const oneMinusSq = (ctx: GradContext, x: string, k: (v: number, hint: string) => string) => ctx.b.op('Sub', [k(1, 'one'), ctx.b.op('Mul', [x, x])]);

/** sinh' = cosh = (e^x + e^-x) / 2 */
export const sinhRule = elementwise((ctx, x, _y, k) => {
  const [ep, en] = expPair(ctx, x);
  return half(ctx, ep, en, k);
});
/** cosh' = sinh = (e^x - e^-x) / 2 */
export const coshRule = elementwise((ctx, x, _y, k) => {
  const [ep, en] = expPair(ctx, x);
  return half(ctx, ep, ctx.b.op('Neg', [en]), k);
});
/** tan' = 1 + y^2 */
export const tanRule = elementwise((ctx, _x, y, k) => ctx.b.op('Add', [k(1, 'one'), ctx.b.op('Mul', [y, y])]));
/** atan' = 1 / (1 + x^2) */
export const atanRule = elementwise((ctx, x, _y, k) => ctx.b.op('Reciprocal', [ctx.b.op('Add', [k(1, 'one'), ctx.b.op('Mul', [x, x])])]));
/** asin' = 1 / sqrt(1 - x^2) */
export const asinRule = elementwise((ctx, x, _y, k) => ctx.b.op('Reciprocal', [ctx.b.op('Sqrt', [oneMinusSq(ctx, x, k)])]));
/** acos' = -1 / sqrt(1 - x^2) */
export const acosRule = elementwise((ctx, x, _y, k) => ctx.b.op('Neg', [ctx.b.op('Reciprocal', [ctx.b.op('Sqrt', [oneMinusSq(ctx, x, k)])])]));
/** asinh' = 1 / sqrt(x^2 + 1) */
export const asinhRule = elementwise((ctx, x, _y, k) => ctx.b.op('Reciprocal', [ctx.b.op('Sqrt', [ctx.b.op('Add', [ctx.b.op('Mul', [x, x]), k(1, 'one')])])]));
/** acosh' = 1 / sqrt(x^2 - 1) */
export const acoshRule = elementwise((ctx, x, _y, k) => ctx.b.op('Reciprocal', [ctx.b.op('Sqrt', [ctx.b.op('Sub', [ctx.b.op('Mul', [x, x]), k(1, 'one')])])]));
/** atanh' = 1 / (1 - x^2) */
export const atanhRule = elementwise((ctx, x, _y, k) => ctx.b.op('Reciprocal', [oneMinusSq(ctx, x, k)]));
