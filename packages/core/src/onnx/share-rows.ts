/**
 * Rows that share inputs compute what depends only on those inputs once. A seq2seq decoder
 * scoring three answers of one prompt reads the prompt's encoder states three times, and its
 * cross-attention projects them to keys and values per row: most of its work at prompt lengths of
 * a hundred tokens and more. shareRows rewrites a graph so that the shared inputs come once per
 * distinct prompt ([prompts, ...]) with an index input `rows` ([rows] int64: the prompt of each
 * row); every value computed from shared inputs alone (the "prompt side") is computed per prompt,
 * and each such value a row-side node reads is gathered to rows right there (Gather on axis 0).
 * Values are the same as before: the prompt-side nodes act row by row.
 *
 * Shape values (Shape/Size of prompt-side values and what is computed from them alone) pass to
 * the row side unchanged: they must not depend on the batch. checkShareRows verifies that by
 * probing: every row-side value must keep the dims it has without sharing.
 */
import type { Graph, Model, Node, ShapeProbe, Tensor, ValueInfo } from './types.js';
import { subgraphsOf, outerReads } from './graph.js';

export interface ShareRowsOptions {
  /** Inputs with the prompt on axis 0, fed once per prompt after the rewrite. */
  shared: string[];
  /** Name of the new int64 input [rows]: the prompt index of each row. */
  index: string;
  /** Inputs without a batch axis that the prompt side may read (site masks). */
  broadcast?: string[];
}

export interface SharedRowsModel {
  model: Model;
  /** Prompt-side values gathered to rows (where the row side reads them). */
  gathered: string[];
  /** Prompt-side nodes: computed once per prompt. */
  promptNodes: number;
  /** Every prompt-side value (computed per prompt), shape values included. */
  promptValues: Set<string>;
}

const SHAPE_OPS = new Set(['Shape', 'Size']);

/**
 * The prompt side of `g`: every value computed from the `shared` inputs and constants alone
 * ('data': batch on axis 0, computed per prompt) or from their shapes ('meta': shape arithmetic).
 * `fixed` names inputs without a batch axis that the prompt side may read (site masks). Nodes with
 * subgraphs stay on the row side.
 */
export function promptSide(g: Graph, shared: readonly string[], fixed: readonly string[] = []): Map<string, 'data' | 'meta'> {
  const kind = new Map<string, 'data' | 'meta'>(shared.map((s) => [s, 'data']));
  const constant = new Set<string>([...g.initializers.keys(), ...fixed]);
  for (const n of g.nodes) {
    if (subgraphsOf(n).length) continue;
    if (n.opType === 'Constant') {
      n.outputs.forEach((o) => constant.add(o));
      continue;
    }
    const ins = n.inputs.filter((i) => i);
    const sideInputs = ins.filter((i) => kind.has(i));
    if (!sideInputs.length) {
      if (ins.length && ins.every((i) => constant.has(i))) n.outputs.forEach((o) => constant.add(o));
      continue;
    }
    if (!ins.every((i) => kind.has(i) || constant.has(i))) continue; // reads the row side: a frontier node
    const out = SHAPE_OPS.has(n.opType) || sideInputs.every((i) => kind.get(i) === 'meta') ? 'meta' : 'data';
    for (const o of n.outputs) if (o) kind.set(o, out);
  }
  return kind;
}

/** Gather of prompt-side value `v` to rows (axis 0, by the int64 `index` input), named `${v}/rows`. */
export function gatherToRows(v: string, index: string, prefix: string): Node {
  return { name: `${prefix}/${v}`, opType: 'Gather', domain: '', inputs: [v, index], outputs: [`${v}/rows`], attributes: { axis: { type: 'int', value: 0 } } };
}

