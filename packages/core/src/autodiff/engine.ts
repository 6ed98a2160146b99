/**
 * Reverse-mode autodiff over ONNX graphs. The forward graph is kept as it is and the nodes that
 * compute vector-Jacobian products are appended, so one ORT run yields the forward outputs and the
 * gradients. Shapes are static (the graph is specialised to a shape bucket), which lets every rule
 * emit plain ops with constant shapes.
 */
import { GraphBuilder } from '../onnx/builder.js';
import { nodeReads, topologicalSort } from '../onnx/graph.js';
import { isFloat, tensor } from '../onnx/tensor.js';
import { constantNodeValue } from '../onnx/evaluate.js';
import { reducePowers } from '../onnx/strength-reduce.js';
import { floatTensor } from './rules/math-common.js';
import { defaultOpset, type Graph, type Model, type Node, type Tensor, type ValueInfo } from '../onnx/types.js';
import { probeShapes } from '../runtime/shape-probe.js';
import type { ShapeMap, ValueMeta } from '../onnx/types.js';
import { NON_DIFFERENTIABLE_OPS, type GradContext } from './rule.js';
import { getRule } from './registry.js';

export interface GradientOptions {
  /** The value whose gradient is taken (a scalar, or any tensor when `seed` is given). */
  objective: string;
  /** Values to differentiate w.r.t.: graph inputs, initializers or intermediate values. */
  wrt: string[];
  /** Static dtype and dims of every value; probed with ORT (from `feeds`/`inputDims`) when absent. */
  shapes?: ShapeMap;
  feeds?: Record<string, Tensor>;
  inputDims?: Record<string, number[]>;
  /**
   * Name of a tensor holding dObjective (same dims as the objective). If no value of that name
   * exists, it becomes a new graph input. Default: ones, i.e. the gradient of sum(objective).
   * A per-example objective [batch] with a ones seed gives each example's own gradient in one pass,
   * because examples do not interact: d(sum_b L_b)/dx_b = dL_b/dx_b.
   */
  seed?: string;
  /** Keep the original graph outputs (default true). */
  keepOutputs?: boolean;
}

export interface GradientGraph {
  model: Model;
  /** wrt name -> name of the graph output holding its gradient. */
  gradients: Map<string, string>;
}

/** The name of the gradient output for a value: `grad/<name>` with unsafe characters replaced. */
export function gradientOutputName(name: string): string {
  return GRAD_PREFIX + sanitise(name);
}

/** Prefix of every name the engine adds (gradient nodes, values and outputs). */
const GRAD_PREFIX = 'grad/';
const sanitise = (name: string) => name.replace(/[^A-Za-z0-9_./:-]/g, '_');

const nodeLabel = (n: Node) => n.name || `<unnamed ${n.opType} -> ${n.outputs[0]}>`;

