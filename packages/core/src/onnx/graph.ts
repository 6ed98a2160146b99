/**
 * Structural graph passes: scope-aware reads and definitions, topological order, dead-node
 * removal, renaming and deep copies. Subgraphs (If branches, Loop/Scan bodies) may read values of
 * the enclosing graph; such reads count as inputs of the node that owns the subgraph, so ordering
 * and liveness see them.
 */
import type { Attribute, Graph, Model, Node, Tensor, ValueInfo } from './types.js';
import { cloneTensor } from './tensor.js';

// ------------------------------------------------------------------------------ scope helpers

/** The subgraphs held in a node's attributes (If branches, Loop/Scan bodies). */
export function subgraphsOf(node: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of Object.values(node.attributes)) {
    if (a.type === 'graph') out.push(a.value);
    else if (a.type === 'graphs') out.push(...a.value);
  }
  return out;
}

/** Names a graph defines at its own level: inputs, initializers and node outputs. */
export function graphDefinitions(g: Graph): Set<string> {
  const defs = new Set<string>();
  for (const v of g.inputs) defs.add(v.name);
  for (const k of g.initializers.keys()) defs.add(k);
  for (const n of g.nodes) for (const o of n.outputs) if (o) defs.add(o);
  return defs;
}

/**
 * Values a graph reads from its enclosing scopes: every name used by its nodes (and by nested
 * subgraphs) or listed as its output that the graph itself does not define.
 */
export function outerReads(g: Graph): Set<string> {
  const defs = graphDefinitions(g);
  const free = new Set<string>();
  for (const n of g.nodes) {
    for (const i of n.inputs) if (i && !defs.has(i)) free.add(i);
    for (const sg of subgraphsOf(n)) for (const i of outerReads(sg)) if (!defs.has(i)) free.add(i);
  }
  for (const o of g.outputs) if (!defs.has(o.name)) free.add(o.name);
  return free;
}

/** Everything a node reads: its explicit inputs, then its subgraphs' outer reads (deduplicated). */
export function nodeReads(node: Node): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const i of node.inputs) {
    if (i && !seen.has(i)) {
      seen.add(i);
      out.push(i);
    }
  }
  for (const sg of subgraphsOf(node)) {
    for (const i of outerReads(sg)) {
      if (!seen.has(i)) {
        seen.add(i);
        out.push(i);
      }
    }
  }
  return out;
}

/** A readable reference to a node in error messages. */
export function describeNode(n: Node, index?: number): string {
  const name = n.name ? `'${n.name}'` : index !== undefined ? `#${index}` : '(unnamed)';
  return `node ${name} (${n.domain ? `${n.domain}.` : ''}${n.opType})`;
}

/** Value name -> the node that produces it (top level only). Throws on a value produced twice. */
export function producers(graph: Graph): Map<string, Node> {
  const out = new Map<string, Node>();
  graph.nodes.forEach((n, idx) => {
    for (const o of n.outputs) {
      if (!o) continue;
      const prev = out.get(o);
      if (prev) throw new Error(`graph '${graph.name}': value '${o}' is produced by both ${describeNode(prev)} and ${describeNode(n, idx)}`);
      out.set(o, n);
    }
  });
  return out;
}

/**
 * Value name -> the nodes that read it, in node order (top level; a subgraph's read of an outer
 * value is attributed to the node owning the subgraph). A node reading a value twice is listed once.
 */
export function consumers(graph: Graph): Map<string, Node[]> {
  const out = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const i of nodeReads(n)) {
      let list = out.get(i);
      if (!list) out.set(i, (list = []));
      list.push(n);
    }
  }
  return out;
}

/** Every value name defined anywhere in the graph, subgraphs included. */
export function allValueNames(g: Graph, into = new Set<string>()): Set<string> {
  for (const v of g.inputs) into.add(v.name);
  for (const v of g.outputs) into.add(v.name);
  for (const k of g.initializers.keys()) into.add(k);
  for (const v of g.valueInfo) into.add(v.name);
  for (const n of g.nodes) {
    for (const i of n.inputs) if (i) into.add(i);
    for (const o of n.outputs) if (o) into.add(o);
    for (const sg of subgraphsOf(n)) allValueNames(sg, into);
  }
  return into;
}

