/**
 * Rows that share a prompt run the prompt's forward once, in a graph specialised at rows. An
 * attribution graph (forward and backward at static shapes of B rows) differentiates every row
 * apart, so its backward is per row; but the forward of the prompt side (a seq2seq encoder, the
 * decoder's cross-attention keys and values) is the same for all rows of one prompt, and an item's
 * biased and gold targets are two rows of one prompt. shareForward computes those values from the
 * unspecialised source model on the distinct prompts ([prompts, ...], any count) and gathers each
 * one to rows where the row graph reads it (Gather on axis 0 by the int64 input `index`, [rows]:
 * the prompt of each row). Values are the same as before: the prompt side acts row by row.
 *
 * The row graph must name its forward values as the source does (specialize and the gradient
 * builder keep names). Only values whose axis 0 is the batch and whose other dims do not depend on
 * it (`batchMajor`, from specialize's probes) are gathered; a prompt-side value of another layout
 * stays in the row graph, computed from gathered inputs.
 */
import type { Graph, Model, Node } from './types.js';
import { removeDeadNodes, subgraphsOf } from './graph.js';
import { gatherToRows, promptInputs, promptSide } from './share-rows.js';

export interface ShareForwardOptions {
  /** Inputs with the prompt on axis 0, fed once per prompt after the rewrite. */
  shared: string[];
  /** Inputs without a batch axis that the prompt side may read (site masks). */
  broadcast?: string[];
  /** Name of the new int64 input [rows]: the prompt index of each row. */
  index: string;
  /** Source values whose axis 0 is the batch and whose other dims do not depend on it. */
  batchMajor: Set<string>;
}

export interface SharedForwardModel {
  model: Model;
  /** Prompt-side values gathered to rows (where the row graph reads them). */
  gathered: string[];
  /** Row-graph nodes replaced by the per-prompt forward. */
  removedNodes: number;
}

const PREFIX = 'prompt/';

/** The rewritten row graph, or null when none of its nodes is on the prompt side. */
export function shareForward(rows: Model, source: Model, opts: ShareForwardOptions): SharedForwardModel | null {
  const rg = rows.graph;
  const sg = source.graph;
  for (const s of opts.shared) {
    if (!rg.inputs.some((i) => i.name === s)) throw new Error(`shareForward: '${s}' is not an input of graph '${rg.name}'`);
    if (!sg.inputs.some((i) => i.name === s)) throw new Error(`shareForward: '${s}' is not an input of graph '${sg.name}'`);
  }
  const sharedSet = new Set(opts.shared);
  const promptData = new Set<string>();
  for (const [v, k] of promptSide(sg, opts.shared, opts.broadcast)) if (k === 'data' && !sharedSet.has(v)) promptData.add(v);

  // Row-graph nodes whose every output is a prompt-side value of the source: computed per prompt.
  const removed = rg.nodes.map((n) => !subgraphsOf(n).length && n.outputs.some((o) => o) && n.outputs.every((o) => !o || promptData.has(o)));
  const producer = new Map<string, number>();
  rg.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const outputs = new Set(rg.outputs.map((o) => o.name));
  // A value the row side reads must be gatherable; otherwise its producer stays in the row graph.
  for (let changed = true; changed; ) {
    changed = false;
    rg.nodes.forEach((n, i) => {
      if (removed[i]) return;
      for (const v of n.inputs) {
        const p = v ? producer.get(v) : undefined;
        if (p === undefined || !removed[p]) continue;
        if (opts.batchMajor.has(v) && !outputs.has(v)) continue;
        removed[p] = false;
        changed = true;
      }
    });
    for (const o of outputs) {
      const p = producer.get(o);
      if (p !== undefined && removed[p]) {
        removed[p] = false;
        changed = true;
      }
    }
  }
  const removedNodes = removed.filter(Boolean).length;
  if (!removedNodes) return null;
  const removedValues = new Set<string>();
  rg.nodes.forEach((n, i) => removed[i] && n.outputs.forEach((o) => o && removedValues.add(o)));
  const gathered: string[] = [];
  const gatheredSet = new Set<string>();
  const kept = rg.nodes.filter((_, i) => !removed[i]).map((n) => ({ ...n, inputs: [...n.inputs] }));
  for (const n of kept) {
    n.inputs = n.inputs.map((v) => {
      if (!v || !(removedValues.has(v) || sharedSet.has(v))) return v;
      if (!gatheredSet.has(v)) {
        gatheredSet.add(v);
        gathered.push(v);
      }
      return `${v}/rows`;
    });
  }

  // The per-prompt forward: the source's nodes that the gathered values need.
  const needed = removeDeadNodes({ ...sg, outputs: gathered.filter((v) => !sharedSet.has(v)).map((name) => ({ name, dtype: 'float32', shape: null })) });
  const initializers = new Map(rg.initializers);
  const rename = new Map<string, string>();
  const own = (v: string) => v === '' || gatheredSet.has(v) || sharedSet.has(v) || (opts.broadcast ?? []).includes(v);
  for (const [name, t] of needed.initializers) {
    if (rg.initializers.get(name) === t)
      rename.set(name, name); // the same tensor (weights): shared
    else {
      rename.set(name, PREFIX + name);
      initializers.set(PREFIX + name, t);
    }
  }
  const promptNodes: Node[] = needed.nodes.map((n) => ({
    ...n,
    name: PREFIX + n.name,
    inputs: n.inputs.map((v) => rename.get(v) ?? (own(v) ? v : PREFIX + v)),
    outputs: n.outputs.map((v) => (own(v) ? v : PREFIX + v)),
  }));
  const gathers = gathered.map((v) => gatherToRows(v, opts.index, 'share_forward'));
  const graph: Graph = removeDeadNodes({
    ...rg,
    nodes: [...promptNodes, ...gathers, ...kept],
    inputs: promptInputs(rg, opts.shared, opts.index),
    initializers,
    valueInfo: rg.valueInfo.filter((v) => !removedValues.has(v.name)),
  });
  return { model: { ...rows, graph }, gathered, removedNodes };
}
