/**
 * The constant evaluator of the folding pass (fold.ts): one table entry per foldable op.
 *
 * Why JavaScript and not one ORT run over the constant subgraph: the values folded here are shape
 * arithmetic and small index tensors (tens of elements), where a session per fold would cost more
 * than the work; the evaluator is synchronous, so inlining an If can fold its condition without a
 * session; and every op it evaluates has exact semantics that the tests compare against ORT. Int64
 * math runs on BigInt so sentinels like INT64_MAX (Slice ends in torch exports) survive exactly.
 * Float arithmetic is limited to correctly rounded ops (+ - * / sqrt, min, max, comparisons) whose
 * float32 results equal ORT's bit for bit; float16/bfloat16 tensors are only moved, never computed,
 * and ops outside the set are left in the graph (the evaluator answers null, never a guess).
 */
import type { DType, Node, Tensor, TensorArray } from './types.js';
import { allocate, numel, tensor } from './tensor.js';
import { dtypeFromCode } from './dtype.js';
import { describeNode } from './graph.js';

export interface EvalContext {
  /** Default-domain opset (attribute-vs-input forms changed across versions). */
  opset: number;
  /** Dims of input i when it is not a constant (lets Shape and Size fold). */
  inputShapes?: (readonly number[] | undefined)[];
  /** Outputs larger than this are not computed (answer null). Default 1,048,576. */
  maxElements?: number;
}

/** Thrown for inputs that violate the op's contract (bad axis, index out of range, ...). */
class FoldError extends Error {}

type Scalar = number | bigint | string;

const BIG: ReadonlySet<DType> = new Set(['int64', 'uint64']);
const INTS: ReadonlySet<DType> = new Set(['int64', 'uint64', 'int32', 'uint32', 'int16', 'uint16', 'int8', 'uint8']);
const COMPUTABLE: ReadonlySet<DType> = new Set([...INTS, 'float32', 'float64', 'bool']);

const isBig = (d: DType): boolean => BIG.has(d);

function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

function get(t: Tensor, i: number): Scalar {
  return (t.data as ArrayLike<Scalar>)[i]!;
}

function int(t: Tensor, i: number): number {
  const v = get(t, i);
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

function ints(t: Tensor): number[] {
  const n = numel(t.dims);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = int(t, i);
  return out;
}

/** Writes a JS value into a typed array of `dtype`, converting between number and bigint. */
function put(data: TensorArray, dtype: DType, i: number, v: Scalar | boolean): void {
  if (dtype === 'bool') (data as Uint8Array)[i] = v ? 1 : 0;
  else if (dtype === 'string') (data as string[])[i] = String(v);
  else if (isBig(dtype)) (data as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
  else (data as Float64Array)[i] = typeof v === 'bigint' ? Number(v) : Number(v);
}

/** Copies elements of `t` at flat source indices `idx` into a new tensor of `dims`. */
function pick(t: Tensor, dims: number[], idx: ArrayLike<number>): Tensor {
  const n = idx.length;
  const data = allocate(t.dtype, n);
  if (Array.isArray(data)) for (let i = 0; i < n; i++) data[i] = (t.data as string[])[idx[i]!]!;
  else {
    const src = t.data as Float64Array;
    const dst = data as Float64Array;
    for (let i = 0; i < n; i++) dst[i] = src[idx[i]!]!;
  }
  return { dtype: t.dtype, dims, data };
}

/** Calls f(multiIndex, flat) for every element of `dims` in row-major order. */
function forEachIndex(dims: readonly number[], f: (ix: number[], flat: number) => void): void {
  const n = numel(dims);
  if (n === 0) return;
  const ix = new Array<number>(dims.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    f(ix, flat);
    for (let a = dims.length - 1; a >= 0; a--) {
      if (++ix[a]! < dims[a]!) break;
      ix[a] = 0;
    }
  }
}

export function broadcastDims(node: string, ...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    s.forEach((d, i) => {
      const o = out[off + i]!;
      if (d === o || d === 1) return;
      if (o === 1) out[off + i] = d;
      else throw new FoldError(`${node}: shapes [${shapes.map((x) => `[${x}]`).join(', ')}] do not broadcast`);
    });
  }
  return out;
}

/** Flat index into a tensor of `inDims` for every element of the broadcast `outDims`. */
function broadcastIndex(outDims: readonly number[], inDims: readonly number[]): Int32Array {
  const n = numel(outDims);
  const idx = new Int32Array(n);
  const off = outDims.length - inDims.length;
  const st = strides(inDims);
  forEachIndex(outDims, (ix, flat) => {
    let k = 0;
    for (let a = 0; a < inDims.length; a++) if (inDims[a] !== 1) k += ix[off + a]! * st[a]!;
    idx[flat] = k;
  });
  return idx;
}

function elementwise(where: string, ins: Tensor[], outDtype: DType, f: (...v: Scalar[]) => Scalar | boolean): Tensor {
  const dims = broadcastDims(where, ...ins.map((t) => t.dims));
  const maps = ins.map((t) => broadcastIndex(dims, t.dims));
  const n = numel(dims);
  const data = allocate(outDtype, n);
  const args = new Array<Scalar>(ins.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < ins.length; k++) args[k] = get(ins[k]!, maps[k]![i]!);
    put(data, outDtype, i, f(...args));
  }
  return { dtype: outDtype, dims, data };
}