/** Every node name anywhere in the graph, subgraphs included. */
export function allNodeNames(g: Graph, into = new Set<string>()): Set<string> {
  for (const n of g.nodes) {
    if (n.name) into.add(n.name);
    for (const sg of subgraphsOf(n)) allNodeNames(sg, into);
  }
  return into;
}

/** Hands out names not in `used` (and records them), `hint`, then `hint_1`, `hint_2`, ... */
export class NameAllocator {
  private counters = new Map<string, number>();
  constructor(readonly used: Set<string> = new Set()) {}

  fresh(hint: string): string {
    if (!this.used.has(hint)) {
      this.used.add(hint);
      return hint;
    }
    let k = this.counters.get(hint) ?? 0;
    let name: string;
    do name = `${hint}_${++k}`;
    while (this.used.has(name));
    this.counters.set(hint, k);
    this.used.add(name);
    return name;
  }
}

// ------------------------------------------------------------------------------ topological order

class MinHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(x: number): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= x) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]! < a[l]! ? r : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

export interface SortOptions {
  /** Also sort the nodes of subgraphs (default true). */
  recursive?: boolean;
  /** Names visible from enclosing scopes (used when sorting a subgraph on its own). */
  outerScope?: ReadonlySet<string>;
}

/**
 * Returns a copy of the graph (same node objects) whose nodes are in topological order. Stable:
 * among nodes that are ready, the earliest in the original list goes first, so an already sorted
 * graph keeps its order. A node reading a value that nothing produces, or a cycle, is an error
 * naming the node and the value.
 */
export function topologicalSort(graph: Graph, opts: SortOptions = {}): Graph {
  const recursive = opts.recursive ?? true;
  const outer = opts.outerScope ?? new Set<string>();
  const nodes = graph.nodes;
  const prod = producers(graph);
  const index = new Map<Node, number>();
  nodes.forEach((n, i) => index.set(n, i));
  const available = new Set<string>(outer);
  for (const v of graph.inputs) available.add(v.name);
  for (const k of graph.initializers.keys()) available.add(k);

  const reads = nodes.map(nodeReads);
  const pending = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  reads.forEach((rs, i) => {
    for (const r of rs) {
      const p = prod.get(r);
      if (p) {
        pending[i]!++;
        dependents[index.get(p)!]!.push(i);
      } else if (!available.has(r)) {
        throw new Error(`graph '${graph.name}': ${describeNode(nodes[i]!, i)} reads '${r}', which no node, graph input or initializer produces`);
      }
    }
  });

  const heap = new MinHeap();
  pending.forEach((p, i) => p === 0 && heap.push(i));
  const order: Node[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    order.push(nodes[i]!);
    for (const d of dependents[i]!) if (--pending[d]! === 0) heap.push(d);
  }
  if (order.length < nodes.length) throw new Error(cycleMessage(graph, reads, prod, index, pending));
  for (const o of graph.outputs) {
    if (!prod.has(o.name) && !available.has(o.name))
      throw new Error(`graph '${graph.name}': graph output '${o.name}' is not produced by any node, input or initializer`);
  }

  const sorted = recursive
    ? order.map((n) => {
        const sgs = subgraphsOf(n);
        if (sgs.length === 0) return n;
        const scope = new Set<string>(available);
        for (const m of nodes) for (const o of m.outputs) if (o) scope.add(o);
        return mapSubgraphs(n, (sg) => topologicalSort(sg, { recursive, outerScope: scope }));
      })
    : order;
  return { ...graph, nodes: sorted };
}

function cycleMessage(graph: Graph, reads: string[][], prod: Map<string, Node>, index: Map<Node, number>, pending: number[]): string {
  // Walk from a stuck node along unresolved inputs until a node repeats: that loop is a cycle.
  const start = pending.findIndex((p) => p > 0);
  const seen = new Map<number, number>();
  const path: { node: number; value: string }[] = [];
  let cur = start;
  while (!seen.has(cur)) {
    seen.set(cur, path.length);
    const value = reads[cur]!.find((r) => {
      const p = prod.get(r);
      return p !== undefined && pending[index.get(p)!]! > 0;
    })!;
    path.push({ node: cur, value });
    cur = index.get(prod.get(value)!)!;
  }
  const cycle = path.slice(seen.get(cur)!);
  const nodes = graph.nodes;
  const steps = cycle.map((s) => `${describeNode(nodes[s.node]!, s.node)} reads '${s.value}'`).join(', ');
  return `graph '${graph.name}': cycle: ${steps}, produced by ${describeNode(nodes[cur]!, cur)}`;
}

