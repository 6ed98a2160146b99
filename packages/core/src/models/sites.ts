/**
 * Neuron sites: the output units of the model's linear layers (DESIGN.md section 4).
 *
 * A site is a MatMul (or Gemm) whose weight is an initializer, directly or through a Transpose,
 * together with its bias Add when there is one. Every linear layer counts except the LM head and
 * embeddings (embeddings are Gathers, so they never match; the head is recognised by name or by
 * feeding the `logits` output without another linear layer in between).
 *
 * Names: exporters (torch.onnx / Optimum, our GGUF importer, our tiny-model builder) name nodes
 * by module scope, `/encoder/block.0/layer.0/SelfAttention/q/MatMul`; the site name is that
 * scope dotted, `encoder.block.0.layer.0.SelfAttention.q`. When a node carries no scope, the
 * weight's parameter name is used (`model.layers.0.self_attn.q_proj.weight` -> without
 * `.weight`). Kind and layer follow from the name (T5, Llama, GPT-2, BART-style names).
 *
 * The stack prefix and the side do not trust the exporter's naming. The role of the ONNX file
 * in the folder's layout (`role`) decides the prefix: Optimum exports the T5 encoder as the bare
 * T5Stack, so its scopes read `/block.0/...` and get `encoder.` here. The side (the token axis
 * an activation lives on) comes from the graph itself: a linear whose input is computed from the
 * target tokens (`decoder_input_ids`, or a decoder file's own `input_ids`) is on the target
 * side, anything else in a seq2seq graph (the encoder stack, cross-attention k and v) on the
 * input side.
 *
 * GPT-2's `attn.c_attn` is one fused q,k,v projection: it is one site of kind `attn_qkv` (units
 * 0..D-1 are q, D..2D-1 k, 2D..3D-1 v) because a mask after the MatMul cannot be split without
 * rewriting the graph, and the pruned export must zero exactly the masked units.
 */
import type { Graph, Model, Node, Tensor } from '../onnx/types.js';
import { moduleTemplate, TEMPLATE_FAMILIES, type ExpectedLinear, type ModuleTemplate } from './module-templates.js';
import type { FileRole, SiteKind } from '../types/site-kinds.js';

export type { FileRole, SiteKind } from '../types/site-kinds.js';

export interface NeuronSite {
  /** HF-style dotted module name, e.g. encoder.block.0.layer.0.SelfAttention.q or model.layers.0.self_attn.q_proj */
  name: string;
  /** Number of output units. */
  width: number;
  /** Layer (block) index within its stack. */
  layer: number;
  stack: 'encoder' | 'decoder';
  kind: SiteKind;
  /** Token axis the site's attributions reduce over: encoder stack and cross-attention k, v = input tokens; the rest = target positions. */
  side: 'input' | 'target';
  /** Name of the MatMul/Gemm node. */
  matmul: string;
  /** Name of the weight initializer. */
  weight: string;
  /** Axis of the weight initializer that indexes output units (1 for a MatMul on [in, out]; 0 when stored [out, in] and transposed). */
  weightUnitAxis: 0 | 1;
  /** Name of the bias initializer, when the linear has one. */
  bias?: string;
  /** The linear's output value after the bias (before any mask). */
  output: string;
}

export interface FindSitesOptions {
  kinds?: SiteKind[];
  /** The file's role in the layout: decides the stack prefix of names and the side. */
  role?: FileRole;
  /** The folder's config.json: with a role, lets unnamed linear layers be named from the graph's structure. */
  config?: Record<string, unknown>;
  /**
   * Unrecognised linear layers (weights that are initializers but whose names match no known
   * module pattern): true (default) throws an error listing them; false skips them.
   */
  strict?: boolean;
  /**
   * Whether the graph is (part of) an encoder-decoder model, which allows encoder-stack sites.
   * Detected from the graph when omitted; pass it for an encoder or decoder file on its own.
   */
  seq2seq?: boolean;
}

