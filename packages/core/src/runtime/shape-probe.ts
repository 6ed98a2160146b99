/**
 * Static shapes by running the graph once. Attribution graphs are built per shape bucket, so the
 * shape of every intermediate value is a fact of that bucket; asking onnxruntime for it (every
 * value exposed as an output, dummy inputs of the bucket's shape) is exact for every op ORT runs,
 * where a shape-inference table of our own would need a rule per op.
 */
import type { Model, ShapeMap, Tensor, ValueInfo, ValueMeta } from '../onnx/types.js';
import { tensor } from '../onnx/tensor.js';
import { weightFree } from '../onnx/weight-free.js';
import { createSession, type SessionOptions } from './session.js';

/**
 * Runs `model` on `feeds` (or on zeros of `inputDims` when a feed is missing) with every node
 * output exposed, and returns the dtype and dims of every value: inputs, initializers and node
 * outputs. Values produced inside subgraphs (If/Loop bodies) are not included.
 */
export async function probeShapes(
  model: Model,
  feeds: Record<string, Tensor> = {},
  inputDims: Record<string, number[]> = {},
  opts: SessionOptions = {},
): Promise<ShapeMap> {
  const g = model.graph;
  const allFeeds: Record<string, Tensor> = { ...feeds };
  for (const inp of g.inputs) {
    if (allFeeds[inp.name] || g.initializers.has(inp.name)) continue;
    const dims = inputDims[inp.name] ?? inp.shape?.map((d) => (typeof d === 'number' ? d : NaN));
    if (!dims || dims.some((d) => !Number.isFinite(d))) {
      throw new Error(`probeShapes: input '${inp.name}' has symbolic shape [${inp.shape}]; pass its concrete dims`);
    }
    allFeeds[inp.name] = tensor(inp.dtype, dims);
  }
  // Every node output becomes an untyped graph output (ORT infers the types), on a shallow copy
  // of the model: nodes and initializers are shared, not copied.
  const declared = new Set<string>(g.outputs.map((o) => o.name));
  const extra: ValueInfo[] = [];
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      if (!o || declared.has(o)) continue;
      declared.add(o);
      extra.push({ name: o, dtype: 'float32', shape: null, untyped: true });
    }
  }
  // Shapes do not depend on weight values: the probe's large weights are zeros made at run time.
  const probe: Model = weightFree({ ...model, graph: { ...g, outputs: [...g.outputs, ...extra] } });
  const session = await createSession(probe, { ...opts, optimization: 'disabled' });
  const out = new Map<string, ValueMeta>();
  try {
    const res = await session.run(allFeeds);
    for (const [k, v] of Object.entries(res)) out.set(k, { dtype: v.dtype, dims: [...v.dims] });
  } finally {
    await session.release();
  }
  for (const [k, v] of Object.entries(allFeeds)) out.set(k, { dtype: v.dtype, dims: [...v.dims] });
  for (const [k, v] of g.initializers) out.set(k, { dtype: v.dtype, dims: [...v.dims] });
  return out;
}
