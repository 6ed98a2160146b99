/**
 * Central finite differences of a whole graph's objective with respect to any value: a graph
 * input, an initializer (turned into an input) or an intermediate value (the graph is cut there:
 * the producer's output is renamed away and the value becomes an input fed its forward value).
 */
import { createSession, numel, runModel, type DType, type Model, type Tensor } from '../../src/index.js';

export interface GraphFdOptions {
  objective: string;
  feeds: Record<string, Tensor>;
  /** dtype of the graph's float values (default float64). */
  dtype?: DType;
  /** Weights of the objective's elements (the seed); default all ones. */
  seed?: Tensor;
  eps: number;
}

/** Exposes `names` as extra outputs and returns their values. */
export async function evaluateValues(model: Model, feeds: Record<string, Tensor>, names: string[], dtype: DType = 'float64'): Promise<Record<string, Tensor>> {
  const m: Model = { ...model, graph: { ...model.graph, outputs: names.map((n) => ({ name: n, dtype, shape: null })) } };
  return runModel(m, feeds, { outputs: names, optimization: 'disabled' });
}

export async function graphFiniteDiff(model: Model, target: string, indices: number[], opts: GraphFdOptions): Promise<number[]> {
  const g = model.graph;
  const feeds: Record<string, Tensor> = { ...opts.feeds };
  let graph = {
    ...g,
    nodes: g.nodes,
    inputs: [...g.inputs],
    initializers: new Map(g.initializers),
    outputs: [{ name: opts.objective, dtype: opts.dtype ?? 'float64', shape: null }],
  };
  let value: Tensor;
  if (feeds[target]) {
    value = feeds[target]!;
  } else if (g.initializers.has(target)) {
    value = g.initializers.get(target)!;
    graph.initializers.delete(target);
    graph.inputs.push({ name: target, dtype: value.dtype, shape: [...value.dims] });
  } else {
    value = (await evaluateValues(model, opts.feeds, [target], opts.dtype))[target]!;
    const cut = `${target}__cut_for_fd`;
    graph = { ...graph, nodes: g.nodes.map((n) => (n.outputs.includes(target) ? { ...n, outputs: n.outputs.map((o) => (o === target ? cut : o)) } : n)) };
    graph.inputs.push({ name: target, dtype: value.dtype, shape: [...value.dims] });
  }
  const session = await createSession({ ...model, graph }, { optimization: 'disabled' });
  const seed = opts.seed ? Array.from(opts.seed.data as Float64Array, Number) : undefined;
  const objectiveAt = async (idx: number, delta: number) => {
    const data = (value.data as Float64Array).slice();
    data[idx] = data[idx]! + delta;
    const r = await session.run({ ...feeds, [target]: { dtype: value.dtype, dims: value.dims, data } }, [opts.objective]);
    const o = r[opts.objective]!;
    let s = 0;
    for (let i = 0; i < numel(o.dims); i++) s += Number((o.data as Float64Array)[i]) * (seed ? seed[i]! : 1);
    return s;
  };
  try {
    const out: number[] = [];
    for (const idx of indices) out.push(((await objectiveAt(idx, opts.eps)) - (await objectiveAt(idx, -opts.eps))) / (2 * opts.eps));
    return out;
  } finally {
    await session.release();
  }
}

/** `count` indices spread over [0, n) with a fixed stride and offset. */
export function spreadIndices(n: number, count: number, offset = 0): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const stride = n / count;
  return Array.from({ length: count }, (_, i) => (Math.floor(i * stride) + offset) % n);
}
