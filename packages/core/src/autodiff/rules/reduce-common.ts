/**
 * What every reduction's gradient needs: the output's dims with the reduced axes kept as 1
 * ("keep shape"), so dy and y broadcast against x. Axes come from the attribute (before opset
 * 13 for ReduceSum, 18 for the others) or the input; empty axes reduce everything unless
 * noop_with_empty_axes. With keepdims=1 the keep shape is the output's dims; with keepdims=0 and
 * axes only known at run time it is inferred from the static dims, and an ambiguous case is an error.
 */
import type { GradContext, GradRule } from '../rule.js';
import { attrInt, attrInts, constInts, dataInputRule, dimsOf, fail, normAxis, optInput, prod } from './shape-common.js';

export interface ReduceShape {
  x: string;
  y: string;
  xDims: number[];
  /** Output dims with the reduced axes present as 1. */
  keep: number[];
  /** Reduced axes of size > 1 (summing over the others changes nothing). */
  axes: number[];
  /** Number of elements reduced into each output element. */
  count: number;
}

export function reduceShape(ctx: GradContext): ReduceShape {
  const { node } = ctx;
  const x = node.inputs[0]!;
  const y = node.outputs[0]!;
  const xDims = dimsOf(ctx, x);
  const yDims = dimsOf(ctx, y);
  const rank = xDims.length;
  const keepdims = (attrInt(ctx, 'keepdims') ?? 1) !== 0;
  const axesAsInput = node.opType === 'ReduceSum' ? ctx.opset >= 13 : ctx.opset >= 18;
  let keep: number[] | undefined;
  if (keepdims) {
    keep = [...yDims];
  } else {
    let axes: number[] | undefined;
    let known = true;
    if (axesAsInput) {
      if (optInput(ctx, 1)) {
        axes = constInts(ctx, 1);
        known = axes !== undefined;
      }
    } else {
      axes = attrInts(ctx, 'axes');
    }
    if (known) {
      const noop = (attrInt(ctx, 'noop_with_empty_axes') ?? 0) !== 0;
      const list = axes ?? [];
      const set = new Set(list.length ? list.map((a) => normAxis(ctx, a, rank)) : noop ? [] : xDims.map((_, i) => i));
      keep = xDims.map((d, i) => (set.has(i) ? 1 : d));
    } else {
      keep = inferKeep(ctx, xDims, yDims);
    }
  }
  if (keep.length !== rank || prod(keep) !== prod(yDims)) {
    fail(ctx, `output dims [${yDims}] do not match a reduction of input dims [${xDims}]`);
  }
  const axes = xDims.map((d, i) => (keep![i] === 1 && d !== 1 ? i : -1)).filter((i) => i >= 0);
  return { x, y, xDims, keep, axes, count: prod(xDims) / Math.max(prod(keep), 1) };
}

/** A reduction's rule: `grad` gets the reduction's shapes and dy (in the output's dims) and returns dx. */
export function reduceRule(grad: (ctx: GradContext, r: ReduceShape, dy: string) => string): GradRule {
  return dataInputRule((ctx, dy) => grad(ctx, reduceShape(ctx), dy));
}

/** Which axes a keepdims=0 reduction removed, from the dims alone; errors when several fit differently. */
function inferKeep(ctx: GradContext, xDims: number[], yDims: number[]): number[] {
  const rank = xDims.length;
  const fits = new Set<string>();
  for (let mask = 0; mask < 1 << rank; mask++) {
    const rest = xDims.filter((_, i) => !(mask & (1 << i)));
    if (rest.length === yDims.length && rest.every((d, i) => d === yDims[i])) {
      fits.add(xDims.map((d, i) => (mask & (1 << i) ? 1 : d)).join(','));
    }
  }
  if (fits.size !== 1) {
    fail(
      ctx,
      `axes are only known at run time and input dims [${xDims}] -> output dims [${yDims}] ${fits.size ? 'fit several reductions' : 'fit no reduction'}`,
    );
  }
  return [...fits][0]!
    .split(',')
    .filter((s) => s !== '')
    .map(Number);
}
