/**
 * Gradients of the broadcasting binary ops Add, Sub, Mul, Div and of Neg. Each operand's
 * gradient is computed at the output shape and summed back over the axes it was broadcast along.
 */
import type { GradRule } from '../rule.js';
import { outDtype, scalarLike, toInputShape } from './math-common.js';

export const addRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  return ctx.node.inputs.map((_, i) => (ctx.needs[i] ? toInputShape(ctx, dy, i) : undefined));
};

export const subRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  return [ctx.needs[0] ? toInputShape(ctx, dy, 0) : undefined, ctx.needs[1] ? toInputShape(ctx, ctx.b.op('Neg', [dy]), 1) : undefined];
};

export const mulRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  const [a, b] = ctx.node.inputs as [string, string];
  return [ctx.needs[0] ? toInputShape(ctx, ctx.b.op('Mul', [dy, b]), 0) : undefined, ctx.needs[1] ? toInputShape(ctx, ctx.b.op('Mul', [dy, a]), 1) : undefined];
};

/** y = a / b: da = dy / b, db = -dy * y / b (reuses the forward quotient). */
export const divRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  const [, b] = ctx.node.inputs as [string, string];
  const y = ctx.node.outputs[0]!;
  const g = ctx.b;
  const dyOverB = ctx.needs[0] || ctx.needs[1] ? g.op('Div', [dy, b]) : undefined;
  return [
    ctx.needs[0] ? toInputShape(ctx, dyOverB!, 0) : undefined,
    ctx.needs[1] ? toInputShape(ctx, g.op('Neg', [g.op('Mul', [dyOverB!, y])]), 1) : undefined,
  ];
};

export const negRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy || !ctx.needs[0]) return [];
  return [ctx.b.op('Neg', [dy])];
};

/** Variadic Sum: every operand receives dy, summed back over its broadcast axes. */
export const sumRule: GradRule = addRule;

/** Variadic Mean: every operand receives dy / n. */
export const meanRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  const scaled = ctx.b.op('Mul', [dy, scalarLike(ctx, 1 / ctx.node.inputs.length, outDtype(ctx), 'inv_n')]);
  return ctx.node.inputs.map((_, i) => (ctx.needs[i] ? toInputShape(ctx, scaled, i) : undefined));
};
