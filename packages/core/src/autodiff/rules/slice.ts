/**
 * Slice selects, per axis, the indices start, start+step, ... (ONNX clamping rules: negative
 * values count from the end; for step > 0 start and end clamp to [0, dim], for step < 0 start
 * clamps to [0, dim-1] and end to [-1, dim-1]). The gradient places dy back: unit-step axes by
 * zero padding, other steps by a Gather from [dy, 0] with the inverse index map. When starts,
 * ends, axes or steps are only known at run time, the same Slice is applied to the flat element
 * index of the input and dy is scattered to those positions.
 */
import type { GradContext, GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { attrInts, constInts, dimsOf, fail, dataInputRule, iota, normAxis, optInput, padZeros, prod, scatterAddRows, zeros } from './shape-common.js';

interface SliceParams {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}

/** The slice parameters when all are known at build time, else undefined. */
function constParams(ctx: GradContext, rank: number): SliceParams | undefined {
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = attrInts(ctx, 'starts');
    ends = attrInts(ctx, 'ends');
    axes = attrInts(ctx, 'axes');
    if (!starts || !ends) fail(ctx, 'attributes starts and ends are required');
  } else {
    starts = constInts(ctx, 1);
    ends = constInts(ctx, 2);
    if (!starts || !ends) return undefined;
    if (optInput(ctx, 3)) {
      axes = constInts(ctx, 3);
      if (!axes) return undefined;
    }
    if (optInput(ctx, 4)) {
      steps = constInts(ctx, 4);
      if (!steps) return undefined;
    }
  }
  axes ??= starts.map((_, i) => i);
  steps ??= starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    fail(ctx, `starts, ends, axes and steps differ in length (${starts.length}, ${ends.length}, ${axes.length}, ${steps.length})`);
  }
  return { starts, ends, axes: axes.map((a) => normAxis(ctx, a, rank)), steps };
}

/** The indices one axis keeps, in output order. */
export function sliceIndices(dim: number, start: number, end: number, step: number): number[] {
  if (step === 0) throw new Error('Slice step 0');
  const norm = (v: number) => (v < 0 ? v + dim : v);
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = norm(start);
  let e = norm(end);
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

export const sliceRule: GradRule = dataInputRule((ctx, dy) => {
  const { b } = ctx;
  const xDims = dimsOf(ctx, ctx.node.inputs[0]!);
  const yDims = dimsOf(ctx, ctx.node.outputs[0]!);
  const dtype = ctx.meta(ctx.node.outputs[0]!).dtype;
  if (prod(yDims) === 0) return zeros(ctx, dtype, xDims);
  const p = constParams(ctx, xDims.length);
  if (!p) {
    // Run-time parameters: slice the flat element index of x the same way, scatter dy there.
    const n = prod(xDims);
    const picked = b.op('Slice', [iota(ctx, xDims), ...ctx.node.inputs.slice(1)]);
    const N = prod(yDims);
    const flat = scatterAddRows(ctx, reshape(b, picked, [N]), reshape(b, dy, [N, 1]), n, N, 1, dtype, true);
    return reshape(b, flat, xDims);
  }
  const pads = new Array<number>(2 * xDims.length).fill(0);
  let g = dy;
  let gDims = [...yDims];
  p.axes.forEach((axis, k) => {
    const dim = xDims[axis]!;
    const picked = sliceIndices(dim, p.starts[k]!, p.ends[k]!, p.steps[k]!);
    if (picked.length !== yDims[axis]) fail(ctx, `axis ${axis} keeps ${picked.length} elements by the spec but the output has ${yDims[axis]}`);
    if (p.steps[k] === 1) {
      pads[axis] = picked[0]!;
      pads[axis + xDims.length] = dim - picked[0]! - picked.length;
      return;
    }
    // Inverse map: position j of x reads slot inv[j] of [g, 0] along this axis.
    const inv = new Array<number>(dim).fill(picked.length);
    picked.forEach((src, pos) => (inv[src] = pos));
    const slabDims = gDims.map((d, i) => (i === axis ? 1 : d));
    const padded = b.op('Concat', [g, zeros(ctx, dtype, slabDims)], { axis });
    g = b.op('Gather', [padded, b.ints(inv, 'slice_inv')], { axis });
    gDims = gDims.map((d, i) => (i === axis ? dim : d));
  });
  return padZeros(ctx, g, pads);
});
