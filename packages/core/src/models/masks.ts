/**
 * Site masks: one float graph input `mask.<site>` of shape [width] per site, multiplied into the
 * linear's output (after the bias). Every consumer of the site output reads the masked value, so
 * one session evaluates any pruning set; feeding ones reproduces the model exactly (x * 1 = x).
 */
import type { Graph, Model, Tensor } from '../onnx/types.js';
import { GraphBuilder } from '../onnx/builder.js';
import { tensor } from '../onnx/tensor.js';
import type { NeuronSite } from './sites.js';

export interface MaskedModel {
  model: Model;
  /** site name -> graph input name (`mask.<site>`) */
  maskInputs: Map<string, string>;
  /** site name -> value after the mask (h) */
  maskedOutputs: Map<string, string>;
}

export const maskInputName = (site: string): string => `mask.${site}`;

/** Shallow-copies the model down to node lists, so inserting nodes leaves the source untouched. */
function copyModel(model: Model): Model {
  const g = model.graph;
  return {
    ...model,
    graph: {
      ...g,
      nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: { ...n.attributes } })),
      inputs: [...g.inputs],
      outputs: [...g.outputs],
      initializers: new Map(g.initializers),
      valueInfo: [...g.valueInfo],
    },
    metadata: { ...model.metadata },
  };
}

/** Names a subgraph defines itself (inputs, node outputs, initializers): outer names it shadows. */
function definedIn(g: Graph): Set<string> {
  const s = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
  for (const n of g.nodes) for (const o of n.outputs) s.add(o);
  return s;
}

/** Rewrites reads of `from` to `to` inside subgraph attributes (If/Loop bodies read outer values by name). */
function renameInSubgraph(g: Graph, from: string, to: string): Graph {
  if (definedIn(g).has(from)) return g;
  return {
    ...g,
    nodes: g.nodes.map((n) => ({
      ...n,
      inputs: n.inputs.map((i) => (i === from ? to : i)),
      attributes: renameInAttributes(n.attributes, from, to),
    })),
    outputs: g.outputs.map((o) => (o.name === from ? { ...o, name: to } : o)),
  };
}

function renameInAttributes(attrs: Model['graph']['nodes'][number]['attributes'], from: string, to: string) {
  let out = attrs;
  for (const [k, a] of Object.entries(attrs)) {
    if (a.type === 'graph') out = { ...out, [k]: { type: 'graph', value: renameInSubgraph(a.value, from, to) } };
    else if (a.type === 'graphs') out = { ...out, [k]: { type: 'graphs', value: a.value.map((g) => renameInSubgraph(g, from, to)) } };
  }
  return out;
}

export function addSiteMasks(model: Model, sites: NeuronSite[]): MaskedModel {
  const m = copyModel(model);
  const g = m.graph;
  const b = new GraphBuilder(g);
  const maskInputs = new Map<string, string>();
  const maskedOutputs = new Map<string, string>();
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  const producerIndex = new Map<string, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producerIndex.set(o, i)));
  // Insert each Mul right after the site's producer so the node list stays topologically sorted.
  const inserts = new Map<number, Model['graph']['nodes']>();
  for (const s of sites) {
    if (maskInputs.has(s.name)) throw new Error(`addSiteMasks: site '${s.name}' is listed twice`);
    const at = producerIndex.get(s.output);
    if (at === undefined) throw new Error(`addSiteMasks: site '${s.name}': output value '${s.output}' is produced by no node of the graph`);
    if (graphOutputs.has(s.output))
      throw new Error(`addSiteMasks: site '${s.name}': output '${s.output}' is a graph output; masking it would change the model's interface`);
    const w = g.initializers.get(s.weight);
    const dtype = w?.dtype ?? 'float32';
    // Masks are always fed as float32; a half-precision model casts them in the graph.
    const input = b.input(maskInputName(s.name), 'float32', [s.width]);
    const masked = b.fresh(`${s.output}/masked`);
    const before = g.nodes.length;
    const factor =
      dtype === 'float32'
        ? input
        : b.op('Cast', [input], { to: dtype === 'float16' ? 10 : dtype === 'bfloat16' ? 16 : 11 }, { name: `${s.matmul}/site_mask_cast` });
    b.node('Mul', [s.output, factor], {}, { name: `${s.matmul}/site_mask`, outputs: [masked] });
    const added = g.nodes.splice(before, g.nodes.length - before);
    // Rewire every reader of the raw output (in this graph and in subgraphs) to the masked value.
    for (const n of g.nodes) {
      for (let i = 0; i < n.inputs.length; i++) if (n.inputs[i] === s.output) n.inputs[i] = masked;
      n.attributes = renameInAttributes(n.attributes, s.output, masked);
    }
    let list = inserts.get(at);
    if (!list) inserts.set(at, (list = []));
    list.push(...added);
    maskInputs.set(s.name, input);
    maskedOutputs.set(s.name, masked);
  }
  const nodes: Model['graph']['nodes'] = [];
  g.nodes.forEach((n, i) => {
    nodes.push(n);
    const extra = inserts.get(i);
    if (extra) nodes.push(...extra);
  });
  g.nodes = nodes;
  return { model: m, maskInputs, maskedOutputs };
}

/** All-ones masks (the unmodified model), keyed by site name. */
export function onesMasks(sites: readonly Pick<NeuronSite, 'name' | 'width'>[]): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const s of sites) out[s.name] = new Float32Array(s.width).fill(1);
  return out;
}

/** Masks with the listed units set to 0 and all others 1. */
export function pruningMasks(
  sites: readonly Pick<NeuronSite, 'name' | 'width'>[],
  neurons: readonly { site: string; unit: number }[],
): Record<string, Float32Array> {
  const masks = onesMasks(sites);
  for (const n of neurons) {
    const m = masks[n.site];
    if (!m) throw new Error(`unknown site '${n.site}' (the model has ${sites.length} sites, e.g. ${sites[0]?.name ?? 'none'})`);
    if (!Number.isInteger(n.unit) || n.unit < 0 || n.unit >= m.length)
      throw new Error(`site '${n.site}' has ${m.length} units; unit ${n.unit} is out of range`);
    m[n.unit] = 0;
  }
  return masks;
}

/**
 * Graph feeds for the mask inputs: the given masks by site name, ones for every site not given.
 * Unknown site names and wrong lengths are errors.
 */
export function maskFeeds(sites: readonly NeuronSite[], masks: Record<string, Float32Array> = {}): Record<string, Tensor> {
  const byName = new Map(sites.map((s) => [s.name, s]));
  for (const k of Object.keys(masks)) {
    if (!byName.has(k)) throw new Error(`mask for unknown site '${k}'`);
  }
  const feeds: Record<string, Tensor> = {};
  for (const s of sites) {
    const given = masks[s.name];
    if (given && given.length !== s.width) throw new Error(`mask for site '${s.name}' has ${given.length} values, the site has width ${s.width}`);
    feeds[maskInputName(s.name)] = tensor('float32', [s.width], given ?? new Float32Array(s.width).fill(1));
  }
  return feeds;
}
