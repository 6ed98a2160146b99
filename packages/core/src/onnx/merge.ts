/**
 * Merging an encoder model and a decoder model into one graph, the decoder's encoder-state inputs
 * wired to the encoder's outputs. Attribution needs gradients through both halves of a seq2seq
 * model (cross-attention k/v sites live in the decoder but reduce over input tokens), so the two
 * exported files must become one differentiable graph.
 */
import type { Graph, Model, OpsetImport, Tensor, ValueInfo } from './types.js';
import { numel, toBytes } from './tensor.js';
import { NameAllocator, cloneModel, mapNodeNames, mapValueNames, removeDeadNodes, subgraphsOf } from './graph.js';

export interface MergeOptions {
  /** Decoder input name -> encoder output name that feeds it. */
  connect: Record<string, string>;
  /** Prefix of the encoder's internal value and node names (default 'encoder/'). */
  prefixEncoder?: string;
  /** Prefix of the decoder's internal value and node names (default 'decoder/'). */
  prefixDecoder?: string;
  /**
   * Decoder input name -> encoder input name: the decoder reads the encoder's input instead of
   * its own (e.g. `{ encoder_attention_mask: 'attention_mask' }`). Dtypes must agree.
   */
  shareInputs?: Record<string, string>;
  /** Keep the encoder's outputs as outputs of the merged graph (default false). */
  keepEncoderOutputs?: boolean;
  /** Name of the merged graph (default `<encoder>+<decoder>`). */
  name?: string;
}

/**
 * One model computing decoder(encoder(...)). Naming:
 * - internal values (node outputs and initializers that are not graph inputs or outputs) and node
 *   names get the side's prefix, subgraphs included;
 * - graph inputs and outputs keep their names; a decoder input or output whose name the encoder
 *   already uses gets the decoder prefix (and a numeric suffix if that is taken too);
 * - an initializer with the same name and identical contents in both models is stored once (the
 *   encoder's copy, under its prefixed name); same name with different contents gives two;
 * - decoder inputs in `connect` disappear, their readers read the encoder output instead.
 * Opset imports are unioned with the highest version per domain; the IR version is the higher one.
 * Nodes that neither the decoder outputs nor kept encoder outputs need are removed.
 */