export class SiteDetectionError extends Error {
  constructor(
    message: string,
    readonly unrecognised: string[],
  ) {
    super(message);
    this.name = 'SiteDetectionError';
  }

  /** The headline, then the unrecognised layers (the first 20) and how to skip them. */
  static listing(headline: string, unrecognised: string[]): SiteDetectionError {
    return new SiteDetectionError(
      `${headline}:\n  ` +
        unrecognised.slice(0, 20).join('\n  ') +
        (unrecognised.length > 20 ? `\n  ... and ${unrecognised.length - 20} more` : '') +
        '\nPass strict: false to skip them.',
      unrecognised,
    );
  }
}

/** Per-value consumer lists of a graph's nodes. */
export function consumersOf(graph: Graph): Map<string, Node[]> {
  const map = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) {
      if (!i) continue;
      let l = map.get(i);
      if (!l) map.set(i, (l = []));
      if (!l.includes(n)) l.push(n);
    }
  }
  return map;
}

/** `/encoder/block.0/layer.0/SelfAttention/q/MatMul` -> `encoder.block.0.layer.0.SelfAttention.q`; null without a scope. */
export function scopeName(nodeName: string): string | null {
  // A graph pass may have prefixed the exporter's name (`decoder//decoder/block.0/...`).
  const cut = nodeName.indexOf('//');
  if (!nodeName.startsWith('/') && cut > 0) nodeName = nodeName.slice(cut + 1);
  if (!nodeName.startsWith('/')) return null;
  const parts = nodeName.slice(1).split('/');
  if (parts.length < 2) return null;
  parts.pop();
  return parts.join('.');
}

/** A parameter name usable as a site name (`x.q_proj.weight` -> `x.q_proj`), or null for exporter-generated names. */
export function weightScopeName(weight: string): string | null {
  if (weight.startsWith('onnx::') || !weight.includes('.')) return null;
  return weight.replace(/\.(weight|kernel|w)$/, '');
}

interface Classified {
  kind: SiteKind;
  layer: number;
  stack: 'encoder' | 'decoder';
}

const HEAD_RE = /(^|\.)(lm_head|embed_out|output_projection)$|(^|\.)(embed_tokens|embeddings?|wte|wpe|shared)(\.|$)/;
const CROSS_RE = /^(EncDecAttention|encoder_attn|crossattention|cross_attn|cross_attention)$/i;
const ATTN_RE = /^(SelfAttention|self_attn|attn|attention|self_attention)$/i;
const FFN_RE = /^(DenseReluDense|mlp|ffn|feed_forward|block_sparse_moe|intermediate|output)$/i;

