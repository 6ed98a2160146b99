/**
 * Constant folding: every node whose inputs are constants (and every Shape/Size whose input's
 * shape is known) is evaluated by the JavaScript evaluator (evaluate.ts) and replaced by
 * initializers, so that shape subgraphs disappear from specialised graphs.
 */
import type { Graph, Model, Node, Tensor } from './types.js';
import { defaultOpset } from './types.js';
import { FOLDABLE_OPS, evaluateNode } from './evaluate.js';
import {
  NameAllocator,
  allNodeNames,
  allValueNames,
  cloneModel,
  constantInitializers,
  describeNode,
  removeDeadNodes,
  subgraphsOf,
  topologicalSort,
} from './graph.js';

/** Ops whose output shape depends on input values in ways we cannot see from constants. */
const DATA_DEPENDENT_SHAPE_OPS: ReadonlySet<string> = new Set([
  'NonZero',
  'Unique',
  'Compress',
  'NonMaxSuppression',
  'Loop',
  'If',
  'Scan',
  'StringSplit',
  'TfIdfVectorizer',
]);

/** For ops whose output shape is set by the values of some inputs: those input positions. */
const SHAPE_INPUTS: Record<string, number[]> = {
  Reshape: [1],
  Expand: [1],
  Tile: [1],
  ConstantOfShape: [0],
  Range: [0, 1, 2],
  Slice: [1, 2, 3, 4],
  Pad: [1, 3],
  TopK: [1],
  OneHot: [1],
  Resize: [1, 2, 3],
  Upsample: [1],
  Squeeze: [1],
  Unsqueeze: [1],
  ReduceSum: [1],
  ReduceMean: [1],
  ReduceMax: [1],
  ReduceMin: [1],
  ReduceProd: [1],
  ReduceL1: [1],
  ReduceL2: [1],
  ReduceLogSumExp: [1],
  ReduceSumSquare: [1],
  ReduceLogSum: [1],
  Split: [1],
  CenterCropPad: [1],
  DFT: [1],
  Col2Im: [1, 2],
};

export interface ShapeLeftover {
  node: string;
  opType: string;
  /** The value whose shape is not static. */
  value: string;
  message: string;
}

export interface FoldOptions {
  /** Largest folded tensor, in elements (default 1,048,576): bigger results stay as nodes. */
  maxElements?: number;
  /**
   * Dims of top-level values (e.g. from probeShapes). With it, Shape and Size of non-constant
   * values fold, and a Shape/Size whose input shape depends on data is reported as a leftover.
   */
  shapeOf?: (name: string) => readonly number[] | undefined;
  /** Only fold what these values depend on (default: everything foldable). */
  only?: Iterable<string>;
  /**
   * Leave nodes that read a float initializer of rank >= 2 (a weight matrix or embedding table)
   * unfolded (default true). Folding e.g. Transpose(weight) would replace the weight by a copy
   * under the Transpose's output name, and neuron sites find linear layers by their weights.
   */
  keepWeights?: boolean;
}

export interface FoldResult {
  model: Model;
  /** Number of nodes evaluated and removed. */
  folded: number;
  /** Shape/Size nodes that could not fold because their input's shape depends on data. */
  leftovers: ShapeLeftover[];
}

/**
 * Folds constant subgraphs of the top-level graph: `Constant` nodes become initializers and every
 * node in FOLDABLE_OPS whose inputs are all constants is evaluated and replaced by initializers
 * (except nodes reading weights, see `keepWeights`). Nodes left without use are removed.
 * Initializers that are also graph inputs are not constants (a feed may override them). Nodes
 * inside subgraphs are left alone. Returns a new model; the input is not modified.
 */