function normAxis(where: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new FoldError(`${where}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

function attrInt(n: Node, name: string, dflt: number): number {
  const a = n.attributes[name];
  return a && a.type === 'int' ? a.value : dflt;
}

function attrInts(n: Node, name: string): number[] | undefined {
  const a = n.attributes[name];
  return a && a.type === 'ints' ? a.value : undefined;
}

/** The int64 divisor semantics ORT uses: truncation toward zero. */
function divTrunc(a: Scalar, b: Scalar, where: string): Scalar {
  if (typeof a === 'bigint') {
    if (b === 0n) throw new FoldError(`${where}: integer division by zero`);
    return a / (b as bigint);
  }
  if (b === 0) throw new FoldError(`${where}: integer division by zero`);
  return Math.trunc((a as number) / (b as number));
}

function modInt(a: Scalar, b: Scalar, fmod: boolean, where: string): Scalar {
  if (typeof a === 'bigint') {
    const bb = b as bigint;
    if (bb === 0n) throw new FoldError(`${where}: integer modulo by zero`);
    const r = a % bb;
    return !fmod && r !== 0n && r < 0n !== bb < 0n ? r + bb : r;
  }
  const an = a as number;
  const bn = b as number;
  if (bn === 0) throw new FoldError(`${where}: integer modulo by zero`);
  const r = an % bn;
  return !fmod && r !== 0 && r < 0 !== bn < 0 ? r + bn : r;
}

/**
 * Evaluates one node on constant inputs (`undefined` for a non-constant or omitted input). Returns
 * the outputs, or null when the op, its dtypes or its size are outside what the evaluator folds.
 * Invalid inputs (bad axes, out-of-range indices) throw an error naming the node.
 */
export function evaluateNode(node: Node, inputs: (Tensor | undefined)[], ctx: EvalContext): Tensor[] | null {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return null;
  if (!FOLDABLE_OPS.has(node.opType)) return null;
  const where = describeNode(node);
  try {
    const out = evalOp(node, inputs, ctx, where);
    if (!out) return null;
    const limit = ctx.maxElements ?? 1 << 20;
    if (out.some((t) => numel(t.dims) > limit)) return null;
    return out;
  } catch (e) {
    if (e instanceof FoldError) throw new Error(e.message);
    throw e;
  }
}

/** What an op's evaluator reads. */
interface OpArgs {
  node: Node;
  inputs: (Tensor | undefined)[];
  ctx: EvalContext;
  /** The node, described for error messages. */
  where: string;
  /** Largest output in elements (ctx.maxElements, default 1,048,576). */
  limit: number;
  /** Input 0 (present for every op but Shape, Size, Constant and Range). */
  x: Tensor;
}

/** Numeric ops also get their present inputs and input 0's dtype class. */
interface NumericArgs extends OpArgs {
  present: Tensor[];
  dt: DType;
  isInt: boolean;
  isFloatDt: boolean;
}

/**
 * One entry per foldable op. 'dims' ops read only input 0's dims (it may be a
 * non-constant whose shape is known), 'none' ops have no inputs, the rest need every present input
 * as a constant. Numeric ops run only on computable dtypes (Equal also on strings).
 */
type OpEntry =
  | { kind: 'dims' | 'none'; evaluate: (a: Omit<OpArgs, 'x'>) => Tensor[] | null }
  | { kind: 'all'; evaluate: (a: OpArgs) => Tensor[] | null }
  | { kind: 'numeric'; evaluate: (a: NumericArgs) => Tensor[] | null };

/** Reads only input 0's dims, or no input at all. */
const dimsOnly = (kind: 'dims' | 'none', evaluate: (a: Omit<OpArgs, 'x'>) => Tensor[] | null): OpEntry => ({ kind, evaluate });
const op = (evaluate: (a: OpArgs) => Tensor[] | null): OpEntry => ({ kind: 'all', evaluate });
const numeric = (evaluate: (a: NumericArgs) => Tensor[] | null): OpEntry => ({ kind: 'numeric', evaluate });
/** An elementwise op on input 0's dtype. */
const arith = (f: (a: NumericArgs) => (...v: Scalar[]) => Scalar | boolean): OpEntry => numeric((a) => [elementwise(a.where, a.present, a.dt, f(a))]);
/** An elementwise op with a bool result. */
const predicate = (f: (...v: Scalar[]) => boolean): OpEntry => numeric((a) => [elementwise(a.where, a.present, 'bool', f)]);
/** A float-only unary op (correctly rounded in JavaScript); other dtypes are left to ORT. */
const floatUnary = (f: (v: number) => number): OpEntry => numeric((a) => (a.isFloatDt ? [elementwise(a.where, a.present, a.dt, (v) => f(v as number))] : null));
/** An op undefined on bool. */
const notBool = (e: (a: NumericArgs) => Tensor[] | null): OpEntry => numeric((a) => (a.dt === 'bool' ? null : e(a)));

/** Variadic Min/Max; NaN propagates as in ORT's (std::min/max on Eigen arrays propagate the NaN operand). */
function extremum(pickMax: boolean): OpEntry {
  return arith(
    () =>
      (...v) =>
        v.reduce((acc, c) => {
          if (typeof c === 'number' && Number.isNaN(c)) return c;
          if (typeof acc === 'number' && Number.isNaN(acc)) return acc;
          // biome-ignore lint/complexity/useMathMinMax: values may be bigint or string, which Math.max does not take
          return pickMax ? (c > acc ? c : acc) : c < acc ? c : acc;
        }),
  );
}

const reduce: OpEntry = op((a) => evalReduce(a.node, a.inputs, a.ctx, a.where));

const OPS: Record<string, OpEntry> = {
  Shape: dimsOnly('dims', ({ node, inputs, ctx }) => {
    const dims = inputs[0]?.dims ?? ctx.inputShapes?.[0];
    if (!dims) return null;
    const r = dims.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    const start = clamp(attrInt(node, 'start', 0));
    const end = clamp(attrInt(node, 'end', r));
    const sel = dims.slice(start, Math.max(start, end));
    return [tensor('int64', [sel.length], sel)];
  }),
  Size: dimsOnly('dims', ({ inputs, ctx }) => {
    const dims = inputs[0]?.dims ?? ctx.inputShapes?.[0];
    return dims ? [tensor('int64', [], [numel(dims)])] : null;
  }),
  Constant: dimsOnly('none', ({ node, where }) => evalConstant(node, where)),
  Identity: op(({ x }) => [x]),
  Reshape: op(({ node, inputs, where, x }) => {
    const shape = ints(inputs[1]!);
    const allowzero = attrInt(node, 'allowzero', 0) === 1;
    const dims = shape.map((d, i) => (d === 0 && !allowzero ? x.dims[i]! : d));
    const neg = dims.indexOf(-1);
    if (neg >= 0) {
      const known = dims.reduce((a, d, i) => (i === neg ? a : a * d), 1);
      if (known === 0 || numel(x.dims) % known !== 0) throw new FoldError(`${where}: cannot reshape [${x.dims}] to [${shape}]`);
      dims[neg] = numel(x.dims) / known;
    }
    if (numel(dims) !== numel(x.dims)) throw new FoldError(`${where}: cannot reshape [${x.dims}] to [${shape}]`);
    return [{ ...x, dims }];
  }),
  Flatten: op(({ node, x }) => {
    const axis = attrInt(node, 'axis', 1);
    const a = axis < 0 ? axis + x.dims.length : axis;
    return [{ ...x, dims: [numel(x.dims.slice(0, a)), numel(x.dims.slice(a))] }];
  }),
  Unsqueeze: op(({ node, inputs, ctx, where, x }) => {
    const axes = axesOf(node, inputs, ctx);
    if (!axes) throw new FoldError(`${where}: Unsqueeze needs axes`);
    const rank = x.dims.length + axes.length;
    const norm = axes.map((a) => normAxis(where, a, rank)).sort((a, b) => a - b);
    const dims = [...x.dims];
    for (const a of norm) dims.splice(a, 0, 1);
    return [{ ...x, dims }];
  }),
  Squeeze: op(({ node, inputs, ctx, where, x }) => {
    const axesIn = axesOf(node, inputs, ctx);
    const rank = x.dims.length;
    const axes = axesIn ? axesIn.map((a) => normAxis(where, a, rank)) : x.dims.flatMap((d, i) => (d === 1 ? [i] : []));
    for (const a of axes) if (x.dims[a] !== 1) throw new FoldError(`${where}: cannot squeeze axis ${a} of size ${x.dims[a]}`);
    return [{ ...x, dims: x.dims.filter((_, i) => !axes.includes(i)) }];
  }),
  Gather: op((a) => evalGather(a)),
  Concat: op((a) => evalConcat(a)),
  Slice: op(({ node, inputs, ctx, where }) => [evalSlice(node, inputs, ctx, where)]),
  Expand: op(({ inputs, where, limit, x }) => {
    const dims = broadcastDims(where, x.dims, ints(inputs[1]!));
    return numel(dims) > limit ? null : [pick(x, dims, broadcastIndex(dims, x.dims))];
  }),
  Transpose: op(({ node, x }) => {
    const r = x.dims.length;
    const perm = attrInts(node, 'perm') ?? [...Array(r).keys()].reverse();
    const st = strides(x.dims);
    return [
      gatherBy(
        x,
        perm.map((p) => x.dims[p]!),
        (ix) => ix.reduce((k, v, a) => k + v * st[perm[a]!]!, 0),
      ),
    ];
  }),
  Tile: op(({ inputs, limit, x }) => {
    const reps = ints(inputs[1]!);
    const dims = x.dims.map((d, i) => d * reps[i]!);
    if (numel(dims) > limit) return null;
    const st = strides(x.dims);
    return [gatherBy(x, dims, (ix) => ix.reduce((k, v, a) => k + (v % x.dims[a]!) * st[a]!, 0))];
  }),
  Split: op(({ node, inputs, ctx, where }) => evalSplit(node, inputs, ctx, where)),
  Trilu: op(({ node, inputs, where, x }) => {
    const upper = attrInt(node, 'upper', 1) === 1;
    const k = inputs[1] ? int(inputs[1], 0) : 0;
    const r = x.dims.length;
    if (r < 2) throw new FoldError(`${where}: Trilu needs rank >= 2, got [${x.dims}]`);
    const data = allocate(x.dtype, numel(x.dims));
    forEachIndex(x.dims, (ix, flat) => {
      const d = ix[r - 1]! - ix[r - 2]!;
      if (upper ? d >= k : d <= k) (data as Scalar[])[flat] = get(x, flat);
    });
    return [{ dtype: x.dtype, dims: [...x.dims], data }];
  }),
  ConstantOfShape: op(({ node, limit, x }) => {
    const dims = ints(x);
    if (numel(dims) > limit) return null;
    const a = node.attributes.value;
    const v = a && a.type === 'tensor' ? a.value : tensor('float32', [1], [0]);
    const data = allocate(v.dtype, numel(dims));
    if (Array.isArray(data)) data.fill((v.data as string[])[0]!);
    else (data as unknown as { fill(x: unknown): void }).fill((v.data as ArrayLike<unknown>)[0]);
    return [{ dtype: v.dtype, dims, data }];
  }),
  Range: op(({ inputs, limit, where }) => evalRange(inputs, limit, where)),
  Where: op(({ inputs, where }) => evalWhere(inputs as [Tensor, Tensor, Tensor], where)),
  Cast: op(({ node, where, x }) => castTensor(x, dtypeFromCode(attrInt(node, 'to', 0), where))),

  Add: arith(() => (a, b) => (typeof a === 'bigint' ? a + (b as bigint) : (a as number) + (b as number))),
  Sub: arith(() => (a, b) => (typeof a === 'bigint' ? a - (b as bigint) : (a as number) - (b as number))),
  // int32 products wrap as in ORT (Math.imul); a plain double product would lose the low bits.
  Mul: arith(
    ({ dt }) =>
      (a, b) =>
        typeof a === 'bigint' ? a * (b as bigint) : dt === 'int32' ? Math.imul(a as number, b as number) : (a as number) * (b as number),
  ),
  Div: notBool((a) => [elementwise(a.where, a.present, a.dt, (p, q) => (a.isInt ? divTrunc(p, q, a.where) : (p as number) / (q as number)))]),
  Mod: numeric(({ node, present, dt, isInt, isFloatDt, where }) => {
    const fmod = attrInt(node, 'fmod', 0) === 1;
    if (!isInt) return fmod && isFloatDt ? [elementwise(where, present, dt, (a, b) => (a as number) % (b as number))] : null;
    return [elementwise(where, present, dt, (a, b) => modInt(a, b, fmod, where))];
  }),
  // Only integer powers with integer exponents: float pow is not correctly rounded anywhere.
  Pow: numeric(({ inputs, present, dt, isInt, where }) => {
    if (!isInt || !INTS.has(inputs[1]!.dtype)) return null;
    if (ints(inputs[1]!).some((e) => e < 0)) return null;
    return [elementwise(where, present, dt, (a, b) => (typeof a === 'bigint' ? a ** BigInt(b as number | bigint) : (a as number) ** Number(b)))];
  }),
  Neg: notBool((a) => [elementwise(a.where, a.present, a.dt, (v) => (typeof v === 'bigint' ? -v : -(v as number)))]),
  Abs: notBool((a) => [elementwise(a.where, a.present, a.dt, (v) => (typeof v === 'bigint' ? (v < 0n ? -v : v) : Math.abs(v as number)))]),
  Sqrt: floatUnary(Math.sqrt),
  Reciprocal: floatUnary((v) => 1 / v),
  Floor: floatUnary(Math.floor),
  Ceil: floatUnary(Math.ceil),
  Equal: predicate((a, b) => a === b),
  Less: predicate((a, b) => a < b),
  LessOrEqual: predicate((a, b) => a <= b),
  Greater: predicate((a, b) => a > b),
  GreaterOrEqual: predicate((a, b) => a >= b),
  And: predicate((a, b) => !!a && !!b),
  Or: predicate((a, b) => !!a || !!b),
  Xor: predicate((a, b) => !!a !== !!b),
  Not: predicate((a) => !a),
  Min: extremum(false),
  Max: extremum(true),
  ReduceSum: reduce,
  ReduceProd: reduce,
  ReduceMax: reduce,
  ReduceMin: reduce,
};

/** Ops the evaluator can fold (default ONNX domain). */
export const FOLDABLE_OPS: ReadonlySet<string> = new Set(Object.keys(OPS));

function evalOp(node: Node, inputs: (Tensor | undefined)[], ctx: EvalContext, where: string): Tensor[] | null {
  const entry = OPS[node.opType]!;
  const limit = ctx.maxElements ?? 1 << 20;
  if (entry.kind === 'dims' || entry.kind === 'none') return entry.evaluate({ node, inputs, ctx, where, limit });
  // Every other op needs all of its present inputs.
  for (let i = 0; i < node.inputs.length; i++) if (node.inputs[i] && !inputs[i]) return null;
  const x = inputs[0];
  if (!x && node.opType !== 'Range') return null;
  const args: OpArgs = { node, inputs, ctx, where, limit, x: x! };
  if (entry.kind === 'all') return entry.evaluate(args);
  // Numeric ops: every input must be a computable dtype.
  const present = inputs.filter((t): t is Tensor => !!t);
  if (present.some((t) => !COMPUTABLE.has(t.dtype))) {
    if (!(node.opType === 'Equal' && present.every((t) => t.dtype === 'string'))) return null;
  }
  const dt = x!.dtype;
  return entry.evaluate({ ...args, present, dt, isInt: INTS.has(dt), isFloatDt: dt === 'float32' || dt === 'float64' });
}

/** Axes of Squeeze/Unsqueeze: an input from opset 13, an attribute before. */
function axesOf(node: Node, inputs: (Tensor | undefined)[], ctx: EvalContext): number[] | undefined {
  return ctx.opset >= 13 ? (inputs[1] ? ints(inputs[1]) : undefined) : attrInts(node, 'axes');
}

/** A tensor of `dims` whose element at multi-index ix is x's element at flat index source(ix). */
function gatherBy(x: Tensor, dims: number[], source: (ix: number[]) => number): Tensor {
  const idx = new Int32Array(numel(dims));
  forEachIndex(dims, (ix, flat) => {
    idx[flat] = source(ix);
  });
  return pick(x, dims, idx);
}

function evalGather({ node, inputs, where, limit, x }: OpArgs): Tensor[] | null {
  const ind = inputs[1]!;
  const axis = normAxis(where, attrInt(node, 'axis', 0), x.dims.length);
  const d = x.dims[axis]!;
  const outer = numel(x.dims.slice(0, axis));
  const inner = numel(x.dims.slice(axis + 1));
  const ni = numel(ind.dims);
  const dims = [...x.dims.slice(0, axis), ...ind.dims, ...x.dims.slice(axis + 1)];
  if (numel(dims) > limit) return null;
  const idx = new Int32Array(numel(dims));
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < ni; j++) {
      let g = int(ind, j);
      if (g < -d || g >= d) throw new FoldError(`${where}: index ${g} is out of range for axis ${axis} of size ${d}`);
      if (g < 0) g += d;
      for (let i = 0; i < inner; i++) idx[k++] = (o * d + g) * inner + i;
    }
  }
  return [pick(x, dims, idx)];
}

function evalConcat({ node, inputs, where, limit }: OpArgs): Tensor[] | null {
  const parts = inputs.filter((t): t is Tensor => !!t);
  const rank = parts[0]!.dims.length;
  const axis = normAxis(where, attrInt(node, 'axis', 0), rank);
  for (const p of parts) {
    if (p.dims.length !== rank || p.dims.some((d, i) => i !== axis && d !== parts[0]!.dims[i])) {
      throw new FoldError(`${where}: cannot concatenate [${parts[0]!.dims}] and [${p.dims}] on axis ${axis}`);
    }
  }
  const dims = [...parts[0]!.dims];
  dims[axis] = parts.reduce((a, p) => a + p.dims[axis]!, 0);
  const n = numel(dims);
  if (n > limit) return null;
  const data = allocate(parts[0]!.dtype, n);
  const outer = numel(dims.slice(0, axis));
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const chunk = numel(p.dims.slice(axis));
      for (let i = 0; i < chunk; i++) (data as Scalar[])[k++] = get(p, o * chunk + i);
    }
  }
  return [{ dtype: parts[0]!.dtype, dims, data }];
}

function evalWhere([c, a, b]: [Tensor, Tensor, Tensor], where: string): Tensor[] | null {
  if (a.dtype !== b.dtype) throw new FoldError(`${where}: Where branches have dtypes ${a.dtype} and ${b.dtype}`);
  if (c.dtype !== 'bool') return null;
  const dims = broadcastDims(where, c.dims, a.dims, b.dims);
  const mc = broadcastIndex(dims, c.dims);
  const ma = broadcastIndex(dims, a.dims);
  const mb = broadcastIndex(dims, b.dims);
  const idx = new Int32Array(numel(dims));
  // Pick from a virtual concatenation of a and b.
  const na = numel(a.dims);
  for (let i = 0; i < idx.length; i++) idx[i] = get(c, mc[i]!) ? ma[i]! : na + mb[i]!;
  const both: Tensor = { dtype: a.dtype, dims: [na + numel(b.dims)], data: concatData(a, b) };
  return [pick(both, dims, idx)];
}

function concatData(a: Tensor, b: Tensor): TensorArray {
  const n = numel(a.dims) + numel(b.dims);
  const data = allocate(a.dtype, n);
  const na = numel(a.dims);
  for (let i = 0; i < na; i++) (data as Scalar[])[i] = get(a, i);
  for (let i = 0; i < n - na; i++) (data as Scalar[])[na + i] = get(b, i);
  return data;
}

/** The value a Constant node holds, if it is a dense one. */
export function constantNodeValue(node: Node): Tensor | undefined {
  return Object.keys(node.attributes).length ? (evalConstant(node, node.name)?.[0] ?? undefined) : undefined;
}

function evalConstant(node: Node, where: string): Tensor[] | null {
  const a = Object.entries(node.attributes)[0];
  if (!a) throw new FoldError(`${where}: Constant has no value attribute`);
  const [name, v] = a;
  if (name === 'value' && v.type === 'tensor') return [v.value];
  if (name === 'value_float' && v.type === 'float') return [tensor('float32', [], [v.value])];
  if (name === 'value_floats' && v.type === 'floats') return [tensor('float32', [v.value.length], v.value)];
  if (name === 'value_int' && v.type === 'int') return [tensor('int64', [], [v.value])];
  if (name === 'value_ints' && v.type === 'ints') return [tensor('int64', [v.value.length], v.value)];
  if (name === 'value_string' && v.type === 'string') return [tensor('string', [], [v.value])];
  if (name === 'value_strings' && v.type === 'strings') return [tensor('string', [v.value.length], v.value)];
  return null; // sparse_value
}

function evalSlice(node: Node, inputs: (Tensor | undefined)[], ctx: EvalContext, where: string): Tensor {
  const x = inputs[0]!;
  const r = x.dims.length;
  let starts: number[];
  let ends: number[];
  let axes: number[];
  let steps: number[];
  if (ctx.opset >= 10) {
    starts = ints(inputs[1]!);
    ends = ints(inputs[2]!);
    axes = inputs[3] ? ints(inputs[3]) : starts.map((_, i) => i);
    steps = inputs[4] ? ints(inputs[4]) : starts.map(() => 1);
  } else {
    starts = attrInts(node, 'starts') ?? [];
    ends = attrInts(node, 'ends') ?? [];
    axes = attrInts(node, 'axes') ?? starts.map((_, i) => i);
    steps = starts.map(() => 1);
  }
  const begin = x.dims.map(() => 0);
  const step = x.dims.map(() => 1);
  const dims = [...x.dims];
  axes.forEach((axRaw, k) => {
    const ax = normAxis(where, axRaw, r);
    const d = x.dims[ax]!;
    const st = steps[k]!;
    if (st === 0) throw new FoldError(`${where}: slice step is 0`);
    // int64 sentinels (INT64_MAX) arrive as huge doubles; clamping makes them exact again.
    let s = starts[k]!;
    let e = ends[k]!;
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (st > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
    } else {
      s = Math.min(Math.max(s, 0), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
    }
    dims[ax] = st > 0 ? Math.max(0, Math.ceil((e - s) / st)) : Math.max(0, Math.ceil((s - e) / -st));
    begin[ax] = s;
    step[ax] = st;
  });
  const st = strides(x.dims);
  const idx = new Int32Array(numel(dims));
  forEachIndex(dims, (ix, flat) => {
    let k = 0;
    for (let a = 0; a < r; a++) k += (begin[a]! + ix[a]! * step[a]!) * st[a]!;
    idx[flat] = k;
  });
  return pick(x, dims, idx);
}

function evalSplit(node: Node, inputs: (Tensor | undefined)[], ctx: EvalContext, where: string): Tensor[] {
  const x = inputs[0]!;
  const axis = normAxis(where, attrInt(node, 'axis', 0), x.dims.length);
  const d = x.dims[axis]!;
  const nOut = node.outputs.length;
  let sizes = ctx.opset >= 13 ? (inputs[1] ? ints(inputs[1]) : undefined) : attrInts(node, 'split');
  if (!sizes) {
    const numOutputs = attrInt(node, 'num_outputs', nOut);
    const chunk = Math.ceil(d / numOutputs);
    sizes = Array.from({ length: numOutputs }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
  }
  if (sizes.reduce((a, b) => a + b, 0) !== d) throw new FoldError(`${where}: split sizes [${sizes}] do not sum to ${d}`);
  const out: Tensor[] = [];
  let off = 0;
  for (const size of sizes) {
    const starts = tensor('int64', [1], [off]);
    const ends = tensor('int64', [1], [off + size]);
    const axes = tensor('int64', [1], [axis]);
    out.push(evalSlice(node, [x, starts, ends, axes], { ...ctx, opset: 13 }, where));
    off += size;
  }
  return out;
}

function evalRange(inputs: (Tensor | undefined)[], limit: number, where: string): Tensor[] | null {
  const [s, l, dl] = inputs as [Tensor, Tensor, Tensor];
  const dt = s.dtype;
  if (!COMPUTABLE.has(dt) || dt === 'bool') return null;
  if (isBig(dt)) {
    const start = get(s, 0) as bigint;
    const lim = get(l, 0) as bigint;
    const delta = get(dl, 0) as bigint;
    if (delta === 0n) throw new FoldError(`${where}: Range delta is 0`);
    const diff = lim - start;
    // ceil(diff / delta) with BigInt (which truncates toward zero).
    let n = diff / delta;
    if (n * delta !== diff && diff > 0n === delta > 0n) n += 1n;
    const count = n > 0n ? Number(n) : 0;
    if (count > limit) return null;
    const data = new BigInt64Array(count);
    for (let i = 0; i < count; i++) data[i] = start + BigInt(i) * delta;
    return [{ dtype: dt, dims: [count], data }];
  }
  const start = Number(get(s, 0));
  const lim = Number(get(l, 0));
  const delta = Number(get(dl, 0));
  if (delta === 0) throw new FoldError(`${where}: Range delta is 0`);
  const f32 = dt === 'float32';
  const diff = f32 ? Math.fround(lim - start) : lim - start;
  const count = Math.max(0, Math.ceil(diff / delta));
  if (count > limit) return null;
  const data = allocate(dt, count) as Float64Array;
  // ORT accumulates value += delta in T; do the same so float ranges match bit for bit.
  let v = start;
  for (let i = 0; i < count; i++) {
    data[i] = v;
    v = f32 ? Math.fround(v + delta) : v + delta;
  }
  return [{ dtype: dt, dims: [count], data }];
}

const INT_BITS: Partial<Record<DType, [number, boolean]>> = {
  int32: [32, true],
  int16: [16, true],
  int8: [8, true],
  uint32: [32, false],
  uint16: [16, false],
  uint8: [8, false],
};

function castTensor(x: Tensor, to: DType): Tensor[] | null {
  if (x.dtype === to) return [x];
  if (!COMPUTABLE.has(x.dtype) || !COMPUTABLE.has(to)) return null;
  const n = numel(x.dims);
  const data = allocate(to, n);
  const fromFloat = x.dtype === 'float32' || x.dtype === 'float64';
  for (let i = 0; i < n; i++) {
    const v = get(x, i) as number | bigint;
    if (to === 'bool') {
      (data as Uint8Array)[i] = v !== 0 && v !== 0n ? 1 : 0;
    } else if (isBig(to)) {
      if (typeof v === 'number' && !Number.isFinite(v)) return null;
      (data as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    } else if (INT_BITS[to]) {
      const [bits, signed] = INT_BITS[to]!;
      if (typeof v === 'number' && !Number.isFinite(v)) return null;
      const b = typeof v === 'bigint' ? v : BigInt(fromFloat ? Math.trunc(v) : v);
      (data as Int32Array)[i] = Number(signed ? BigInt.asIntN(bits, b) : BigInt.asUintN(bits, b));
    } else {
      (data as Float64Array)[i] = Number(v);
    }
  }
  return [{ dtype: to, dims: [...x.dims], data }];
}

function evalReduce(node: Node, inputs: (Tensor | undefined)[], ctx: EvalContext, where: string): Tensor[] | null {
  const x = inputs[0]!;
  const op = node.opType;
  // Float sums and products depend on the accumulation order; only exact cases are folded.
  if ((op === 'ReduceSum' || op === 'ReduceProd') && !INTS.has(x.dtype)) return null;
  if (!COMPUTABLE.has(x.dtype) || x.dtype === 'bool') return null;
  const axesAsInput = op === 'ReduceSum' ? ctx.opset >= 13 : ctx.opset >= 18;
  const axesIn = axesAsInput ? (inputs[1] ? ints(inputs[1]) : undefined) : attrInts(node, 'axes');
  const keep = attrInt(node, 'keepdims', 1) === 1;
  const r = x.dims.length;
  if ((!axesIn || axesIn.length === 0) && attrInt(node, 'noop_with_empty_axes', 0) === 1) return [x];
  const axes = !axesIn || axesIn.length === 0 ? [...Array(r).keys()] : axesIn.map((a) => normAxis(where, a, r));
  const outFull = x.dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const st = strides(outFull);
  const n = numel(outFull);
  const acc: (number | bigint | undefined)[] = new Array(n).fill(undefined);
  forEachIndex(x.dims, (ix, flat) => {
    let k = 0;
    for (let a = 0; a < r; a++) if (!axes.includes(a)) k += ix[a]! * st[a]!;
    const v = get(x, flat) as number | bigint;
    const cur = acc[k];
    if (cur === undefined) acc[k] = v;
    else if (op === 'ReduceSum') acc[k] = typeof v === 'bigint' ? (cur as bigint) + v : (cur as number) + v;
    else if (op === 'ReduceProd') acc[k] = typeof v === 'bigint' ? (cur as bigint) * v : (cur as number) * v;
    // Ternaries, not Math.max/min: the values may be bigint.
    // biome-ignore lint/complexity/useMathMinMax: bigint values
    else if (op === 'ReduceMax') acc[k] = v > cur ? v : cur;
    // biome-ignore lint/complexity/useMathMinMax: bigint values
    else acc[k] = v < cur ? v : cur;
  });
  if (acc.some((v) => v === undefined)) {
    // Reducing an empty axis: the identity for sum/prod; max/min of nothing is left to ORT.
    if (op === 'ReduceMax' || op === 'ReduceMin') return null;
  }
  const data = allocate(x.dtype, n);
  const zero = isBig(x.dtype) ? (op === 'ReduceSum' ? 0n : 1n) : op === 'ReduceSum' ? 0 : 1;
  for (let i = 0; i < n; i++) put(data, x.dtype, i, acc[i] ?? zero);
  const dims = keep ? outFull : x.dims.filter((_, i) => !axes.includes(i));
  return [{ dtype: x.dtype, dims, data }];
}