/** Kind, layer and stack of a dotted module name, or null when the name matches no known pattern. */
export function classifySiteName(name: string, isSeq2seq: boolean): Classified | null {
  const parts = name.split('.');
  const leaf = parts[parts.length - 1]!;
  const parent = parts.length >= 2 ? parts[parts.length - 2]! : '';
  const numIdx = parts.findIndex((p) => /^\d+$/.test(p));
  const layer = numIdx >= 0 ? Number(parts[numIdx]) : -1;
  if (layer < 0) return null;
  const before = parts.slice(0, numIdx);
  // Stack: an explicit encoder component before the layer index; decoder otherwise.
  const stack: 'encoder' | 'decoder' = before.includes('encoder') ? 'encoder' : 'decoder';
  if (!isSeq2seq && stack === 'encoder') return null;
  const inside = parts.slice(numIdx + 1);
  const cross = inside.some((p) => CROSS_RE.test(p));
  const attn = cross || inside.some((p) => ATTN_RE.test(p));
  const A = (k: 'q' | 'k' | 'v' | 'o'): SiteKind => (cross ? (`cross_${k}` as SiteKind) : (`attn_${k}` as SiteKind));
  let kind: SiteKind | null = null;
  if (attn) {
    if (/^(q|q_proj|query|wq)$/.test(leaf)) kind = A('q');
    else if (/^(k|k_proj|key|wk)$/.test(leaf)) kind = A('k');
    else if (/^(v|v_proj|value|wv)$/.test(leaf)) kind = A('v');
    else if (/^(o|o_proj|out_proj|c_proj|wo|dense|out)$/.test(leaf)) kind = A('o');
    else if (/^(c_attn|qkv_proj|query_key_value|Wqkv|qkv)$/.test(leaf) && !cross) kind = 'attn_qkv';
    // BERT-style attention.output.dense sits under "output": handled by the dense rule above.
  }
  if (!kind && (inside.some((p) => FFN_RE.test(p)) || FFN_RE.test(parent) || /^(fc1|fc2|c_fc|wi|wi_0|wi_1)$/.test(leaf))) {
    if (/^(wi_0|gate_proj|w1|gate)$/.test(leaf)) kind = 'ffn_gate';
    else if (/^(wi_1|up_proj|w3|up)$/.test(leaf)) kind = 'ffn_up';
    else if (/^(wi|fc1|c_fc|dense_h_to_4h|fc_in)$/.test(leaf) || (leaf === 'dense' && parent === 'intermediate')) kind = 'ffn_in';
    else if (/^(wo|fc2|c_proj|down_proj|w2|dense_4h_to_h|fc_out)$/.test(leaf) || (leaf === 'dense' && parent === 'output')) kind = 'ffn_down';
  }
  if (!kind) return null;
  return { kind, layer, stack };
}

/** The initializer behind a MatMul weight input: directly, or through a 2-D Transpose / Identity. */
function resolveWeight(graph: Graph, producer: Map<string, Node>, input: string): { weight: string; tensor: Tensor; transposed: boolean } | null {
  let name = input;
  let transposed = false;
  for (let hops = 0; hops < 3; hops++) {
    const t = graph.initializers.get(name);
    if (t) return t.dims.length === 2 ? { weight: name, tensor: t, transposed } : null;
    const p = producer.get(name);
    if (!p) return null;
    if (p.opType === 'Identity') name = p.inputs[0]!;
    else if (p.opType === 'Transpose') {
      const perm = p.attributes.perm;
      if (perm && !(perm.type === 'ints' && perm.value.length === 2 && perm.value[0] === 1 && perm.value[1] === 0)) return null;
      transposed = !transposed;
      name = p.inputs[0]!;
    } else return null;
  }
  return null;
}

interface RawLinear {
  node: Node;
  weight: string;
  weightUnitAxis: 0 | 1;
  width: number;
  bias?: string;
  output: string;
}

/** A MatMul/Gemm that is not a neuron site, and why (what `crispr inspect` shows). */
export interface NotTaken {
  node: string;
  op: string;
  why: string;
}

