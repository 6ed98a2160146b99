/**
 * Static specialisation: a copy of a model for one shape bucket, with concrete input dims, every
 * Shape/Size replaced by a constant and the shape arithmetic folded away. Gradient rules then see
 * only static shapes, and the returned ShapeMap gives them every value's dims without another run.
 *
 * Shape facts come from the caller's shape probe (runtime's probeShapes: one ORT run with dummy inputs of the bucket's dims). They are
 * exact for values whose shapes depend only on input shapes; a value whose shape depends on data
 * (NonZero, or a Reshape whose target is computed from token values) is tracked and a Shape of it
 * is reported as a leftover instead of being frozen to the dummy run's answer.
 */
import type { Graph, Model, ShapeMap, ShapeProbe, Tensor } from './types.js';
import { tensor } from './tensor.js';
import { cloneModel, describeNode, subgraphsOf } from './graph.js';
import { foldConstants, type ShapeLeftover } from './fold.js';
import { inlineIfs } from './inline-if.js';

export interface SpecializeOptions {
  /**
   * Inputs for the probe run. Missing ones are dummies of the given dims: ones for inputs whose
   * name contains "mask", zeros otherwise (token id 0 is valid for every vocabulary).
   */
  feeds?: Record<string, Tensor>;
  /** Known If conditions (e.g. `{ use_cache_branch: false }`), inlined before probing. */
  known?: Record<string, boolean>;
  /** Largest folded tensor in elements (default 1,048,576). */
  maxElements?: number;
  /** Return dynamic-shape leftovers instead of throwing (default false). */
  allowDynamic?: boolean;
  /**
   * Inputs whose axis 0 is the batch. The probe then runs at batch 1 and 2 instead of the full
   * batch (a probe keeps every intermediate alive and copies it out, gigabytes at batch 8 for
   * Flan-T5-small), and each value's dims at the full batch are extrapolated: a dim that differs
   * between the two runs is affine in the batch (B, B * heads, ...). Leave unset when no input
   * has a batch axis or the batch is already 1 or 2.
   */
  batchInputs?: string[];
}

export interface SpecializeResult {
  model: Model;
  /** dtype and dims of every top-level value of the specialised graph. */
  shapes: ShapeMap;
  /** Shape/Size nodes that remain because their input's shape is not static (empty unless allowDynamic). */
  leftovers: ShapeLeftover[];
  /**
   * With batchInputs and a batch of 2 or more: the values of the input model whose axis 0 is the
   * batch and whose other dims do not depend on it (probed at batch 1 and 2). Their rows can be
   * computed apart and gathered (see share-forward.ts).
   */
  batchMajor?: Set<string>;
}

const MAX_ROUNDS = 16;

/**
 * Specialises `model` to `inputDims` (every graph input that has no concrete declared shape must be
 * listed). Returns a new model, its ShapeMap and any leftovers; the input model is not modified.
 */
export async function specialize(
  model: Model,
  inputDims: Record<string, number[]>,
  probeShapes: ShapeProbe,
  opts: SpecializeOptions = {},
): Promise<SpecializeResult> {
  let m = cloneModel(model);
  const g = m.graph;
  const declared = new Set(g.inputs.map((v) => v.name));
  for (const name of Object.keys(inputDims)) {
    if (!declared.has(name)) throw new Error(`specialize: '${name}' is not an input of graph '${g.name}' (inputs: ${[...declared].join(', ')})`);
  }
  // Known conditions first: inputs that only the discarded branches read need no dims.
  if (opts.known && Object.keys(opts.known).length) m = inlineIfs(m, opts.known).model;
  const dims = concreteInputDims(m.graph, inputDims);
  for (const inp of m.graph.inputs) if (dims[inp.name]) inp.shape = [...dims[inp.name]!];

  let probe: ShapeMap | undefined;
  let leftovers: ShapeLeftover[] = [];
  let batchMajor: Set<string> | undefined;
  for (let round = 0; ; round++) {
    if (round >= MAX_ROUNDS) throw new Error(`specialize: graph '${g.name}' still changes after ${MAX_ROUNDS} rounds of folding and If inlining`);
    // Later rounds probe folded graphs whose constants hold the full batch: probe those as they are.
    const probed = await probeAt(probeShapes, m, dims, round === 0 ? opts : { ...opts, batchInputs: [] });
    probe = probed.shapes;
    if (round === 0) batchMajor = probed.batchMajor;
    const facts = probe;
    const folded = foldConstants(m, { shapeOf: (n) => facts.get(n)?.dims, ...(opts.maxElements ? { maxElements: opts.maxElements } : {}) });
    leftovers = folded.leftovers;
    const inl = inlineIfs(folded.model);
    m = inl.model;
    // An inlined branch brings values the probe has not seen: probe again.
    if (inl.inlined.length === 0) break;
  }
  leftovers.push(...subgraphLeftovers(m.graph));
  if (leftovers.length && !opts.allowDynamic) {
    throw new Error(`specialize: graph '${g.name}' keeps dynamic shapes:\n  ${leftovers.map((l) => l.message).join('\n  ')}`);
  }

  // Folding keeps the names of the values it does not remove, so the last probe still describes them.
  const gg = m.graph;
  const shapes: ShapeMap = new Map();
  for (const inp of gg.inputs) {
    const p = probe.get(inp.name);
    if (p) shapes.set(inp.name, p);
  }
  for (const [k, t] of gg.initializers) shapes.set(k, { dtype: t.dtype, dims: [...t.dims] });
  for (const n of gg.nodes) {
    for (const o of n.outputs) {
      if (!o) continue;
      // Identity nodes added for folded graph outputs read an initializer, already in `shapes`.
      const p = probe.get(o) ?? (n.opType === 'Identity' ? shapes.get(n.inputs[0]!) : undefined);
      if (!p) throw new Error(`specialize: no shape is known for '${o}', output of ${describeNode(n)}`);
      shapes.set(o, p);
    }
  }
  gg.outputs = gg.outputs.map((o) => {
    const p = shapes.get(o.name);
    return p ? { name: o.name, dtype: p.dtype, shape: [...p.dims] } : o;
  });
  const outputNames = new Set(gg.outputs.map((o) => o.name));
  gg.valueInfo = [];
  for (const n of gg.nodes) {
    for (const o of n.outputs) {
      if (!o || outputNames.has(o)) continue;
      const p = shapes.get(o)!;
      gg.valueInfo.push({ name: o, dtype: p.dtype, shape: [...p.dims] });
    }
  }
  return { model: m, shapes, leftovers, ...(batchMajor ? { batchMajor } : {}) };
}

