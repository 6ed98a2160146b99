/**
 * Opset-aware emitters for the handful of ops whose signature moved from attributes to inputs
 * (ReduceSum at 13, Squeeze/Unsqueeze at 13, the other reductions at 18), plus the broadcast
 * reduction every binary rule needs.
 */
import type { GraphBuilder } from '../onnx/builder.js';

export function reduceOp(
  b: GraphBuilder,
  op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceMin',
  x: string,
  axes: number[],
  keepdims: boolean,
  opset: number,
  output?: string,
): string {
  const inputAxes = op === 'ReduceSum' ? opset >= 13 : opset >= 18;
  const named = output ? { output } : {};
  if (inputAxes) return b.op(op, [x, b.ints(axes, 'axes')], { keepdims: keepdims ? 1 : 0 }, named);
  return b.op(op, [x], { axes, keepdims: keepdims ? 1 : 0 }, named);
}

export function unsqueeze(b: GraphBuilder, x: string, axes: number[], opset: number): string {
  return opset >= 13 ? b.op('Unsqueeze', [x, b.ints(axes, 'axes')]) : b.op('Unsqueeze', [x], { axes });
}

export function squeeze(b: GraphBuilder, x: string, axes: number[], opset: number): string {
  return opset >= 13 ? b.op('Squeeze', [x, b.ints(axes, 'axes')]) : b.op('Squeeze', [x], { axes });
}

export function reshape(b: GraphBuilder, x: string, dims: number[]): string {
  return b.op('Reshape', [x, b.ints(dims, 'shape')]);
}

/**
 * Sums a gradient of shape `from` (the broadcast result) back to the shape `to` of one operand,
 * following numpy broadcasting: leading extra axes and axes where `to` is 1 are summed.
 */
export function sumToShape(b: GraphBuilder, grad: string, from: readonly number[], to: readonly number[], opset: number): string {
  if (from.length === to.length && from.every((d, i) => d === to[i])) return grad;
  const lead = from.length - to.length;
  if (lead < 0) throw new Error(`cannot reduce gradient of shape [${from}] to the larger shape [${to}]`);
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead) axes.push(i);
    else if (to[i - lead] === 1 && from[i] !== 1) axes.push(i);
  }
  let g = grad;
  if (axes.length) g = reduceOp(b, 'ReduceSum', g, axes, true, opset);
  return reshape(b, g, [...to]);
}