/** Every MatMul/Gemm of the top-level graph with an initializer weight, with its bias Add. */
export function findLinears(graph: Graph, notTaken?: NotTaken[]): RawLinear[] {
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const consumers = consumersOf(graph);
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const out: RawLinear[] = [];
  const skip = (n: Node, why: string) => notTaken?.push({ node: n.name || `(unnamed ${n.opType})`, op: n.opType, why });
  for (const n of graph.nodes) {
    if (n.opType !== 'MatMul' && n.opType !== 'Gemm') continue;
    if (n.domain && n.domain !== 'ai.onnx') continue;
    const w = resolveWeight(graph, producer, n.inputs[1]!);
    let transposed = w?.transposed ?? false;
    if (n.opType === 'Gemm') {
      const tA = n.attributes.transA;
      if (tA && tA.type === 'int' && tA.value) {
        skip(n, 'Gemm with transA: the activation is transposed, so output units are not a weight axis');
        continue;
      }
      const tB = n.attributes.transB;
      if (tB && tB.type === 'int' && tB.value) transposed = !transposed;
    }
    if (!w) {
      skip(n, 'no 2-D initializer weight (a product of two activations, e.g. attention scores or context)');
      continue;
    }
    // The weight is [in, out] as the MatMul sees it; stored [out, in] when transposed once.
    const weightUnitAxis: 0 | 1 = transposed ? 0 : 1;
    const width = w.tensor.dims[weightUnitAxis]!;
    let output = n.outputs[0]!;
    let bias: string | undefined;
    if (n.opType === 'Gemm' && n.inputs[2]) {
      const b = graph.initializers.get(n.inputs[2]);
      if (b && b.dims.length === 1 && b.dims[0] === width) bias = n.inputs[2];
      else {
        skip(n, `Gemm bias '${n.inputs[2]}' is not a [${width}] initializer, so it cannot be zeroed per unit`);
        continue;
      }
    } else {
      const cons = consumers.get(output) ?? [];
      if (cons.length === 1 && cons[0]!.opType === 'Add' && !graphOutputs.has(output)) {
        const add = cons[0]!;
        const other = add.inputs[0] === output ? add.inputs[1]! : add.inputs[0]!;
        const b = graph.initializers.get(other);
        if (b && b.dims.length === 1 && b.dims[0] === width) {
          bias = other;
          output = add.outputs[0]!;
        }
      }
    }
    out.push({ node: n, weight: w.weight, weightUnitAxis, width, ...(bias ? { bias } : {}), output });
  }
  return out;
}

/** Linear nodes from which a `logits` output is reachable without another linear layer: the LM head. */
function headNodes(graph: Graph, linears: RawLinear[]): Set<Node> {
  const logits = graph.outputs.filter((o) => /logits/.test(o.name)).map((o) => o.name);
  const heads = new Set<Node>();
  if (!logits.length) return heads;
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const linearNodes = new Set(linears.map((l) => l.node));
  const seen = new Set<string>();
  const stack = [...logits];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const p = producer.get(v);
    if (!p) continue;
    if (linearNodes.has(p)) {
      heads.add(p);
      continue;
    }
    for (const i of p.inputs) if (i) stack.push(i);
  }
  return heads;
}

/** True when the graph has a `decoder` part that consumes encoder states (seq2seq). */
function looksSeq2seq(model: Model, names: string[]): boolean {
  if (model.graph.inputs.some((i) => i.name === 'decoder_input_ids' || i.name === 'encoder_hidden_states')) return true;
  return names.some((n) => /(^|\.)encoder\./.test(n)) && names.some((n) => /(^|\.)decoder\./.test(n));
}

/**
 * Values computed from the target-token input, following data edges only (Shape and Size carry
 * no token axis). Null when the graph has no target-token input to trace from.
 */
function targetDerived(graph: Graph, role: FileRole | undefined): Set<string> | null {
  const inputs = new Set(graph.inputs.map((i) => i.name));
  const source = inputs.has('decoder_input_ids') ? 'decoder_input_ids' : role === 'decoder' || inputs.has('encoder_hidden_states') ? 'input_ids' : null;
  if (!source || !inputs.has(source)) return null;
  const reached = new Set([source]);
  for (const n of graph.nodes) {
    if (n.opType === 'Shape' || n.opType === 'Size') continue;
    if (n.inputs.some((i) => i && reached.has(i))) for (const o of n.outputs) if (o) reached.add(o);
  }
  return reached;
}

/** The name with the file role's stack prefix (`block.0...` in an encoder file -> `encoder.block.0...`), or null when the name contradicts the role. */
function withRolePrefix(name: string, role: FileRole | undefined): string | null {
  if (role !== 'encoder' && role !== 'decoder') return name;
  const parts = name.split('.');
  const numIdx = parts.findIndex((p) => /^\d+$/.test(p));
  const before = numIdx >= 0 ? parts.slice(0, numIdx) : parts.slice(0, -1);
  const other = role === 'encoder' ? 'decoder' : 'encoder';
  if (before.includes(role)) return name;
  if (before.includes(other)) return null;
  return `${role}.${name}`;
}

