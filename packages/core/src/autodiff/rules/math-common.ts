/**
 * Small emitters shared by the math rules: typed scalar constants, the broadcast-reducing
 * gradient of an operand, and axis normalisation.
 */
import type { GradContext } from '../rule.js';
import type { DType, Tensor } from '../../onnx/types.js';
import { floatToHalfBits, tensor } from '../../onnx/tensor.js';
import { sumToShape } from '../emit.js';

/** float32 -> bfloat16 bit pattern (round to nearest even). */
export function floatToBfloat16Bits(v: number): number {
  const x = new Uint32Array(new Float32Array([v]).buffer)[0]!;
  if (Number.isNaN(v)) return 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A float tensor of any float dtype from plain numbers (half types are stored as bit patterns). */
export function floatTensor(dtype: DType, dims: number[], values: number[]): Tensor {
  if (dtype === 'float16') return tensor(dtype, dims, values.map(floatToHalfBits));
  if (dtype === 'bfloat16') return tensor(dtype, dims, values.map(floatToBfloat16Bits));
  if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`expected a float dtype, got ${dtype}`);
  return tensor(dtype, dims, values);
}

/** A scalar constant in the dtype of the forward value it combines with. */
export function scalarLike(ctx: GradContext, value: number, dtype: DType, hint = 'c'): string {
  return ctx.b.constant(floatTensor(dtype, [], [value]), hint);
}

/** Reduces a gradient computed at the node's output shape back to input `i`'s shape. */
export function toInputShape(ctx: GradContext, grad: string, i: number, fromDims?: readonly number[]): string {
  const from = fromDims ?? ctx.meta(ctx.node.outputs[0]!).dims;
  const to = ctx.meta(ctx.node.inputs[i]!).dims;
  return sumToShape(ctx.b, grad, from, to, ctx.opset);
}

export function normAxis(axis: number, rank: number, where: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${where}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function intAttr(ctx: GradContext, name: string, dflt: number): number {
  const a = ctx.node.attributes[name];
  if (!a) return dflt;
  if (a.type !== 'int') throw new Error(`node '${ctx.node.name}' (${ctx.node.opType}): attribute ${name} must be an int`);
  return a.value;
}

export function floatAttr(ctx: GradContext, name: string, dflt: number): number {
  const a = ctx.node.attributes[name];
  if (!a) return dflt;
  if (a.type !== 'float' && a.type !== 'int') throw new Error(`node '${ctx.node.name}' (${ctx.node.opType}): attribute ${name} must be a float`);
  return a.value;
}

export function stringAttr(ctx: GradContext, name: string, dflt: string): string {
  const a = ctx.node.attributes[name];
  if (!a) return dflt;
  if (a.type !== 'string') throw new Error(`node '${ctx.node.name}' (${ctx.node.opType}): attribute ${name} must be a string`);
  return a.value;
}

/** The dtype gradients of this node are emitted in: that of its first float output. */
export function outDtype(ctx: GradContext): DType {
  return ctx.meta(ctx.node.outputs[0]!).dtype;
}