export function foldConstants(model: Model, opts: FoldOptions = {}): FoldResult {
  const m = cloneModel(model);
  const g = topologicalSort(m.graph, { recursive: false });
  const opset = defaultOpset(m);
  const consts = constantInitializers(g);
  const maxElements = opts.maxElements ?? 1 << 20;
  const only = opts.only ? relevantNodes(g, opts.only) : undefined;
  const weights = new Set<string>();
  if (opts.keepWeights ?? true)
    for (const [k, t] of consts)
      if ((t.dtype === 'float32' || t.dtype === 'float64' || t.dtype === 'float16' || t.dtype === 'bfloat16') && t.dims.length >= 2) weights.add(k);
  /** value -> why its shape depends on data */
  const dynamic = new Map<string, string>();
  const leftovers: ShapeLeftover[] = [];
  const kept: Node[] = [];
  const foldedValues = new Map<string, Tensor>();
  let folded = 0;

  for (const n of g.nodes) {
    let outs: Tensor[] | null = null;
    const defaultDomain = n.domain === '' || n.domain === 'ai.onnx';
    const readsWeight = weights.size > 0 && n.inputs.some((i) => weights.has(i));
    if (defaultDomain && FOLDABLE_OPS.has(n.opType) && subgraphsOf(n).length === 0 && (!only || only.has(n)) && !readsWeight) {
      const ins = n.inputs.map((i) => (i ? consts.get(i) : undefined));
      let inputShapes: (readonly number[] | undefined)[] | undefined;
      if ((n.opType === 'Shape' || n.opType === 'Size') && !ins[0] && opts.shapeOf) {
        const v = n.inputs[0]!;
        const why = dynamic.get(v);
        const dims = why === undefined ? opts.shapeOf(v) : undefined;
        if (dims) inputShapes = [dims];
        else {
          const reason = why ?? 'no static shape is known for it';
          leftovers.push({ node: n.name, opType: n.opType, value: v, message: `${describeNode(n)} reads '${v}', whose shape is dynamic: ${reason}` });
        }
      }
      outs = evaluateNode(n, ins, { opset, maxElements, ...(inputShapes ? { inputShapes } : {}) });
    }
    if (outs) {
      folded++;
      n.outputs.forEach((o, i) => {
        if (!o) return;
        consts.set(o, outs![i]!);
        foldedValues.set(o, outs![i]!);
      });
      continue;
    }
    kept.push(n);
    if (opts.shapeOf) {
      let why: string | undefined;
      if (DATA_DEPENDENT_SHAPE_OPS.has(n.opType)) why = `${describeNode(n)} has a data-dependent output shape`;
      for (const p of SHAPE_INPUTS[n.opType] ?? []) {
        const v = n.inputs[p];
        if (!why && v && !consts.has(v)) why = `${describeNode(n)} takes its output shape from the non-constant value '${v}'`;
      }
      for (const i of n.inputs) if (!why && i && dynamic.has(i)) why = dynamic.get(i);
      if (why) for (const o of n.outputs) if (o) dynamic.set(o, why);
    }
  }

  // Folded values become initializers. A folded graph output keeps its name through an Identity
  // so that outputs stay produced by nodes.
  const outputs = new Set(g.outputs.map((o) => o.name));
  const names = new NameAllocator(allValueNames(g));
  const nodeNames = new NameAllocator(allNodeNames(g));
  for (const [name, t] of foldedValues) {
    if (outputs.has(name)) {
      const c = names.fresh(`${name}_const`);
      g.initializers.set(c, t);
      kept.push({ name: nodeNames.fresh(`${name}_identity`), opType: 'Identity', domain: '', inputs: [c], outputs: [name], attributes: {} });
    } else {
      g.initializers.set(name, t);
    }
  }
  g.nodes = kept;
  m.graph = removeDeadNodes(g);
  return { model: m, folded, leftovers };
}

/** Nodes that the given values depend on (transitively, top level). */
function relevantNodes(g: Graph, targets: Iterable<string>): Set<Node> {
  const prod = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) prod.set(o, n);
  const out = new Set<Node>();
  const stack = [...targets];
  while (stack.length) {
    const v = stack.pop()!;
    const n = prod.get(v);
    if (!n || out.has(n)) continue;
    out.add(n);
    for (const i of n.inputs) if (i) stack.push(i);
  }
  return out;
}