/** One probe at the given dims, or two small-batch probes extrapolated to them (see batchInputs). */
async function probeAt(
  probeShapes: ShapeProbe,
  m: Model,
  dims: Record<string, number[]>,
  opts: SpecializeOptions,
): Promise<{ shapes: ShapeMap; batchMajor?: Set<string> }> {
  const batched = (opts.batchInputs ?? []).filter((n) => dims[n]?.length);
  const B = batched.length ? dims[batched[0]!]![0]! : 0;
  if (!batched.length || B < 2 || opts.feeds || batched.some((n) => dims[n]![0] !== B)) {
    return { shapes: await probeShapes(m, dummyFeeds(m.graph, dims, opts.feeds ?? {}), dims) };
  }
  const at = async (b: number) => {
    const d = { ...dims };
    for (const n of batched) d[n] = [b, ...dims[n]!.slice(1)];
    // The inputs are declared at the full batch; the probe copy declares them at b.
    const g = { ...m.graph, inputs: m.graph.inputs.map((i) => (batched.includes(i.name) ? { ...i, shape: d[i.name]! } : i)) };
    return probeShapes({ ...m, graph: g }, dummyFeeds(g, d, {}), d);
  };
  const p1 = await at(1);
  const p2 = await at(2);
  const out: ShapeMap = new Map();
  const batchMajor = new Set<string>();
  for (const [name, v1] of p1) {
    const v2 = p2.get(name);
    if (!v2 || v2.dims.length !== v1.dims.length)
      throw new Error(
        `specialize: '${name}' has rank ${v1.dims.length} at batch 1 and ${v2?.dims.length ?? 'none'} at batch 2; pass no batchInputs for this graph`,
      );
    out.set(name, { dtype: v1.dtype, dims: v1.dims.map((d1, i) => d1 + (v2.dims[i]! - d1) * (B - 1)) });
    if (v1.dims[0] === 1 && v2.dims[0] === 2 && v1.dims.every((d, i) => i === 0 || d === v2.dims[i])) batchMajor.add(name);
  }
  return { shapes: out, batchMajor };
}

function concreteInputDims(g: Graph, inputDims: Record<string, number[]>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const inp of g.inputs) {
    if (g.initializers.has(inp.name) && !inputDims[inp.name]) continue;
    const given = inputDims[inp.name];
    const declared = inp.shape;
    if (!given) {
      if (declared?.every((d): d is number => typeof d === 'number')) out[inp.name] = declared;
      else throw new Error(`specialize: input '${inp.name}' has shape [${declared ?? '?'}]; pass its concrete dims in inputDims`);
      continue;
    }
    if (given.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`specialize: dims [${given}] of input '${inp.name}' are not non-negative integers`);
    if (declared) {
      if (declared.length !== given.length) throw new Error(`specialize: input '${inp.name}' has rank ${declared.length} ([${declared}]), got dims [${given}]`);
      declared.forEach((d, i) => {
        if (typeof d === 'number' && d !== given[i]) throw new Error(`specialize: input '${inp.name}' axis ${i} is fixed to ${d}, got ${given[i]}`);
      });
    }
    out[inp.name] = [...given];
  }
  return out;
}

function dummyFeeds(g: Graph, dims: Record<string, number[]>, given: Record<string, Tensor>): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const inp of g.inputs) {
    if (given[inp.name]) {
      feeds[inp.name] = given[inp.name]!;
      continue;
    }
    const d = dims[inp.name];
    if (!d) continue;
    const t = tensor(inp.dtype, d);
    if (/mask/i.test(inp.name) && inp.dtype !== 'string') {
      const one = inp.dtype === 'int64' || inp.dtype === 'uint64' ? 1n : inp.dtype === 'float16' ? 0x3c00 : 1;
      (t.data as unknown as { fill(v: unknown): void }).fill(inp.dtype === 'bfloat16' ? 0x3f80 : one);
    }
    feeds[inp.name] = t;
  }
  return feeds;
}

/** Shape and Size nodes inside subgraphs that remain: their inputs' shapes are not specialised. */
function subgraphLeftovers(g: Graph, owner?: string): ShapeLeftover[] {
  const out: ShapeLeftover[] = [];
  for (const n of g.nodes) {
    if (owner && (n.opType === 'Shape' || n.opType === 'Size')) {
      out.push({
        node: n.name,
        opType: n.opType,
        value: n.inputs[0]!,
        message: `${describeNode(n)} inside a subgraph of ${owner} reads '${n.inputs[0]}', whose shape is not specialised (subgraphs are not probed)`,
      });
    }
    for (const sg of subgraphsOf(n)) out.push(...subgraphLeftovers(sg, owner ?? describeNode(n)));
  }
  return out;
}