function mapSubgraphs(n: Node, f: (g: Graph) => Graph): Node {
  const attributes: Record<string, Attribute> = {};
  for (const [k, a] of Object.entries(n.attributes)) {
    if (a.type === 'graph') attributes[k] = { type: 'graph', value: f(a.value) };
    else if (a.type === 'graphs') attributes[k] = { type: 'graphs', value: a.value.map(f) };
    else attributes[k] = a;
  }
  return { ...n, attributes };
}

// ------------------------------------------------------------------------------ dead nodes

export interface DeadNodeOptions {
  /** Drop graph inputs that nothing reads (default false: the graph's interface is kept). */
  removeUnusedInputs?: boolean;
  /** Values to keep alive besides the graph outputs. */
  keep?: Iterable<string>;
  /** Also clean subgraphs (default true). */
  recursive?: boolean;
}

/**
 * A copy of the graph without the nodes that no graph output (or `keep` value) depends on, without
 * initializers nothing reads and without value_info of removed values. Graph inputs stay unless
 * `removeUnusedInputs`; an initializer that is also a kept graph input stays too.
 */
export function removeDeadNodes(graph: Graph, opts: DeadNodeOptions = {}): Graph {
  const recursive = opts.recursive ?? true;
  const live = new Set<string>(opts.keep ?? []);
  for (const o of graph.outputs) live.add(o.name);
  const keepNode = new Array<boolean>(graph.nodes.length).fill(false);
  // One backward sweep suffices when sorted; loop until stable so unsorted graphs work too.
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = graph.nodes.length - 1; i >= 0; i--) {
      if (keepNode[i]) continue;
      const n = graph.nodes[i]!;
      if (!n.outputs.some((o) => o && live.has(o))) continue;
      keepNode[i] = true;
      changed = true;
      for (const r of nodeReads(n)) live.add(r);
    }
  }
  const nodes = graph.nodes
    .filter((_, i) => keepNode[i])
    .map((n) => (recursive && subgraphsOf(n).length ? mapSubgraphs(n, (sg) => removeDeadNodes(sg, { recursive, removeUnusedInputs: false })) : n));
  const inputs = opts.removeUnusedInputs ? graph.inputs.filter((v) => live.has(v.name)) : graph.inputs;
  const inputNames = new Set(inputs.map((v) => v.name));
  const initializers = new Map<string, Tensor>();
  for (const [k, t] of graph.initializers) if (live.has(k) || inputNames.has(k)) initializers.set(k, t);
  const defined = new Set<string>();
  for (const n of nodes) for (const o of n.outputs) if (o) defined.add(o);
  const valueInfo = graph.valueInfo.filter((v) => defined.has(v.name) || initializers.has(v.name) || inputNames.has(v.name));
  return { ...graph, nodes, inputs, initializers, valueInfo };
}

// ------------------------------------------------------------------------------ renaming

/**
 * Applies `rename` to every value name in the graph and its subgraphs, in place: inputs, outputs,
 * initializers, value_info, node inputs and outputs. `rename` returns the new name or undefined to
 * keep it. Omitted optional inputs ('') are left alone.
 */
export function mapValueNames(g: Graph, rename: (name: string) => string | undefined): Graph {
  const r = (n: string): string => (n ? (rename(n) ?? n) : n);
  const rv = (v: ValueInfo): ValueInfo => ({ ...v, name: r(v.name) });
  g.inputs = g.inputs.map(rv);
  g.outputs = g.outputs.map(rv);
  g.valueInfo = g.valueInfo.map(rv);
  const inits = new Map<string, Tensor>();
  for (const [k, t] of g.initializers) inits.set(r(k), t);
  g.initializers = inits;
  for (const n of g.nodes) {
    n.inputs = n.inputs.map(r);
    n.outputs = n.outputs.map(r);
    for (const sg of subgraphsOf(n)) mapValueNames(sg, rename);
  }
  return g;
}

