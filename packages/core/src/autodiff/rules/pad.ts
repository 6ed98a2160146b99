/**
 * Pad. Constant mode with known pads: y[j] = x[j - begin] where that is inside x, so the gradient
 * crops dy by the positive pads and zero-pads it by the negative ones (pads may crop). Other modes
 * (reflect, edge, wrap) or pads known only at run time: the same Pad is applied to the element
 * index of x shifted by one (constant fill -> slot 0), and dy is scatter-added to those slots.
 * The constant value's gradient is the sum of dy over the filled positions.
 */
import type { GradContext, GradRule } from '../rule.js';
import { reshape } from '../emit.js';
import { tensor } from '../../onnx/tensor.js';
import {
  attrInts,
  attrString,
  constInts,
  dimsOf,
  fail,
  iota,
  noGrads,
  normAxis,
  optInput,
  padZeros,
  prod,
  scatterAddRows,
  slice,
  sumAllTo,
} from './shape-common.js';

/** Full (begin..., end...) pads over all axes when known at build time. */
function constPads(ctx: GradContext, rank: number): number[] | undefined {
  let pads: number[] | undefined;
  let axes: number[] | undefined;
  if (ctx.opset < 11) {
    pads = attrInts(ctx, 'pads') ?? attrInts(ctx, 'paddings');
    if (!pads) fail(ctx, 'attribute pads is required');
  } else {
    pads = constInts(ctx, 1);
    if (!pads) return undefined;
    if (optInput(ctx, 3)) {
      axes = constInts(ctx, 3);
      if (!axes) return undefined;
    }
  }
  axes = (axes ?? Array.from({ length: rank }, (_, i) => i)).map((a) => normAxis(ctx, a, rank));
  if (pads.length !== 2 * axes.length) fail(ctx, `pads has ${pads.length} entries for ${axes.length} axes`);
  const full = new Array<number>(2 * rank).fill(0);
  axes.forEach((a, k) => {
    full[a] = pads![k]!;
    full[a + rank] = pads![k + axes!.length]!;
  });
  return full;
}

export const padRule: GradRule = (ctx) => {
  const out = noGrads(ctx);
  const dy = ctx.dy[0];
  const needValue = ctx.opset >= 11 && !!ctx.needs[2];
  if (!dy || (!ctx.needs[0] && !needValue)) return out;
  const { b } = ctx;
  const xDims = dimsOf(ctx, ctx.node.inputs[0]!);
  const yDims = dimsOf(ctx, ctx.node.outputs[0]!);
  const rank = xDims.length;
  const dtype = ctx.meta(ctx.node.outputs[0]!).dtype;
  const mode = attrString(ctx, 'mode') ?? 'constant';
  const pads = constPads(ctx, rank);
  let dx: string;
  if (mode === 'constant' && pads) {
    // Interior of dy that came from x: crop positive pads, then restore cropped (negative) pads as zeros.
    const starts = xDims.map((_, a) => Math.max(pads[a]!, 0));
    const ends = yDims.map((d, a) => d - Math.max(pads[a + rank]!, 0));
    const axes = xDims.map((_, a) => a);
    const cropped = starts.some((s, a) => s !== 0 || ends[a] !== yDims[a]) ? slice(ctx, dy, starts, ends, axes) : dy;
    const restore = [...xDims.map((_, a) => Math.max(-pads[a]!, 0)), ...xDims.map((_, a) => Math.max(-pads[a + rank]!, 0))];
    dx = padZeros(ctx, cropped, restore);
  } else {
    if (ctx.opset < 11) fail(ctx, `mode '${mode}' gradient needs opset 11 or later`);
    const n = prod(xDims);
    const N = prod(yDims);
    // Slot 0 collects the constant fill; slot k+1 is element k of x.
    const src = b.op(
      'Pad',
      [iota(ctx, xDims, 1), ...ctx.node.inputs.slice(1).map((v, i) => (i === 1 && v ? b.constant(tensor('int64', [], [0]), 'zero') : v))],
      { mode },
    );
    const onlyFillRepeats = mode === 'constant';
    const acc = scatterAddRows(ctx, reshape(b, src, [N]), reshape(b, dy, [N, 1]), n + 1, N, 1, dtype, onlyFillRepeats);
    dx = reshape(b, slice(ctx, acc, [1], [n + 1], [0]), xDims);
  }
  if (ctx.needs[0]) out[0] = dx;
  if (needValue) {
    if (mode !== 'constant') {
      out[2] = undefined; // the fill value is unused outside constant mode
    } else {
      const total = sumAllTo(ctx, dy, rank, []);
      const inside = sumAllTo(ctx, dx, rank, []);
      out[2] = reshape(b, b.op('Sub', [total, inside]), dimsOf(ctx, ctx.node.inputs[2]!));
    }
  }
  return out;
};