/** What site discovery found in one graph: the sites and the matrix products it did not take. */
export interface SiteInspection {
  sites: NeuronSite[];
  /** MatMul/Gemm nodes that are not sites, with the reason. */
  notTaken: NotTaken[];
  /** Linear layers whose module name could not be recovered (node and weight names say nothing). */
  unrecognised: string[];
  /** Sites whose names came from the graph's structure and the config (`node -> name`). */
  recovered: string[];
  /** Why structural recovery was not possible, when it was tried and failed. */
  recoveryFailure?: string;
}

/**
 * Matches unnamed linears (graph order) to the template's linears not already found by name
 * (forward order). Null, with the reason, unless count, widths and shared inputs all agree.
 */
function matchTemplate(template: ModuleTemplate, found: Set<string>, unnamed: RawLinear[]): { names: string[]; expected: ExpectedLinear[] } | string {
  const expected = template.linears.filter((e) => !found.has(e.name));
  const what = `config.json (model_type ${template.family})`;
  if (expected.length !== unnamed.length) return `${what} leaves ${expected.length} linear layer(s) unaccounted for, but ${unnamed.length} have no name`;
  const byGroup = new Map<string, string>();
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const l = unnamed[i]!;
    if (e.width !== l.width) return `in graph order, unnamed layer ${l.node.name} has width ${l.width} where ${what} expects ${e.name} of width ${e.width}`;
    if (e.sharedInput) {
      const input = l.node.inputs[0]!;
      const seen = byGroup.get(e.sharedInput);
      if (seen !== undefined && seen !== input)
        return `${e.name} should read the same tensor as the other linears of ${e.sharedInput}, but unnamed layer ${l.node.name} does not`;
      byGroup.set(e.sharedInput, input);
    }
  }
  return { names: expected.map((e) => e.name), expected };
}