/** Applies `rename` to every node name (subgraphs included), in place. */
export function mapNodeNames(g: Graph, rename: (name: string) => string | undefined): Graph {
  for (const n of g.nodes) {
    n.name = rename(n.name) ?? n.name;
    for (const sg of subgraphsOf(n)) mapNodeNames(sg, rename);
  }
  return g;
}

/**
 * Renames values simultaneously (`{a: 'b', b: 'a'}` swaps), in place, subgraphs included. A target
 * that already names a value which is not itself renamed away is an error, as are two sources
 * mapped to one target. Returns the graph.
 */
export function renameValues(graph: Graph, map: Record<string, string> | Map<string, string>): Graph {
  const m = map instanceof Map ? map : new Map(Object.entries(map));
  for (const [k, v] of [...m]) if (k === v) m.delete(k);
  if (m.size === 0) return graph;
  const existing = allValueNames(graph);
  const targets = new Map<string, string>();
  for (const [from, to] of m) {
    if (!to) throw new Error(`graph '${graph.name}': cannot rename '${from}' to an empty name`);
    const other = targets.get(to);
    if (other !== undefined) throw new Error(`graph '${graph.name}': both '${other}' and '${from}' would be renamed to '${to}'`);
    targets.set(to, from);
    if (existing.has(to) && !m.has(to)) throw new Error(`graph '${graph.name}': cannot rename '${from}' to '${to}': '${to}' already names a value`);
  }
  return mapValueNames(graph, (n) => m.get(n));
}

/** Renames one value everywhere (see renameValues), in place. Returns the graph. */
export function renameValue(graph: Graph, from: string, to: string): Graph {
  return renameValues(graph, new Map([[from, to]]));
}

// ------------------------------------------------------------------------------ copies

export interface CloneOptions {
  /**
   * 'share' (default): the copy references the same tensor objects. Passes in this package never
   * write into a tensor's data (they replace whole tensors), so sharing is safe for them; copy
   * when you intend to modify tensor data in place.
   */
  tensors?: 'share' | 'copy';
}

function cloneAttribute(a: Attribute, opts: CloneOptions): Attribute {
  switch (a.type) {
    case 'floats':
    case 'ints':
    case 'strings':
      return { type: a.type, value: [...a.value] } as Attribute;
    case 'tensor':
      return { type: 'tensor', value: opts.tensors === 'copy' ? cloneTensor(a.value) : a.value };
    case 'graph':
      return { type: 'graph', value: cloneGraph(a.value, opts) };
    case 'graphs':
      return { type: 'graphs', value: a.value.map((g) => cloneGraph(g, opts)) };
    default:
      return { ...a };
  }
}

export function cloneNode(n: Node, opts: CloneOptions = {}): Node {
  const attributes: Record<string, Attribute> = {};
  for (const [k, a] of Object.entries(n.attributes)) attributes[k] = cloneAttribute(a, opts);
  return { ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes };
}

const cloneVI = (v: ValueInfo): ValueInfo => ({ ...v, shape: v.shape ? [...v.shape] : null });

/** A deep copy of the graph structure; tensors are shared unless `tensors: 'copy'`. */
export function cloneGraph(g: Graph, opts: CloneOptions = {}): Graph {
  const initializers = new Map<string, Tensor>();
  for (const [k, t] of g.initializers) initializers.set(k, opts.tensors === 'copy' ? cloneTensor(t) : t);
  return {
    name: g.name,
    nodes: g.nodes.map((n) => cloneNode(n, opts)),
    inputs: g.inputs.map(cloneVI),
    outputs: g.outputs.map(cloneVI),
    initializers,
    valueInfo: g.valueInfo.map(cloneVI),
  };
}

export function cloneModel(m: Model, opts: CloneOptions = {}): Model {
  return {
    irVersion: m.irVersion,
    opsetImports: m.opsetImports.map((o) => ({ ...o })),
    producerName: m.producerName,
    producerVersion: m.producerVersion,
    graph: cloneGraph(m.graph, opts),
    metadata: { ...m.metadata },
  };
}

/** Initializers that are not also graph inputs (a graph input may override its initializer at run time). */
export function constantInitializers(g: Graph): Map<string, Tensor> {
  const inputs = new Set(g.inputs.map((v) => v.name));
  const out = new Map<string, Tensor>();
  for (const [k, t] of g.initializers) if (!inputs.has(k)) out.set(k, t);
  return out;
}
