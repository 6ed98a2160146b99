/**
 * MatMul (numpy semantics): A [..., n, k] @ B [..., k, m]. A 1-D A is a row [1, k] and a 1-D B a
 * column [k, 1], with that axis dropped from the result. Batch axes broadcast, so each operand's
 * gradient is summed back over the batch axes it was broadcast along:
 *   dA = dY @ B^T,  dB = A^T @ dY.
 * The common linear-layer case (2-D B, batched A) flattens A and dY to 2-D so dB is one product
 * rather than a batch of products followed by a sum.
 */
import type { GradRule } from '../rule.js';
import type { GraphBuilder } from '../../onnx/builder.js';
import { numel } from '../../onnx/tensor.js';
import { reshape, sumToShape } from '../emit.js';

function swapLast(b: GraphBuilder, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 1] = rank - 2;
  perm[rank - 2] = rank - 1;
  return b.op('Transpose', [x], { perm });
}

const same = (p: readonly number[], q: readonly number[]) => p.length === q.length && p.every((d, i) => d === q[i]);

export const matmulRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  const g = ctx.b;
  const [a, bIn] = ctx.node.inputs as [string, string];
  const aDims = ctx.meta(a).dims;
  const bDims = ctx.meta(bIn).dims;
  const yDims = ctx.meta(ctx.node.outputs[0]!).dims;
  if (aDims.length === 0 || bDims.length === 0) throw new Error(`node '${ctx.node.name}' (MatMul): scalar operands are not allowed`);
  // Promote 1-D operands to matrices, as the forward op does.
  const a2Dims = aDims.length === 1 ? [1, aDims[0]!] : aDims;
  const b2Dims = bDims.length === 1 ? [bDims[0]!, 1] : bDims;
  const a2 = aDims.length === 1 ? reshape(g, a, a2Dims) : a;
  const b2 = bDims.length === 1 ? reshape(g, bIn, b2Dims) : bIn;
  const n = a2Dims[a2Dims.length - 2]!;
  const k = a2Dims[a2Dims.length - 1]!;
  const m = b2Dims[b2Dims.length - 1]!;
  const batch = yDims.slice(0, yDims.length - (aDims.length === 1 ? 0 : 1) - (bDims.length === 1 ? 0 : 1));
  const y2Dims = [...batch, n, m];
  const dy2 = same(yDims, y2Dims) ? dy : reshape(g, dy, y2Dims);
  const out: (string | undefined)[] = [undefined, undefined];

  if (ctx.needs[0]) {
    // [..., n, m] @ [..., m, k] -> [..., n, k], then reduce broadcast batch axes.
    const prod = g.op('MatMul', [dy2, swapLast(g, b2, b2Dims.length)]);
    out[0] = sumToShape(g, prod, [...batch, n, k], a2Dims, ctx.opset);
    if (aDims.length === 1) out[0] = reshape(g, out[0], aDims);
  }
  if (ctx.needs[1]) {
    if (b2Dims.length === 2 && batch.length > 0 && a2Dims.length === batch.length + 2) {
      // Linear layer: fold every batch axis into the rows.
      const rows = numel(batch) * n;
      const aFlat = reshape(g, a2, [rows, k]);
      const dyFlat = reshape(g, dy2, [rows, m]);
      out[1] = g.op('MatMul', [g.op('Transpose', [aFlat], { perm: [1, 0] }), dyFlat]);
    } else {
      const aT = swapLast(g, a2, a2Dims.length);
      const prod = g.op('MatMul', [aT, dy2]);
      out[1] = sumToShape(g, prod, [...batch, k, m], b2Dims, ctx.opset);
    }
    if (bDims.length === 1) out[1] = reshape(g, out[1], bDims);
  }
  return out;
};
