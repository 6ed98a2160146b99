import type { Model, Node } from './types.js';

/**
 * The model with its large float initializers made at run time as zeros of the same dims
 * (ConstantOfShape): shapes do not depend on weight values, and a session then loads in a blink
 * instead of copying a model's hundreds of megabytes twice. Initializers that are also graph inputs
 * (overridable at run time) stay.
 */
export function weightFree(model: Model): Model {
  const g = model.graph;
  const initializers = new Map(g.initializers);
  const made: Node[] = [];
  const inputs = new Set(g.inputs.map((i) => i.name));
  for (const [name, t] of g.initializers) {
    if (!FLOAT_TYPES.has(t.dtype) || t.dims.reduce((a, d) => a * d, 1) <= 1024 || inputs.has(name)) continue;
    initializers.delete(name);
    const shape = `${name}/weight_free_shape`;
    initializers.set(shape, { dtype: 'int64', dims: [t.dims.length], data: BigInt64Array.from(t.dims.map(BigInt)) });
    made.push({
      name: `${name}/weight_free`,
      opType: 'ConstantOfShape',
      domain: '',
      inputs: [shape],
      outputs: [name],
      attributes: { value: { type: 'tensor', value: { dtype: t.dtype, dims: [1], data: t.dtype === 'float64' ? new Float64Array(1) : new Float32Array(1) } } },
    });
  }
  return { ...model, graph: { ...g, initializers, nodes: [...made, ...g.nodes] } };
}

const FLOAT_TYPES = new Set(['float32', 'float64']);