/** Site discovery with its diagnostics; see findSites. Never throws for unrecognised names. */
export function inspectSites(model: Model, opts: Omit<FindSitesOptions, 'strict'> = {}): SiteInspection {
  const g = model.graph;
  const notTaken: NotTaken[] = [];
  const linears = findLinears(g, notTaken);
  const heads = headNodes(g, linears);
  const role = opts.role;
  const named = linears.map((l) => {
    const scope = scopeName(l.node.name);
    const fromWeight = weightScopeName(l.weight);
    return { l, name: scope ?? fromWeight ?? l.node.name };
  });
  const seq2seq =
    role !== undefined
      ? role !== 'decoder-only'
      : (opts.seq2seq ??
        looksSeq2seq(
          model,
          named.map((x) => x.name),
        ));
  const derived = role === 'encoder' || !seq2seq ? null : targetDerived(g, role);
  // The side is the token axis of the linear's input, read from the graph where it can be.
  const sideOf = (l: RawLinear, c: Classified): 'input' | 'target' => {
    if (role === 'encoder') return 'input';
    if (!seq2seq) return 'target';
    if (derived) return derived.has(l.node.inputs[0]!) ? 'target' : 'input';
    return c.stack === 'encoder' || c.kind === 'cross_k' || c.kind === 'cross_v' ? 'input' : 'target';
  };
  const site = (l: RawLinear, name: string, c: Classified): NeuronSite => ({
    name,
    width: l.width,
    layer: c.layer,
    stack: role === 'encoder' ? 'encoder' : c.stack,
    kind: c.kind,
    side: sideOf(l, c),
    matmul: l.node.name,
    weight: l.weight,
    weightUnitAxis: l.weightUnitAxis,
    ...(l.bias ? { bias: l.bias } : {}),
    output: l.output,
  });
  const byNode = new Map<Node, NeuronSite>();
  const unnamed: { l: RawLinear; why: string }[] = [];
  const used = new Set<string>();
  for (const { l, name: first } of named) {
    if (heads.has(l.node) || HEAD_RE.test(first)) {
      notTaken.push({
        node: l.node.name || `(unnamed ${l.node.opType})`,
        op: l.node.opType,
        why: heads.has(l.node) ? 'LM head (feeds logits with no other linear layer between)' : `embedding or LM head by name (${first})`,
      });
      continue;
    }
    // A scope that does not classify (e.g. a wrapper module) may still have a telling weight name.
    const candidates = [first, weightScopeName(l.weight)].filter((x): x is string => !!x);
    let name = '';
    let c: Classified | null = null;
    let contradicts = false;
    for (const cand of new Set(candidates)) {
      const prefixed = withRolePrefix(cand, role);
      if (prefixed === null) {
        contradicts = true;
        continue;
      }
      c = classifySiteName(prefixed, seq2seq);
      if (c) {
        name = prefixed;
        break;
      }
    }
    if (!c) {
      unnamed.push({
        l,
        why: contradicts
          ? `its name says ${role === 'encoder' ? 'decoder' : 'encoder'} but the file is the ${role}`
          : 'no module name could be recovered from the node or weight name',
      });
      continue;
    }
    if (used.has(name)) {
      // Two MatMuls with one scope (e.g. MatMul and MatMul_1): suffix by order to keep names unique.
      let i = 1;
      while (used.has(`${name}_${i}`)) i++;
      name = `${name}_${i}`;
    }
    used.add(name);
    byNode.set(l.node, site(l, name, c));
  }

  // Names from structure: only with a role (the file's stack is known) and a template for the config.
  const recovered: string[] = [];
  let recoveryFailure: string | undefined;
  if (unnamed.length && role && opts.config) {
    const template = moduleTemplate(opts.config, role);
    if (!template) recoveryFailure = `no structural template for model_type '${String(opts.config.model_type)}' (known: ${TEMPLATE_FAMILIES.join(', ')})`;
    else {
      const match = matchTemplate(
        template,
        used,
        unnamed.map((u) => u.l),
      );
      if (typeof match === 'string') recoveryFailure = match;
      else {
        match.expected.forEach((e, i) => {
          const l = unnamed[i]!.l;
          byNode.set(l.node, site(l, e.name, { kind: e.kind, layer: e.layer, stack: e.stack }));
          recovered.push(`${l.node.name} -> ${e.name}`);
        });
        unnamed.length = 0;
      }
    }
  }
  const unrecognised: string[] = [];
  for (const { l, why } of unnamed) {
    unrecognised.push(`${l.node.name || '(unnamed MatMul)'} (weight ${l.weight} [${l.width}])`);
    notTaken.push({
      node: l.node.name || `(unnamed ${l.node.opType})`,
      op: l.node.opType,
      why: recoveryFailure ? `${why}; structural recovery failed: ${recoveryFailure}` : why,
    });
  }
  // Graph order, as the linears were found.
  const sites = linears.map((l) => byNode.get(l.node)).filter((x): x is NeuronSite => !!x);
  return {
    sites: opts.kinds ? sites.filter((x) => opts.kinds!.includes(x.kind)) : sites,
    notTaken,
    unrecognised,
    recovered,
    ...(recoveryFailure ? { recoveryFailure } : {}),
  };
}

/**
 * The neuron sites of a model graph, in graph order. Throws SiteDetectionError listing the
 * unrecognised linear layers when `strict` (default).
 */
export function findSites(model: Model, opts: FindSitesOptions = {}): NeuronSite[] {
  const { sites, unrecognised } = inspectSites(model, opts);
  if (unrecognised.length && opts.strict !== false) {
    throw SiteDetectionError.listing(
      `${unrecognised.length} linear layer(s) have names that match no known module pattern (T5, Llama, GPT-2, BART/BERT-style), so their module name, kind and layer could not be recovered`,
      unrecognised,
    );
  }
  return sites;
}

/** Total neuron count of a site list. */
export function countNeurons(sites: readonly NeuronSite[]): number {
  return sites.reduce((s, x) => s + x.width, 0);
}