export async function buildGradientGraph(model: Model, opts: GradientOptions): Promise<GradientGraph> {
  const src = model.graph;
  const { objective, wrt } = opts;
  if (!wrt.length) throw new Error('buildGradientGraph: wrt is empty');
  const shapes = opts.shapes ?? (await probeShapes(model, opts.feeds ?? {}, opts.inputDims ?? {}));
  const meta = (name: string): ValueMeta => {
    const m = shapes.get(name);
    if (!m) throw new Error(`buildGradientGraph: no static shape for value '${name}' (is it produced by graph '${src.name}'?)`);
    return m;
  };
  if (!shapes.has(objective)) throw new Error(`buildGradientGraph: objective '${objective}' is not a value of graph '${src.name}'`);
  const objMeta = meta(objective);
  if (!isFloat(objMeta.dtype)) throw new Error(`buildGradientGraph: objective '${objective}' has dtype ${objMeta.dtype}; it must be a float tensor`);
  for (const w of wrt) {
    if (!shapes.has(w)) throw new Error(`buildGradientGraph: wrt value '${w}' is not a value of graph '${src.name}'`);
    if (!isFloat(meta(w).dtype)) throw new Error(`buildGradientGraph: cannot differentiate w.r.t. '${w}' of dtype ${meta(w).dtype}`);
  }
  const differentiable = (v: string) => !!v && isFloat(shapes.get(v)?.dtype ?? 'int64');

  // The output graph: the forward graph (shared node objects, never mutated) plus gradient nodes.
  const graph: Graph = {
    name: src.name,
    nodes: [...src.nodes],
    inputs: [...src.inputs],
    outputs: opts.keepOutputs === false ? [] : [...src.outputs],
    initializers: new Map(src.initializers),
    valueInfo: [...src.valueInfo],
  };
  const out: Model = { ...model, opsetImports: model.opsetImports.map((o) => ({ ...o })), metadata: { ...model.metadata }, graph };
  const b = new GraphBuilder(graph, GRAD_PREFIX);
  const opset = defaultOpset(model);
  const order = topologicalSort(src, { recursive: false }).nodes;
  const constants = new Map<string, Tensor>(src.initializers);
  for (const n of order) {
    if (n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx')) {
      const v = constantNodeValue(n);
      if (v) constants.set(n.outputs[0]!, v);
    }
  }
  const passes = (n: Node) => !NON_DIFFERENTIABLE_OPS.has(n.opType) || (n.domain !== '' && n.domain !== 'ai.onnx');

  // Reads include values a node's subgraphs (If/Loop bodies) take from the enclosing graph, so a
  // control-flow node on the path is found (and reported as having no rule) instead of skipped.
  const reads = new Map<Node, string[]>(order.map((n) => [n, nodeReads(n)]));
  // Forward reachability from wrt.
  const fromWrt = new Set<string>(wrt);
  for (const n of order) {
    if (!passes(n)) continue;
    if (reads.get(n)!.some((i) => fromWrt.has(i) && differentiable(i))) for (const o of n.outputs) if (differentiable(o)) fromWrt.add(o);
  }
  // Backward reachability from the objective; `toward` remembers one consumer on the way to it.
  const toObjective = new Set<string>([objective]);
  const toward = new Map<string, Node>();
  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k]!;
    if (!passes(n) || !n.outputs.some((o) => toObjective.has(o))) continue;
    for (const i of reads.get(n)!) {
      if (!differentiable(i) || toObjective.has(i)) continue;
      toObjective.add(i);
      toward.set(i, n);
    }
  }
  const active = (v: string) => !!v && fromWrt.has(v) && toObjective.has(v);
  const activeNodes = order.filter((n) => passes(n) && n.outputs.some(active) && reads.get(n)!.some(active));

  const pathTo = (n: Node): string => {
    const chain: string[] = [nodeLabel(n)];
    let cur: Node | undefined = n;
    for (let guard = 0; cur && guard < order.length; guard++) {
      const o: string | undefined = cur.outputs.find((x) => toObjective.has(x));
      cur = o === undefined || o === objective ? undefined : toward.get(o);
      if (cur) chain.push(nodeLabel(cur));
    }
    return ['objective', ...chain.reverse()].join(' <- ');
  };
  const opLabel = (n: Node) => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}:${n.opType}` : n.opType);
  // Report the missing rule nearest the objective, with its path, and name any other missing ops.
  const missing = activeNodes.filter((n) => !getRule(n.opType, n.domain)).reverse();
  if (missing.length) {
    const n = missing[0]!;
    const others = new Map<string, number>();
    for (const m of missing.slice(1)) if (opLabel(m) !== opLabel(n)) others.set(opLabel(m), (others.get(opLabel(m)) ?? 0) + 1);
    const sameOp = missing.filter((m) => opLabel(m) === opLabel(n)).length;
    let msg = `no gradient rule for op '${opLabel(n)}' (node '${nodeLabel(n)}') on the path ${pathTo(n)} (objective '${objective}')`;
    if (sameOp > 1) msg += `; ${sameOp} nodes of this op are on differentiable paths`;
    if (others.size) msg += `; other ops without a rule on those paths: ${[...others].map(([op, c]) => `'${op}' (${c} node${c > 1 ? 's' : ''})`).join(', ')}`;
    throw new Error(msg);
  }

  // Claim the gradient output names before any rule emits nodes, so they stay `grad/<name>`.
  const outputNames = new Map<string, string>();
  for (const w of wrt) if (!outputNames.has(w)) outputNames.set(w, b.fresh(sanitise(w))); // the builder adds GRAD_PREFIX

  // Seed: dObjective.
  let seed: string;
  if (opts.seed) {
    seed = opts.seed;
    const sm = shapes.get(seed);
    if (!sm) {
      b.input(seed, objMeta.dtype, [...objMeta.dims]);
    } else if (sm.dims.join() !== objMeta.dims.join() || sm.dtype !== objMeta.dtype) {
      throw new Error(`seed '${seed}' is ${sm.dtype}[${sm.dims}] but objective '${objective}' is ${objMeta.dtype}[${objMeta.dims}]`);
    }
  } else {
    const one = b.constant(floatTensor(objMeta.dtype, [], [1]), 'seed_one');
    seed = objMeta.dims.length === 0 ? one : b.op('Expand', [one, b.ints(objMeta.dims, 'seed_shape')], {}, { name: 'seed' });
  }

  // Gradient contributions per value, summed when a value feeds several consumers.
  const contributions = new Map<string, string[]>([[objective, [seed]]]);
  const accumulated = new Map<string, string>();
  const gradOf = (v: string): string | undefined => {
    const done = accumulated.get(v);
    if (done) return done;
    const parts = contributions.get(v);
    if (!parts?.length) return undefined;
    // A chain of Adds, not one Sum: onnxruntime's CPU Sum ran about 4x slower per byte than its Add
    // (at Flan-T5-small shape, a 3-way Sum of [8, 128, 1024] took 1.44 ms; two Adds take about 0.6).
    let g = parts[0]!;
    for (const p of parts.slice(1)) g = b.op('Add', [g, p], {}, { name: 'accumulate' });
    accumulated.set(v, g);
    return g;
  };

  for (let k = activeNodes.length - 1; k >= 0; k--) {
    const n = activeNodes[k]!;
    const dy = n.outputs.map((o) => (active(o) ? gradOf(o) : undefined));
    if (dy.every((d) => d === undefined)) continue;
    const needs = n.inputs.map((i) => active(i));
    const ctx: GradContext = { node: n, b, dy, needs, meta, constant: (name) => constants.get(name), opset };
    let grads: (string | undefined)[];
    try {
      grads = getRule(n.opType, n.domain)!(ctx);
    } catch (e) {
      throw new Error(`gradient rule for op '${n.opType}' (node '${nodeLabel(n)}') failed: ${(e as Error).message}`);
    }
    n.inputs.forEach((inp, i) => {
      const g = grads[i];
      if (!needs[i] || !g) return;
      if (accumulated.has(inp)) throw new Error(`internal: gradient of '${inp}' was used before all its consumers were processed`);
      const list = contributions.get(inp) ?? [];
      list.push(g);
      contributions.set(inp, list);
    });
  }

  const gradients = new Map<string, string>();
  for (const w of wrt) {
    if (gradients.has(w)) continue;
    const wm = meta(w);
    const name = outputNames.get(w)!;
    const g = gradOf(w);
    if (g) {
      b.op('Identity', [g], {}, { name: 'grad_out', output: name });
    } else {
      // Structurally zero: w does not reach the objective through differentiable ops.
      b.op('ConstantOfShape', [b.ints(wm.dims, 'zero_shape')], { value: tensor(wm.dtype, [1], [0]) }, { name: 'zero_grad', output: name });
    }
    const info: ValueInfo = { name, dtype: wm.dtype, shape: [...wm.dims] };
    graph.outputs.push(info);
    gradients.set(w, name);
  }
  reducePowers(graph);
  return { model: out, gradients };
}