export function mergeGraphs(encoder: Model, decoder: Model, opts: MergeOptions): Model {
  const enc = cloneModel(encoder).graph;
  const dec = cloneModel(decoder).graph;
  const pe = opts.prefixEncoder ?? 'encoder/';
  const pd = opts.prefixDecoder ?? 'decoder/';
  const share = opts.shareInputs ?? {};
  const keepEnc = opts.keepEncoderOutputs ?? false;

  const encInputs = new Map(enc.inputs.map((v) => [v.name, v]));
  const encOutputs = new Map(enc.outputs.map((v) => [v.name, v]));
  const decInputs = new Map(dec.inputs.map((v) => [v.name, v]));
  for (const [d, e] of Object.entries(opts.connect)) {
    if (!decInputs.has(d))
      throw new Error(`mergeGraphs: connect names '${d}', which is not an input of decoder graph '${dec.name}' (inputs: ${[...decInputs.keys()].join(', ')})`);
    if (!encOutputs.has(e))
      throw new Error(
        `mergeGraphs: connect maps '${d}' to '${e}', which is not an output of encoder graph '${enc.name}' (outputs: ${[...encOutputs.keys()].join(', ')})`,
      );
    checkDtype(`connect '${d}' <- '${e}'`, decInputs.get(d)!, encOutputs.get(e)!);
  }
  for (const [d, e] of Object.entries(share)) {
    if (!decInputs.has(d)) throw new Error(`mergeGraphs: shareInputs names '${d}', which is not an input of decoder graph '${dec.name}'`);
    if (!encInputs.has(e)) throw new Error(`mergeGraphs: shareInputs maps '${d}' to '${e}', which is not an input of encoder graph '${enc.name}'`);
    if (d in opts.connect) throw new Error(`mergeGraphs: decoder input '${d}' is both connected and shared`);
    checkDtype(`shareInputs '${d}' <- '${e}'`, decInputs.get(d)!, encInputs.get(e)!);
  }

  // Encoder names first: its interface keeps its names, everything else is prefixed.
  const used = new NameAllocator();
  const encInterface = new Set([...enc.inputs, ...enc.outputs].map((v) => v.name));
  const encMap = new Map<string, string>();
  for (const name of encInterface) encMap.set(name, used.fresh(name));
  for (const name of definedNames(enc)) if (!encMap.has(name)) encMap.set(name, used.fresh(pe + name));

  const decInterface = new Set([...dec.inputs, ...dec.outputs].map((v) => v.name));
  const decMap = new Map<string, string>();
  for (const [d, e] of Object.entries(opts.connect)) decMap.set(d, encMap.get(e)!);
  for (const [d, e] of Object.entries(share)) decMap.set(d, encMap.get(e)!);
  const sharedInits: string[] = [];
  const encInitConsts = new Map<string, Tensor>([...enc.initializers].filter(([k]) => !encInputs.has(k)));
  for (const [k, t] of dec.initializers) {
    if (decMap.has(k) || decInputs.has(k)) continue;
    const et = encInitConsts.get(k);
    if (et && sameTensor(et, t)) {
      decMap.set(k, encMap.get(k)!);
      sharedInits.push(k);
    }
  }
  for (const name of decInterface) if (!decMap.has(name)) decMap.set(name, used.used.has(name) ? used.fresh(pd + name) : used.fresh(name));
  for (const name of definedNames(dec)) if (!decMap.has(name)) decMap.set(name, used.fresh(pd + name));

  mapValueNames(enc, (n) => encMap.get(n));
  for (const k of sharedInits) dec.initializers.delete(k);
  mapValueNames(dec, (n) => decMap.get(n));
  const nodeNames = new NameAllocator();
  mapNodeNames(enc, (n) => nodeNames.fresh(pe + n));
  mapNodeNames(dec, (n) => nodeNames.fresh(pd + n));

  const connectedDecInputs = new Set(
    Object.keys(opts.connect)
      .concat(Object.keys(share))
      .map((d) => decMap.get(d)!),
  );
  const inputs: ValueInfo[] = [...enc.inputs, ...dec.inputs.filter((v) => !connectedDecInputs.has(v.name))];
  const outputs: ValueInfo[] = [];
  const outNames = new Set<string>();
  for (const v of [...(keepEnc ? enc.outputs : []), ...dec.outputs]) {
    if (outNames.has(v.name)) continue;
    outNames.add(v.name);
    outputs.push(v);
  }
  const initializers = new Map<string, Tensor>([...enc.initializers, ...dec.initializers]);
  const valueNames = new Set<string>();
  const valueInfo = [...enc.valueInfo, ...dec.valueInfo].filter((v) => {
    if (valueNames.has(v.name)) return false;
    valueNames.add(v.name);
    return true;
  });
  // The decoder's view of a connected encoder output becomes annotation of that value.
  for (const e of Object.values(opts.connect)) {
    const name = encMap.get(e)!;
    if (!outNames.has(name) && !valueNames.has(name)) {
      valueInfo.push({ ...encOutputs.get(e)!, name });
      valueNames.add(name);
    }
  }

  const graph: Graph = {
    name: opts.name ?? `${enc.name}+${dec.name}`,
    nodes: [...enc.nodes, ...dec.nodes],
    inputs,
    outputs,
    initializers,
    valueInfo,
  };
  return {
    irVersion: Math.max(encoder.irVersion, decoder.irVersion),
    opsetImports: unionOpsets(encoder.opsetImports, decoder.opsetImports),
    producerName: encoder.producerName || decoder.producerName,
    producerVersion: encoder.producerVersion || decoder.producerVersion,
    graph: removeDeadNodes(graph),
    metadata: { ...encoder.metadata, ...decoder.metadata },
  };
}

function checkDtype(what: string, a: ValueInfo, b: ValueInfo): void {
  if (a.dtype !== b.dtype) throw new Error(`mergeGraphs: ${what}: dtypes differ (${a.dtype} vs ${b.dtype})`);
}

/** Every value name a graph defines or mentions (inputs, outputs, initializers, node outputs), recursively. */
function definedNames(g: Graph, into: string[] = [], seen = new Set<string>()): string[] {
  const add = (n: string) => {
    if (n && !seen.has(n)) {
      seen.add(n);
      into.push(n);
    }
  };
  g.inputs.forEach((v) => add(v.name));
  g.outputs.forEach((v) => add(v.name));
  for (const k of g.initializers.keys()) add(k);
  for (const n of g.nodes) {
    n.inputs.forEach(add);
    n.outputs.forEach(add);
    for (const sg of subgraphsOf(n)) definedNames(sg, into, seen);
  }
  g.valueInfo.forEach((v) => add(v.name));
  return into;
}

export function sameTensor(a: Tensor, b: Tensor): boolean {
  if (a === b) return true;
  if (a.dtype !== b.dtype || a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) return false;
  if (Array.isArray(a.data) || Array.isArray(b.data)) {
    const x = a.data as string[];
    const y = b.data as string[];
    return x.length === y.length && x.every((s, i) => s === y[i]);
  }
  const x = toBytes(a.data);
  const y = toBytes(b.data);
  if (x.byteLength !== y.byteLength || numel(a.dims) !== numel(b.dims)) return false;
  return Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) === 0;
}

/** Union of opset imports, the highest version per domain ('' and 'ai.onnx' are one domain). */
export function unionOpsets(...lists: OpsetImport[][]): OpsetImport[] {
  const best = new Map<string, number>();
  const order: string[] = [];
  for (const list of lists) {
    for (const o of list) {
      const d = o.domain === 'ai.onnx' ? '' : o.domain;
      if (!best.has(d)) order.push(d);
      best.set(d, Math.max(best.get(d) ?? 0, o.version));
    }
  }
  return order.map((domain) => ({ domain, version: best.get(domain)! }));
}
