/**
 * Finite-difference checks of single vector-Jacobian rules, independent of the autodiff engine.
 * For y = op(x...), the objective L = sum_k sum(y_k * R_k) with fixed random R_k has dL/dy_k = R_k,
 * so calling the rule with dy = R_k must give dL/dx, which central differences of L measure.
 */
import {
  GraphBuilder,
  createRng,
  emptyModel,
  encodeModel,
  createSession,
  probeShapes,
  tensor,
  numel,
  type AttrInput,
  type Tensor,
  type Model,
} from '../../src/index.js';
import type { GradContext } from '../../src/autodiff/rule.js';
import { getRule } from '../../src/autodiff/registry.js';

export interface RuleInput {
  value: Tensor;
  /** Check this input's gradient (default: true for float tensors). */
  grad?: boolean;
  /** Make it an initializer (constant) instead of a graph input; constants are never perturbed. */
  constant?: boolean;
}

export interface RuleCheckSpec {
  opType: string;
  inputs: (RuleInput | null)[]; // null = omitted optional input
  attrs?: Record<string, AttrInput>;
  outputs?: number;
  opset?: number;
  domain?: string;
  /** Finite-difference step (default 1e-6 for float64, 1e-2 for float32). */
  eps?: number;
  /** At most this many elements of each input are perturbed (default 24, chosen with a fixed stride). */
  samples?: number;
  seed?: number;
}

export interface RuleCheckResult {
  /** max over checked elements of |analytic - numeric| / max(1, |numeric|) */
  maxError: number;
  checked: number;
  details: { input: number; index: number; analytic: number; numeric: number }[];
}

/** Uniform [0, 1) values from core's seeded generator. */
export function rng(seed: number): () => number {
  const r = createRng(seed >>> 0);
  return () => r.next();
}

export function randn(dims: number[], seed = 1, dtype: 'float64' | 'float32' = 'float64', scale = 1): Tensor {
  const r = rng(seed);
  const n = numel(dims);
  const v = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    v[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  return tensor(dtype, dims, v);
}

export function uniform(dims: number[], lo: number, hi: number, seed = 1, dtype: 'float64' | 'float32' = 'float64'): Tensor {
  const r = rng(seed);
  return tensor(
    dtype,
    dims,
    Array.from({ length: numel(dims) }, () => lo + (hi - lo) * r()),
  );
}

export async function checkRule(spec: RuleCheckSpec): Promise<RuleCheckResult> {
  const opset = spec.opset ?? 17;
  const model: Model = emptyModel(opset, `check_${spec.opType}`);
  if (spec.domain) model.opsetImports.push({ domain: spec.domain, version: 1 });
  const b = new GraphBuilder(model.graph);
  const names: string[] = [];
  const feeds: Record<string, Tensor> = {};
  spec.inputs.forEach((inp, i) => {
    if (!inp) return names.push('');
    const name = `x${i}`;
    if (inp.constant) b.initializer(name, inp.value);
    else {
      b.input(name, inp.value.dtype, inp.value.dims);
      feeds[name] = inp.value;
    }
    names.push(name);
  });
  const nOut = spec.outputs ?? 1;
  const ys = b.node(spec.opType, names, spec.attrs ?? {}, { outputs: nOut, domain: spec.domain ?? '' });
  const node = model.graph.nodes[model.graph.nodes.length - 1]!;
  // probeShapes exposes every node output itself, untyped, so the graph needs no outputs yet.
  const shapes = await probeShapes(model, feeds);
  // Objective: sum_k sum(y_k * R_k).
  let objective: string | undefined;
  const dy: string[] = [];
  ys.forEach((y, k) => {
    const m = shapes.get(y)!;
    const r = randn(m.dims, 1000 + k + (spec.seed ?? 0), m.dtype as 'float64' | 'float32');
    const rName = b.constant(r, `R${k}`);
    dy.push(rName);
    const term = b.op('ReduceSum', [b.op('Mul', [y, rName])], { keepdims: 0 });
    objective = objective ? b.op('Add', [objective, term]) : term;
  });
  const rule = getRule(spec.opType, spec.domain);
  if (!rule) throw new Error(`no gradient rule registered for ${spec.opType}`);
  const needs = spec.inputs.map((inp) => !!inp && !inp.constant && (inp.grad ?? (inp.value.dtype === 'float64' || inp.value.dtype === 'float32')));
  const ctx: GradContext = {
    node,
    b,
    dy,
    needs,
    meta: (name) => {
      const m = shapes.get(name);
      if (!m) throw new Error(`no shape for ${name}`);
      return m;
    },
    constant: (name) => model.graph.initializers.get(name),
    opset,
  };
  const grads = rule(ctx);
  model.graph.outputs = [{ name: objective!, dtype: shapes.get(ys[0]!)!.dtype, shape: [] }];
  needs.forEach((need, i) => {
    if (!need) return;
    const g = grads[i];
    if (!g) throw new Error(`rule ${spec.opType} returned no gradient for input ${i}`);
    model.graph.outputs.push({ name: g, dtype: spec.inputs[i]!.value.dtype, shape: spec.inputs[i]!.value.dims });
  });
  const session = await createSession(encodeModel(model), { optimization: 'disabled' });
  try {
    const base = await session.run(feeds);
    const details: RuleCheckResult['details'] = [];
    let maxError = 0;
    for (let i = 0; i < needs.length; i++) {
      if (!needs[i]) continue;
      const x = spec.inputs[i]!.value;
      const g = base[grads[i]!]!;
      if (g.dims.join() !== x.dims.join()) throw new Error(`gradient of input ${i} has dims [${g.dims}], input has [${x.dims}]`);
      const n = numel(x.dims);
      const samples = Math.min(n, spec.samples ?? 24);
      const stride = Math.max(1, Math.floor(n / samples));
      const eps = spec.eps ?? (x.dtype === 'float64' ? 1e-6 : 1e-2);
      for (let s = 0, idx = 0; s < samples && idx < n; s++, idx += stride) {
        const evalAt = async (delta: number) => {
          const data = (x.data as Float64Array).slice();
          data[idx] = data[idx]! + delta;
          const r = await session.run({ ...feeds, [names[i]!]: { dtype: x.dtype, dims: x.dims, data } }, [objective!]);
          return Number((r[objective!]!.data as Float64Array)[0]);
        };
        const numeric = ((await evalAt(eps)) - (await evalAt(-eps))) / (2 * eps);
        const analytic = Number((g.data as Float64Array)[idx]);
        const err = Math.abs(analytic - numeric) / Math.max(1, Math.abs(numeric));
        maxError = Math.max(maxError, err);
        details.push({ input: i, index: idx, analytic, numeric });
      }
    }
    return { maxError, checked: details.length, details };
  } finally {
    await session.release();
  }
}
