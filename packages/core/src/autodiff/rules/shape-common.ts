/**
 * Emitters shared by the structural rules (shape, indexing, selection, reduction): attribute and
 * constant-input readers that name the node on bad input, zeros, Slice/Pad in either opset form,
 * and the scatter-add that turns a gathered gradient back into the source tensor's layout.
 */
import type { GradContext, GradRule } from '../rule.js';
import type { DType, Tensor } from '../../onnx/types.js';
import { numel, tensor, toNumbers } from '../../onnx/tensor.js';
import { dtypeCode } from '../../onnx/dtype.js';
import { reshape } from '../emit.js';
import { attr } from '../../onnx/builder.js';

export function where(ctx: GradContext): string {
  return `node '${ctx.node.name}' (${ctx.node.opType})`;
}

export function fail(ctx: GradContext, msg: string): never {
  throw new Error(`gradient of ${where(ctx)}: ${msg}`);
}

export function normAxis(ctx: GradContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) fail(ctx, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function attrInt(ctx: GradContext, name: string): number | undefined {
  const a = ctx.node.attributes[name];
  if (!a) return undefined;
  if (a.type !== 'int') fail(ctx, `attribute ${name} must be an int, got ${a.type}`);
  return a.value;
}

export function attrInts(ctx: GradContext, name: string): number[] | undefined {
  const a = ctx.node.attributes[name];
  if (!a) return undefined;
  if (a.type !== 'ints') fail(ctx, `attribute ${name} must be ints, got ${a.type}`);
  return a.value;
}

export function attrFloat(ctx: GradContext, name: string): number | undefined {
  const a = ctx.node.attributes[name];
  if (!a) return undefined;
  if (a.type !== 'float' && a.type !== 'int') fail(ctx, `attribute ${name} must be a float, got ${a.type}`);
  return a.value;
}

export function attrString(ctx: GradContext, name: string): string | undefined {
  const a = ctx.node.attributes[name];
  if (!a) return undefined;
  if (a.type !== 'string') fail(ctx, `attribute ${name} must be a string, got ${a.type}`);
  return a.value;
}

/** Name of input i, or undefined when the input is omitted. */
export function optInput(ctx: GradContext, i: number): string | undefined {
  const n = ctx.node.inputs[i];
  return n ? n : undefined;
}

/** Values of an integer input known at build time (initializer or folded constant). */
export function constInts(ctx: GradContext, i: number): number[] | undefined {
  const name = optInput(ctx, i);
  if (!name) return undefined;
  const t = ctx.constant(name);
  return t ? toNumbers(t) : undefined;
}

export function constTensor(ctx: GradContext, i: number): Tensor | undefined {
  const name = optInput(ctx, i);
  return name ? ctx.constant(name) : undefined;
}

export function dimsOf(ctx: GradContext, name: string): number[] {
  return ctx.meta(name).dims;
}

/** Zeros of the given dtype and dims, built at run time so large zero tensors never become initializers. */
export function zeros(ctx: GradContext, dtype: DType, dims: readonly number[]): string {
  const { b } = ctx;
  return b.op('ConstantOfShape', [b.ints([...dims], 'zeros_shape')], { value: tensor(dtype, [1], [0]) });
}

/** A scalar constant; half-precision ones are stored as float32 and cast (the IR keeps half values as raw bits). */
export function scalar(ctx: GradContext, value: number, dtype: DType, hint = 'c'): string {
  if (dtype === 'float16' || dtype === 'bfloat16') return cast(ctx, ctx.b.scalar(value, 'float32', hint), dtype);
  return ctx.b.scalar(value, dtype, hint);
}

export function cast(ctx: GradContext, x: string, to: DType): string {
  return ctx.b.op('Cast', [x], { to: dtypeCode(to) });
}

/** Slice with constant parameters, in the attribute form before opset 10 and the input form after. */
export function slice(ctx: GradContext, x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
  const { b } = ctx;
  if (ctx.opset < 10) {
    if (steps?.some((s) => s !== 1)) fail(ctx, `Slice steps need opset 10 or later`);
    return b.op('Slice', [x], { starts, ends, axes });
  }
  const ins = [x, b.ints(starts, 'starts'), b.ints(ends, 'ends'), b.ints(axes, 'axes')];
  if (steps) ins.push(b.ints(steps, 'steps'));
  return b.op('Slice', ins);
}

/** Zero padding with one (begin..., end...) list of 2*rank entries; negative entries crop. */
export function padZeros(ctx: GradContext, x: string, pads: number[]): string {
  if (pads.every((p) => p === 0)) return x;
  const { b } = ctx;
  if (ctx.opset < 11) return b.op('Pad', [x], { pads, mode: 'constant', value: attr.f(0) });
  return b.op('Pad', [x, b.ints(pads, 'pads')], { mode: 'constant' });
}

/** Transpose, skipped when the permutation is the identity. */
export function transpose(ctx: GradContext, x: string, perm: number[]): string {
  if (perm.every((p, i) => p === i)) return x;
  return ctx.b.op('Transpose', [x], { perm });
}

export function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** Reshape, skipped when the shape already matches. */
export function reshapeTo(ctx: GradContext, x: string, from: readonly number[], to: readonly number[]): string {
  if (from.length === to.length && from.every((d, i) => d === to[i])) return x;
  return reshape(ctx.b, x, [...to]);
}

/** Integer index tensor as int64 (ScatterND and ScatterElements take int64 only). */
export function asInt64(ctx: GradContext, idx: string): string {
  return ctx.meta(idx).dtype === 'int64' ? idx : cast(ctx, idx, 'int64');
}

/**
 * Sums rows of `upd` ([N, Q]) into a zero tensor [n, Q] at rows `idx` ([N], int64, in [0, n)).
 * Repeated rows accumulate: ScatterND with reduction add from opset 16; before that ScatterND
 * without reduction when the rows are known to be distinct, else a one-hot matrix product
 * (memory N*n, the price of older opsets).
 */
export function scatterAddRows(ctx: GradContext, idx: string, upd: string, n: number, N: number, Q: number, dtype: DType, distinct: boolean): string {
  const { b } = ctx;
  if (ctx.opset >= 16 || (distinct && ctx.opset >= 11)) {
    const rows = reshape(b, idx, [N, 1]);
    const attrs = ctx.opset >= 16 ? { reduction: 'add' } : {};
    return b.op('ScatterND', [zeros(ctx, dtype, [n, Q]), rows, upd], attrs);
  }
  const range = b.constant(
    tensor(
      'int64',
      [1, n],
      Array.from({ length: n }, (_, i) => i),
    ),
    'range',
  );
  const hot = cast(ctx, b.op('Equal', [reshape(b, idx, [N, 1]), range]), dtype); // [N, n]
  return b.op('MatMul', [b.op('Transpose', [hot], { perm: [1, 0] }), upd]);
}

export function allDistinct(values: readonly number[]): boolean {
  return new Set(values).size === values.length;
}

/** Row-major strides of dims. */
export function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

export const prod = (dims: readonly number[]): number => numel(dims);

/** A sum over all elements, kept as a scalar and reshaped to `to` (a scalar or [1] input). */
export function sumAllTo(ctx: GradContext, x: string, rank: number, to: readonly number[]): string {
  const { b } = ctx;
  const axes = Array.from({ length: rank }, (_, i) => i);
  let s = x;
  if (rank > 0) {
    s = ctx.opset >= 13 ? b.op('ReduceSum', [x, b.ints(axes, 'axes')], { keepdims: 0 }) : b.op('ReduceSum', [x], { axes, keepdims: 0 });
  }
  return reshape(b, s, [...to]);
}

/**
 * The gradient of any op that only reinterprets the layout of input 0 (Reshape, Flatten,
 * Squeeze, Unsqueeze, Identity): the output gradient reshaped to the input's dims. Other inputs
 * (shapes, axes) are integer and get none.
 */
export const layoutOnly: GradRule = dataInputRule((ctx, dy) => reshapeTo(ctx, dy, dimsOf(ctx, ctx.node.outputs[0]!), dimsOf(ctx, ctx.node.inputs[0]!)));

/** One undefined per input: the start of every rule's result. */
export function noGrads(ctx: GradContext): (string | undefined)[] {
  return ctx.node.inputs.map(() => undefined);
}

/**
 * A rule for an op whose only differentiable input is input 0 and whose output 0 carries the
 * gradient (reductions, gathers, Slice, layout ops): `grad` runs only when dy flows and input 0
 * needs a gradient, and returns input 0's gradient; the other inputs (indices, axes) get none.
 */
export function dataInputRule(grad: (ctx: GradContext, dy: string) => string): GradRule {
  return (ctx) => {
    const out = noGrads(ctx);
    const dy = ctx.dy[0];
    if (!ctx.needs[0] || !dy) return out;
    out[0] = grad(ctx, dy);
    return out;
  };
}

/** An index into a dim of `size` made non-negative (negative counts from the end); out of range is an error naming `where`. */
export function wrapIndex(ctx: GradContext, v: number, size: number, where: string): number {
  if (v < -size || v >= size) fail(ctx, `index ${v} is out of range for ${where}`);
  return v < 0 ? v + size : v;
}

/**
 * The flat target rows of a gather's scatter-add, from its indices input: computed here when the
 * indices are a known constant (`fromConstant` maps their values to `n` rows; all-distinct rows
 * let scatterAddRows skip accumulation), else emitted by `atRunTime` (token ids).
 */
export function gatherRows(
  ctx: GradContext,
  indices: string,
  n: number,
  hint: string,
  fromConstant: (values: number[]) => number[],
  atRunTime: () => string,
): { rows: string; distinct: boolean } {
  const known = ctx.constant(indices);
  if (!known) return { rows: atRunTime(), distinct: false };
  const flat = fromConstant(toNumbers(known));
  return { rows: ctx.b.constant(tensor('int64', [n], flat), hint), distinct: allDistinct(flat) };
}

/** The flat element index 0..n-1 laid out in `dims` (int64), built with Range where the opset has it. */
export function iota(ctx: GradContext, dims: readonly number[], offset = 0): string {
  const { b } = ctx;
  const n = prod(dims);
  if (ctx.opset < 11) {
    return b.constant(
      tensor(
        'int64',
        [...dims],
        Array.from({ length: n }, (_, i) => i + offset),
      ),
      'iota',
    );
  }
  const s = (v: number, hint: string) => b.constant(tensor('int64', [], [v]), hint);
  const flat = b.op('Range', [s(offset, 'iota_start'), s(offset + n, 'iota_limit'), s(1, 'iota_delta')]);
  return reshape(b, flat, [...dims]);
}