/** The graph inputs with the shared ones declared per prompt, and the index input [rows] added. */
export function promptInputs(g: Graph, shared: readonly string[], index: string): ValueInfo[] {
  const inputs = g.inputs.map((i) => (shared.includes(i.name) && i.shape ? { ...i, shape: ['prompts', ...i.shape.slice(1)] } : i));
  inputs.push({ name: index, dtype: 'int64', shape: ['rows'] });
  return inputs;
}

/** The rewritten model, or null when no node depends on the shared inputs alone. */
export function shareRows(model: Model, opts: ShareRowsOptions): SharedRowsModel | null {
  const g = model.graph;
  for (const s of opts.shared) if (!g.inputs.some((i) => i.name === s)) throw new Error(`shareRows: '${s}' is not an input of graph '${g.name}'`);
  const kind = promptSide(g, opts.shared, opts.broadcast);
  const isPromptNode = (n: Node) => n.outputs.some((o) => o && kind.has(o));
  const promptNodes = g.nodes.filter((n) => n.outputs.some((o) => o && kind.get(o) === 'data')).length;
  if (!promptNodes) return null;
  // A prompt-side value read by a subgraph or returned as a graph output cannot be gathered in place.
  for (const n of g.nodes) for (const sg of subgraphsOf(n)) for (const r of outerReads(sg)) if (kind.get(r) === 'data') return null;
  if (g.outputs.some((o) => kind.get(o.name) === 'data')) return null;

  const gathered = new Set<string>();
  const nodes: Node[] = [];
  const insertAfter = new Map<string, Node>();
  const copies = g.nodes.map((n) => ({ ...n, inputs: [...n.inputs] }));
  for (const n of copies) {
    if (isPromptNode(n)) continue;
    n.inputs = n.inputs.map((i) => {
      if (!i || kind.get(i) !== 'data') return i;
      if (!gathered.has(i)) {
        gathered.add(i);
        insertAfter.set(i, gatherToRows(i, opts.index, 'share_rows'));
      }
      return `${i}/rows`;
    });
  }
  // Gathers of shared inputs go first; the others right after their value's producer.
  for (const s of opts.shared) if (insertAfter.has(s)) nodes.push(insertAfter.get(s)!);
  for (const n of copies) {
    nodes.push(n);
    for (const o of n.outputs) if (o && insertAfter.has(o)) nodes.push(insertAfter.get(o)!);
  }
  const graph: Graph = { ...g, nodes, inputs: promptInputs(g, opts.shared, opts.index), valueInfo: g.valueInfo.filter((v) => !kind.has(v.name)) };
  return { model: { ...model, graph }, gathered: [...gathered], promptNodes, promptValues: new Set(kind.keys()) };
}

/**
 * Probes the original at `rows` rows and the rewrite at one prompt shared by all rows, and throws
 * when a row-side value's dims differ (a shape value that carried the batch).
 */
export async function checkShareRows(
  original: Model,
  shared: SharedRowsModel,
  opts: ShareRowsOptions,
  inputDims: Record<string, number[]>,
  probeShapes: ShapeProbe,
): Promise<void> {
  const rows = inputDims[opts.shared[0]!]![0]!;
  const a = await probeShapes(original, {}, inputDims);
  const promptDims: Record<string, number[]> = { ...inputDims };
  for (const s of opts.shared) promptDims[s] = [1, ...inputDims[s]!.slice(1)];
  const index: Tensor = { dtype: 'int64', dims: [rows], data: new BigInt64Array(rows) };
  const b = await probeShapes(shared.model, { [opts.index]: index }, promptDims);
  for (const n of original.graph.nodes) {
    for (const o of n.outputs) {
      const da = a.get(o)?.dims;
      const db = b.get(o)?.dims;
      if (!da || !db || da.length === 0) continue;
      const promptSide = db[0] === 1 && da[0] === rows && da.slice(1).join() === db.slice(1).join();
      if (da.join() !== db.join() && !promptSide) {
        throw new Error(`shareRows: value '${o}' has dims [${db}] with shared rows but [${da}] without: a shape value carries the batch`);
      }
    }
  }
}
