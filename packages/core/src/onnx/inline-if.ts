/**
 * Inlining of If nodes whose condition is known. Optimum's merged decoders wrap the whole decoder
 * in `If(use_cache_branch)`; attribution runs without a cache, so the no-cache branch is spliced
 * into the top-level graph and the past-key-value inputs it never reads disappear.
 */
import type { Graph, Model, Node, Tensor } from './types.js';
import { numel, tensor } from './tensor.js';
import { foldConstants } from './fold.js';
import {
  NameAllocator,
  allNodeNames,
  allValueNames,
  cloneModel,
  constantInitializers,
  describeNode,
  mapNodeNames,
  mapValueNames,
  nodeReads,
  removeDeadNodes,
  subgraphsOf,
} from './graph.js';

export interface InlineIfResult {
  model: Model;
  /** Names of the If nodes that were inlined, in order. */
  inlined: string[];
}

/**
 * Replaces every top-level `If` whose condition is a constant (an initializer that is not a graph
 * input, a value that folds from constants, or a name in `known`) by the nodes of the branch it
 * takes. Branch-local values keep their names where those are free and get fresh names otherwise;
 * branch outputs take the names of the If's outputs. Ifs nested in an inlined branch are handled
 * in turn. A graph input named in `known` becomes a constant, and inputs that only the discarded
 * branches read are removed, as are nodes left without use. Returns a new model.
 */
export function inlineIfs(model: Model, known: Record<string, boolean> = {}): InlineIfResult {
  let m = cloneModel(model);
  const g0 = m.graph;
  const readBefore = readsOf(g0);
  const allNames = allValueNames(g0);
  const knownTensors = new Map<string, Tensor>();
  for (const [name, value] of Object.entries(known)) {
    if (!allNames.has(name)) throw new Error(`inlineConstantIfs: known value '${name}' does not occur in graph '${g0.name}'`);
    const inp = g0.inputs.find((v) => v.name === name);
    if (inp && inp.dtype !== 'bool') throw new Error(`inlineConstantIfs: known value '${name}' is a ${inp.dtype} input, expected bool`);
    const dims = inp?.shape?.every((d): d is number => typeof d === 'number') ? inp.shape : [];
    const t = tensor('bool', dims, new Array(numel(dims)).fill(value ? 1 : 0));
    if (inp) {
      // The flag becomes a constant everywhere it is read, not only in If conditions.
      g0.inputs = g0.inputs.filter((v) => v.name !== name);
      g0.initializers.set(name, t);
    } else {
      knownTensors.set(name, t);
    }
  }

  const inlined: string[] = [];
  for (;;) {
    const conds = m.graph.nodes.filter((n) => isIf(n)).map((n) => n.inputs[0]!);
    if (conds.length === 0) break;
    // Fold whatever the conditions depend on, so that e.g. Equal(Constant, Constant) counts.
    m = foldConstants(m, { only: conds.filter((c) => !knownTensors.has(c)) }).model;
    const g = m.graph;
    const consts = constantInitializers(g);
    const idx = g.nodes.findIndex((n) => isIf(n) && (consts.has(n.inputs[0]!) || knownTensors.has(n.inputs[0]!)));
    if (idx < 0) break;
    const node = g.nodes[idx]!;
    const cond = consts.get(node.inputs[0]!) ?? knownTensors.get(node.inputs[0]!)!;
    if (numel(cond.dims) !== 1)
      throw new Error(`inlineConstantIfs: ${describeNode(node)} has a condition '${node.inputs[0]}' of shape [${cond.dims}], expected one element`);
    const v = (cond.data as ArrayLike<number | bigint>)[0]!;
    const taken = v !== 0 && v !== 0n;
    const a = node.attributes[taken ? 'then_branch' : 'else_branch'];
    if (a?.type !== 'graph') throw new Error(`inlineConstantIfs: ${describeNode(node)} has no ${taken ? 'then_branch' : 'else_branch'}`);
    spliceBranch(g, idx, a.value);
    inlined.push(node.name);
  }

  // Inputs that were read before and are not read any more (past key values of the cache branch).
  let g = removeDeadNodes(m.graph);
  const readAfter = readsOf(g);
  g = { ...g, inputs: g.inputs.filter((v) => !readBefore.has(v.name) || readAfter.has(v.name) || g.outputs.some((o) => o.name === v.name)) };
  m.graph = g;
  return { model: m, inlined };
}

/** inlineIfs without the report: the model with its constant Ifs inlined. */
export function inlineConstantIfs(model: Model, known: Record<string, boolean> = {}): Model {
  return inlineIfs(model, known).model;
}

function isIf(n: Node): boolean {
  return n.opType === 'If' && (n.domain === '' || n.domain === 'ai.onnx');
}

function readsOf(g: Graph): Set<string> {
  const s = new Set<string>();
  for (const n of g.nodes) for (const r of nodeReads(n)) s.add(r);
  return s;
}

/** Every name a graph defines, nested subgraphs included. */
function localDefinitions(g: Graph, into = new Set<string>()): Set<string> {
  for (const v of g.inputs) into.add(v.name);
  for (const k of g.initializers.keys()) into.add(k);
  for (const n of g.nodes) {
    for (const o of n.outputs) if (o) into.add(o);
    for (const sg of subgraphsOf(n)) localDefinitions(sg, into);
  }
  return into;
}

/** Replaces g.nodes[idx] (an If) by the nodes of `branch` (already a private copy), in place. */
function spliceBranch(g: Graph, idx: number, branch: Graph): void {
  const node = g.nodes[idx]!;
  const rest: Graph = { ...g, nodes: g.nodes.filter((_, i) => i !== idx) };
  const values = new NameAllocator(allValueNames(rest));
  for (const o of node.outputs) if (o) values.used.add(o);
  const nodeNames = new NameAllocator(allNodeNames(rest));

  const producedTop = new Set<string>();
  for (const n of branch.nodes) for (const o of n.outputs) if (o) producedTop.add(o);
  const map = new Map<string, string>();
  branch.outputs.forEach((o, i) => {
    const y = node.outputs[i];
    if (y && producedTop.has(o.name) && !map.has(o.name)) map.set(o.name, y);
  });
  for (const d of localDefinitions(branch)) if (!map.has(d)) map.set(d, values.fresh(d));
  mapValueNames(branch, (n) => map.get(n));
  mapNodeNames(branch, (n) => nodeNames.fresh(n || `${node.name}/node`));

  const extra: Node[] = [];
  branch.outputs.forEach((o, i) => {
    const y = node.outputs[i];
    if (y && o.name !== y) {
      extra.push({ name: nodeNames.fresh(`${node.name}/output${i}`), opType: 'Identity', domain: '', inputs: [o.name], outputs: [y], attributes: {} });
    }
  });
  for (const [k, t] of branch.initializers) g.initializers.set(k, t);
  const annotated = new Set(g.valueInfo.map((v) => v.name));
  g.valueInfo.push(...branch.valueInfo.filter((v) => !annotated.has(v.name)));
  g.nodes.splice(idx, 1, ...branch.nodes, ...extra);
}
