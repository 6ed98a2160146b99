/**
 * Gradients of elementwise unary functions, written in terms of the forward output where that
 * is cheaper than recomputing from the input (Exp, Sqrt, Tanh, Sigmoid, Reciprocal).
 */
import type { GradRule, GradContext } from '../rule.js';
import { outDtype, scalarLike } from './math-common.js';

function unary(body: (ctx: GradContext, dy: string, x: string, y: string) => string): GradRule {
  return (ctx) => {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [];
    return [body(ctx, dy, ctx.node.inputs[0]!, ctx.node.outputs[0]!)];
  };
}

/** d sqrt(x) = 0.5 / y */
export const sqrtRule = unary((ctx, dy, _x, y) => ctx.b.op('Div', [ctx.b.op('Mul', [dy, scalarLike(ctx, 0.5, outDtype(ctx), 'half')]), y]));

/** d (1/x) = -y^2 */
export const reciprocalRule = unary((ctx, dy, _x, y) => ctx.b.op('Neg', [ctx.b.op('Mul', [dy, ctx.b.op('Mul', [y, y])])]));

export const expRule = unary((ctx, dy, _x, y) => ctx.b.op('Mul', [dy, y]));

export const logRule = unary((ctx, dy, x) => ctx.b.op('Div', [dy, x]));

/** d tanh = 1 - y^2 */
export const tanhRule = unary((ctx, dy, _x, y) => {
  const one = scalarLike(ctx, 1, outDtype(ctx), 'one');
  return ctx.b.op('Mul', [dy, ctx.b.op('Sub', [one, ctx.b.op('Mul', [y, y])])]);
});

/** d erf(x) = 2/sqrt(pi) * exp(-x^2) */
export const erfRule = unary((ctx, dy, x) => {
  const dt = outDtype(ctx);
  const e = ctx.b.op('Exp', [ctx.b.op('Neg', [ctx.b.op('Mul', [x, x])])]);
  return ctx.b.op('Mul', [dy, ctx.b.op('Mul', [e, scalarLike(ctx, 2 / Math.sqrt(Math.PI), dt, 'two_over_sqrt_pi')])]);
});

/** d sigmoid = y (1 - y) */
export const sigmoidRule = unary((ctx, dy, _x, y) => {
  const one = scalarLike(ctx, 1, outDtype(ctx), 'one');
  return ctx.b.op('Mul', [dy, ctx.b.op('Mul', [y, ctx.b.op('Sub', [one, y])])]);
});

export const sinRule = unary((ctx, dy, x) => ctx.b.op('Mul', [dy, ctx.b.op('Cos', [x])]));

export const cosRule = unary((ctx, dy, x) => ctx.b.op('Neg', [ctx.b.op('Mul', [dy, ctx.b.op('Sin', [x])])]));
