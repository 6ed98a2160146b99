/**
 * ONNX graphs of a T5 encoder, decoder and Optimum-style merged decoder, emitted from a weight map
 * (t5-weights.ts) with the node names torch.onnx gives Hugging Face T5 modules.
 *
 * Naming: a node is `<module scope>/<OpType>` (`/encoder/block.0/layer.0/SelfAttention/q/MatMul`),
 * with `_1`, `_2`, ... for later nodes of the same type in the same scope, and its output is
 * `<node name>_output_0`, as the exporter writes them. Neuron-site detection reads these scopes:
 * encoder self-attention is layer.0 and the FFN layer.1; decoder self-attention layer.0,
 * cross-attention (EncDecAttention) layer.1, FFN layer.2; the LM head is `/lm_head/MatMul`.
 * Weights are initializers named like the HF state dict, stored [in, out] (see t5-weights.ts).
 *
 * Math (HF T5 in eval mode): T5LayerNorm x * 1/sqrt(mean(x^2) + eps) * w (no mean, no bias);
 * attention scores q k^T without 1/sqrt(d_kv), plus a relative position bias computed once in
 * block 0 of each stack and shared by all its layers (bidirectional buckets in the encoder,
 * unidirectional in the decoder); cross-attention has no position bias; additive masks use
 * float32's lowest value like HF; dropout omitted; tied LM head scales by d_model^-0.5.
 *
 * Relative position buckets: the graph computes rel = key_pos - query_pos from Range over the
 * dynamic lengths, clips it to [-max_distance, max_distance] and gathers from a precomputed int64
 * table (`encoder.relative_position_bucket_table`): exact for any sequence length, without the
 * float Log/Div/Cast chain the PyTorch exporter emits (which can round differently per runtime).
 */
import type { Dim, Graph, Tensor } from '../../onnx/types.js';
import { emptyGraph, emptyModel, type Model } from '../../onnx/types.js';
import { GraphBuilder, type AttrInput } from '../../onnx/builder.js';
import { tensor } from '../../onnx/tensor.js';
import type { ResolvedT5Config } from './t5-config.js';
import { attentionWeightNames, bucketTableName, ffnWeightNames, type T5Weights } from './t5-weights.js';

export const T5_OPSET = 17;
/** HF's additive mask value: torch.finfo(float32).min. */
const MASK_MIN = -3.4028234663852886e38;

/** Emits nodes with exporter-style scoped names; constants go to a (possibly outer) graph. */
class Emitter {
  private counts = new Map<string, number>();
  private constCache = new Map<string, string>();

  constructor(
    readonly nodes: GraphBuilder,
    readonly consts: GraphBuilder,
  ) {}

  private nodeName(scope: string, opType: string): string {
    const base = `${scope}/${opType}`;
    const n = this.counts.get(base) ?? 0;
    this.counts.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  }

  op(scope: string, opType: string, inputs: string[], attrs: Record<string, AttrInput | undefined> = {}, output?: string): string {
    const name = this.nodeName(scope, opType);
    return this.nodes.op(opType, inputs, attrs, { name, output: output ?? `${name}_output_0` });
  }

  private cached(key: string, make: () => Tensor, hint: string): string {
    let name = this.constCache.get(key);
    if (!name) {
      name = this.consts.constant(make(), hint);
      this.constCache.set(key, name);
    }
    return name;
  }

  /** float32 scalar constant. */
  f(value: number): string {
    return this.cached(`f:${value}`, () => tensor('float32', [], [value]), 'const_f32');
  }

  /** int64 scalar constant. */
  i(value: number): string {
    return this.cached(`i:${value}`, () => tensor('int64', [], [value]), 'const_i64');
  }

  /** int64 1-D constant (shapes, axes). */
  ints(values: number[]): string {
    return this.cached(`is:${values.join(',')}`, () => tensor('int64', [values.length], values), 'const_i64s');
  }
}

interface Ctx {
  e: Emitter;
  r: ResolvedT5Config;
}

function rmsNorm({ e, r }: Ctx, scope: string, x: string, weight: string, output?: string): string {
  const sq = e.op(scope, 'Pow', [x, e.f(2)]);
  const variance = e.op(scope, 'ReduceMean', [sq], { axes: [-1], keepdims: 1 });
  const plusEps = e.op(scope, 'Add', [variance, e.f(r.layerNormEpsilon)]);
  const root = e.op(scope, 'Sqrt', [plusEps]);
  const inv = e.op(scope, 'Div', [e.f(1), root]);
  const normed = e.op(scope, 'Mul', [x, inv]);
  return e.op(scope, 'Mul', [weight, normed], {}, output);
}

/** [B, T, H*dkv] -> [B, H, T, dkv] */
function splitHeads({ e, r }: Ctx, scope: string, x: string, output?: string): string {
  const shaped = e.op(scope, 'Reshape', [x, e.ints([0, -1, r.numHeads, r.dKv])]);
  return e.op(scope, 'Transpose', [shaped], { perm: [0, 2, 1, 3] }, output);
}

interface AttentionIO {
  /** Normalised hidden states the queries come from, [B, T, d]. */
  x: string;
  /** Source of keys/values for cross-attention ([B, S, d]); null for self-attention. */
  kvSource: string | null;
  /** Ready keys/values [B, H, K, dkv] (cross-attention with cache): skip the k and v projections. */
  givenKV?: { k: string; v: string };
  /** Past keys/values [B, H, P, dkv] to prepend (self-attention with cache). */
  pastKV?: { k: string; v: string };
  /** Additive bias broadcastable to [B, H, T, K]. */
  bias: string;
  /** Output names for the (full) key and value tensors [B, H, K, dkv], when they are graph outputs. */
  presentNames?: { k: string; v: string };
  output?: string;
}

interface AttentionResult {
  out: string;
  k: string;
  v: string;
}

function attention(ctx: Ctx, scope: string, weightPrefix: string, io: AttentionIO): AttentionResult {
  const { e, r } = ctx;
  const w = attentionWeightNames(weightPrefix);
  const q = splitHeads(ctx, scope, e.op(`${scope}/q`, 'MatMul', [io.x, w.q]));
  let k: string;
  let v: string;
  if (io.givenKV) {
    k = io.givenKV.k;
    v = io.givenKV.v;
  } else {
    const src = io.kvSource ?? io.x;
    const past = io.pastKV;
    k = splitHeads(ctx, scope, e.op(`${scope}/k`, 'MatMul', [src, w.k]), past ? undefined : io.presentNames?.k);
    v = splitHeads(ctx, scope, e.op(`${scope}/v`, 'MatMul', [src, w.v]), past ? undefined : io.presentNames?.v);
    if (past) {
      k = e.op(scope, 'Concat', [past.k, k], { axis: 2 }, io.presentNames?.k);
      v = e.op(scope, 'Concat', [past.v, v], { axis: 2 }, io.presentNames?.v);
    }
  }
  const kT = e.op(scope, 'Transpose', [k], { perm: [0, 1, 3, 2] });
  const scores = e.op(scope, 'MatMul', [q, kT]);
  const biased = e.op(scope, 'Add', [scores, io.bias]);
  const probs = e.op(scope, 'Softmax', [biased], { axis: -1 });
  const ctxv = e.op(scope, 'MatMul', [probs, v]);
  const merged = e.op(scope, 'Transpose', [ctxv], { perm: [0, 2, 1, 3] });
  const flat = e.op(scope, 'Reshape', [merged, e.ints([0, -1, r.numHeads * r.dKv])]);
  const out = e.op(`${scope}/o`, 'MatMul', [flat, w.o], {}, io.output);
  return { out, k, v };
}

function feedForward(ctx: Ctx, scope: string, weightPrefix: string, x: string): string {
  const { e, r } = ctx;
  const gated = r.feedForwardProj === 'gated-gelu';
  const w = ffnWeightNames(weightPrefix, gated);
  let hidden: string;
  if (gated) {
    const h0 = e.op(`${scope}/wi_0`, 'MatMul', [x, w.wi[0]!]);
    const act = geluNew(ctx, `${scope}/act`, h0);
    const h1 = e.op(`${scope}/wi_1`, 'MatMul', [x, w.wi[1]!]);
    hidden = e.op(scope, 'Mul', [act, h1]);
  } else {
    const h = e.op(`${scope}/wi`, 'MatMul', [x, w.wi[0]!]);
    hidden = e.op(`${scope}/act`, 'Relu', [h]);
  }
  return e.op(`${scope}/wo`, 'MatMul', [hidden, w.wo]);
}

/** gelu_new (tanh approximation): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
function geluNew({ e }: Ctx, scope: string, x: string): string {
  const cube = e.op(scope, 'Pow', [x, e.f(3)]);
  const scaledCube = e.op(scope, 'Mul', [cube, e.f(0.044715)]);
  const inner = e.op(scope, 'Add', [x, scaledCube]);
  const arg = e.op(scope, 'Mul', [inner, e.f(Math.sqrt(2 / Math.PI))]);
  const th = e.op(scope, 'Tanh', [arg]);
  const onePlus = e.op(scope, 'Add', [th, e.f(1)]);
  const half = e.op(scope, 'Mul', [x, e.f(0.5)]);
  return e.op(scope, 'Mul', [half, onePlus]);
}

/** (1 - mask) * float32_min, shaped [B, 1, 1, S]. */
function paddingBias({ e }: Ctx, scope: string, mask: string): string {
  const asFloat = e.op(scope, 'Cast', [mask], { to: 1 });
  const unsq = e.op(scope, 'Unsqueeze', [asFloat, e.ints([1, 2])]);
  const inverted = e.op(scope, 'Sub', [e.f(1), unsq]);
  return e.op(scope, 'Mul', [inverted, e.f(MASK_MIN)]);
}

/** Scalar length of axis 1 of a [B, T, ...] tensor. */
function axisLength({ e }: Ctx, scope: string, x: string, axis: number): string {
  const shape = e.op(scope, 'Shape', [x]);
  return e.op(scope, 'Gather', [shape, e.i(axis)], { axis: 0 });
}

/**
 * Relative position bias [1, H, T, K] for queries at positions past .. past+T-1 and keys at
 * 0 .. past+T-1, plus (decoder) the causal mask. Returns also nothing else: T5 shares it by layer.
 */
function positionBias(ctx: Ctx, scope: string, stack: 'encoder' | 'decoder', queryLen: string, pastLen: string | null): string {
  const { e, r } = ctx;
  const maxd = r.relativeAttentionMaxDistance;
  const keyLen = pastLen ? e.op(scope, 'Add', [pastLen, queryLen]) : queryLen;
  const queryPos = e.op(scope, 'Range', [pastLen ?? e.i(0), keyLen, e.i(1)]);
  const keyPos = pastLen ? e.op(scope, 'Range', [e.i(0), keyLen, e.i(1)]) : queryPos;
  const keyRow = e.op(scope, 'Unsqueeze', [keyPos, e.ints([0])]);
  const queryCol = e.op(scope, 'Unsqueeze', [queryPos, e.ints([1])]);
  const rel = e.op(scope, 'Sub', [keyRow, queryCol]);
  const lo = e.op(scope, 'Max', [rel, e.i(-maxd)]);
  const clipped = e.op(scope, 'Min', [lo, e.i(maxd)]);
  const index = e.op(scope, 'Add', [clipped, e.i(maxd)]);
  const bucket = e.op(scope, 'Gather', [bucketTableName(stack), index], { axis: 0 });
  const values = e.op(`${scope}/relative_attention_bias`, 'Gather', [`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`, bucket], {
    axis: 0,
  });
  const perm = e.op(scope, 'Transpose', [values], { perm: [2, 0, 1] });
  const bias = e.op(scope, 'Unsqueeze', [perm, e.ints([0])]);
  if (stack === 'encoder') return bias;
  const future = e.op(scope, 'Greater', [keyRow, queryCol]);
  const causal = e.op(scope, 'Where', [future, e.f(MASK_MIN), e.f(0)]);
  return e.op(scope, 'Add', [bias, causal]);
}

function embed({ e }: Ctx, scope: string, ids: string): string {
  return e.op(scope, 'Gather', ['shared.weight', ids], { axis: 0 });
}

/** Encoder graph body: returns last_hidden_state. */
function emitEncoder(ctx: Ctx, inputIds: string, attentionMask: string): string {
  const { r } = ctx;
  let x = embed(ctx, '/encoder/embed_tokens', inputIds);
  const s0 = '/encoder/block.0/layer.0/SelfAttention';
  const len = axisLength(ctx, s0, inputIds, 1);
  const rel = positionBias(ctx, s0, 'encoder', len, null);
  const bias = ctx.e.op('/encoder', 'Add', [rel, paddingBias(ctx, '/encoder', attentionMask)]);
  for (let i = 0; i < r.numLayers; i++) {
    const blk = `/encoder/block.${i}`;
    const wb = `encoder.block.${i}`;
    const n0 = rmsNorm(ctx, `${blk}/layer.0/layer_norm`, x, `${wb}.layer.0.layer_norm.weight`);
    const a = attention(ctx, `${blk}/layer.0/SelfAttention`, `${wb}.layer.0.SelfAttention`, { x: n0, kvSource: null, bias });
    x = ctx.e.op(`${blk}/layer.0`, 'Add', [x, a.out]);
    const n1 = rmsNorm(ctx, `${blk}/layer.1/layer_norm`, x, `${wb}.layer.1.layer_norm.weight`);
    const f = feedForward(ctx, `${blk}/layer.1/DenseReluDense`, `${wb}.layer.1.DenseReluDense`, n1);
    x = ctx.e.op(`${blk}/layer.1`, 'Add', [x, f]);
  }
  return rmsNorm(ctx, '/encoder/final_layer_norm', x, 'encoder.final_layer_norm.weight', 'last_hidden_state');
}

export interface DecoderPast {
  /** Per decoder layer: past self-attention keys/values and cross-attention keys/values, [B, H, *, dkv]. */
  decoderKey: string[];
  decoderValue: string[];
  encoderKey: string[];
  encoderValue: string[];
}

export const presentName = (layer: number, side: 'decoder' | 'encoder', kv: 'key' | 'value') => `present.${layer}.${side}.${kv}`;
export const pastName = (layer: number, side: 'decoder' | 'encoder', kv: 'key' | 'value') => `past_key_values.${layer}.${side}.${kv}`;

/**
 * Decoder body. Without `past`: full computation; with it: one step using the cache (queries only
 * for the new tokens, cross-attention keys/values taken from the cache). `presents` names the
 * present.* outputs (merged decoder branches).
 */
function emitDecoder(ctx: Ctx, io: { inputIds: string; encoderHidden: string; encoderMask: string; past?: DecoderPast; presents: boolean }): string {
  const { e, r } = ctx;
  let x = embed(ctx, '/decoder/embed_tokens', io.inputIds);
  const s0 = '/decoder/block.0/layer.0/SelfAttention';
  const len = axisLength(ctx, s0, io.inputIds, 1);
  const pastLen = io.past ? axisLength(ctx, s0, io.past.decoderKey[0]!, 2) : null;
  const selfBias = positionBias(ctx, s0, 'decoder', len, pastLen);
  const crossBias = paddingBias(ctx, '/decoder/block.0/layer.1/EncDecAttention', io.encoderMask);
  for (let i = 0; i < r.numDecoderLayers; i++) {
    const blk = `/decoder/block.${i}`;
    const wb = `decoder.block.${i}`;
    const n0 = rmsNorm(ctx, `${blk}/layer.0/layer_norm`, x, `${wb}.layer.0.layer_norm.weight`);
    const selfAttn = attention(ctx, `${blk}/layer.0/SelfAttention`, `${wb}.layer.0.SelfAttention`, {
      x: n0,
      kvSource: null,
      bias: selfBias,
      ...(io.past ? { pastKV: { k: io.past.decoderKey[i]!, v: io.past.decoderValue[i]! } } : {}),
      ...(io.presents ? { presentNames: { k: presentName(i, 'decoder', 'key'), v: presentName(i, 'decoder', 'value') } } : {}),
    });
    x = e.op(`${blk}/layer.0`, 'Add', [x, selfAttn.out]);
    const n1 = rmsNorm(ctx, `${blk}/layer.1/layer_norm`, x, `${wb}.layer.1.layer_norm.weight`);
    const crossScope = `${blk}/layer.1/EncDecAttention`;
    const cross = attention(ctx, crossScope, `${wb}.layer.1.EncDecAttention`, {
      x: n1,
      kvSource: io.encoderHidden,
      bias: crossBias,
      ...(io.past ? { givenKV: { k: io.past.encoderKey[i]!, v: io.past.encoderValue[i]! } } : {}),
      ...(io.presents && !io.past ? { presentNames: { k: presentName(i, 'encoder', 'key'), v: presentName(i, 'encoder', 'value') } } : {}),
    });
    if (io.presents && io.past) {
      // The cache already holds the cross-attention keys/values: pass them through.
      e.op(crossScope, 'Identity', [io.past.encoderKey[i]!], {}, presentName(i, 'encoder', 'key'));
      e.op(crossScope, 'Identity', [io.past.encoderValue[i]!], {}, presentName(i, 'encoder', 'value'));
    }
    x = e.op(`${blk}/layer.1`, 'Add', [x, cross.out]);
    const n2 = rmsNorm(ctx, `${blk}/layer.2/layer_norm`, x, `${wb}.layer.2.layer_norm.weight`);
    const f = feedForward(ctx, `${blk}/layer.2/DenseReluDense`, `${wb}.layer.2.DenseReluDense`, n2);
    x = e.op(`${blk}/layer.2`, 'Add', [x, f]);
  }
  let h = rmsNorm(ctx, '/decoder/final_layer_norm', x, 'decoder.final_layer_norm.weight');
  if (r.tieWordEmbeddings) h = e.op('', 'Mul', [h, e.f(r.dModel ** -0.5)]);
  return e.op('/lm_head', 'MatMul', [h, 'lm_head.weight'], {}, 'logits');
}

function addWeights(b: GraphBuilder, weights: T5Weights, names: Iterable<string>): void {
  for (const n of names) {
    const t = weights.get(n);
    if (!t) throw new Error(`T5 builder: weight '${n}' is missing from the weight map`);
    // The names were reserved up front (so no node output takes them); add them directly.
    if (b.graph.initializers.has(n)) throw new Error(`T5 builder: initializer '${n}' added twice`);
    b.graph.initializers.set(n, t);
  }
}

/** Initializers a graph's nodes reference (including If branches), in first-use order. */
function referencedWeights(graphs: Graph[], weights: T5Weights): string[] {
  const seen = new Set<string>();
  const visit = (g: Graph) => {
    for (const n of g.nodes) {
      for (const i of n.inputs) if (weights.has(i)) seen.add(i);
      for (const a of Object.values(n.attributes)) {
        if (a.type === 'graph') visit(a.value);
        else if (a.type === 'graphs') a.value.forEach(visit);
      }
    }
  };
  graphs.forEach(visit);
  return [...seen];
}

/** Adds the weights the emitted nodes use (their names were reserved before emitting). */
function finish(model: Model, b: GraphBuilder, weights: T5Weights, subgraphs: Graph[] = []): Model {
  addWeights(b, weights, referencedWeights([model.graph, ...subgraphs], weights));
  return model;
}

const hiddenDims = (r: ResolvedT5Config, len: string): Dim[] => ['batch_size', len, r.dModel];

export function buildT5Encoder(r: ResolvedT5Config, weights: T5Weights): Model {
  const model = emptyModel(T5_OPSET, 'main_graph');
  const b = new GraphBuilder(model.graph);
  b.reserve(...weights.keys());
  const ids = b.input('input_ids', 'int64', ['batch_size', 'encoder_sequence_length']);
  const mask = b.input('attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const ctx: Ctx = { e: new Emitter(b, b), r };
  const out = emitEncoder(ctx, ids, mask);
  b.output(out, 'float32', hiddenDims(r, 'encoder_sequence_length'));
  return finish(model, b, weights);
}

function decoderInputs(b: GraphBuilder, r: ResolvedT5Config) {
  const encoderMask = b.input('encoder_attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const inputIds = b.input('input_ids', 'int64', ['batch_size', 'decoder_sequence_length']);
  const encoderHidden = b.input('encoder_hidden_states', 'float32', hiddenDims(r, 'encoder_sequence_length'));
  return { encoderMask, inputIds, encoderHidden };
}

const logitsDims = (r: ResolvedT5Config): Dim[] => ['batch_size', 'decoder_sequence_length', r.vocabSize];

/** decoder_model.onnx: full decoder without cache; inputs encoder_attention_mask, input_ids, encoder_hidden_states; output logits. */
export function buildT5Decoder(r: ResolvedT5Config, weights: T5Weights): Model {
  const model = emptyModel(T5_OPSET, 'main_graph');
  const b = new GraphBuilder(model.graph);
  b.reserve(...weights.keys());
  const inputs = decoderInputs(b, r);
  const logits = emitDecoder({ e: new Emitter(b, b), r }, { ...inputs, presents: false });
  b.output(logits, 'float32', logitsDims(r));
  return finish(model, b, weights);
}

/**
 * decoder_model_merged.onnx in Optimum's layout: the decoder inputs plus, per layer,
 * past_key_values.{i}.decoder.{key,value} [batch_size, H, past_decoder_sequence_length, d_kv] and
 * past_key_values.{i}.encoder.{key,value} [batch_size, H, encoder_sequence_length_out, d_kv], and
 * use_cache_branch (bool [1]); one If node `optimum::if` whose else branch is the full no-cache
 * decoder (pasts ignored) and whose then branch runs one cached step. Outputs logits and
 * present.{i}.{decoder,encoder}.{key,value}. Weights and constants live in the outer graph; the
 * branches only reference them.
 *
 * What Optimum's own merged file holds (optimum.onnx merge_decoders): the exported decoder_model
 * (no past) becomes else_branch and decoder_with_past_model then_branch of one If node named
 * `optimum::if` on the bool input `use_cache_branch`; initializers common to both are deduplicated
 * into the outer graph; both branches declare the outer outputs by the same names; outputs one
 * branch lacks are filled with empty constants: the with-past branch does not recompute the
 * cross-attention cache, so its present.*.encoder.* are empty tensors, and transformers.js keeps
 * the previous encoder cache whenever a cache is passed in (getPastKeyValues). Here the cached
 * branch passes the encoder cache through (Identity) instead, which transformers.js treats the same
 * and which leaves a usable cache for callers that read present.* directly. To get the plain
 * decoder back, take else_branch (the no-cache decoder with present outputs).
 */
export function buildT5MergedDecoder(r: ResolvedT5Config, weights: T5Weights): Model {
  const model = emptyModel(T5_OPSET, 'main_graph');
  const b = new GraphBuilder(model.graph);
  b.reserve(...weights.keys());
  const inputs = decoderInputs(b, r);
  const past: DecoderPast = { decoderKey: [], decoderValue: [], encoderKey: [], encoderValue: [] };
  for (let i = 0; i < r.numDecoderLayers; i++) {
    const decDims: Dim[] = ['batch_size', r.numHeads, 'past_decoder_sequence_length', r.dKv];
    const encDims: Dim[] = ['batch_size', r.numHeads, 'encoder_sequence_length_out', r.dKv];
    past.decoderKey.push(b.input(pastName(i, 'decoder', 'key'), 'float32', decDims));
    past.decoderValue.push(b.input(pastName(i, 'decoder', 'value'), 'float32', decDims));
    past.encoderKey.push(b.input(pastName(i, 'encoder', 'key'), 'float32', encDims));
    past.encoderValue.push(b.input(pastName(i, 'encoder', 'value'), 'float32', encDims));
  }
  const useCache = b.input('use_cache_branch', 'bool', [1]);

  const outputs: { name: string; dims: Dim[] }[] = [{ name: 'logits', dims: logitsDims(r) }];
  for (let i = 0; i < r.numDecoderLayers; i++) {
    for (const kv of ['key', 'value'] as const)
      outputs.push({ name: presentName(i, 'decoder', kv), dims: ['batch_size', r.numHeads, 'present_decoder_sequence_length', r.dKv] });
    for (const kv of ['key', 'value'] as const)
      outputs.push({ name: presentName(i, 'encoder', kv), dims: ['batch_size', r.numHeads, 'encoder_sequence_length_out', r.dKv] });
  }
  // Present order as Optimum: per layer decoder.key, decoder.value, encoder.key, encoder.value.
  outputs.sort((a, c) => order(a.name) - order(c.name));

  const outerNames = [...weights.keys(), ...model.graph.inputs.map((v) => v.name)];
  const branch = (name: string, withPast: boolean): Graph => {
    const g = emptyGraph(name);
    const gb = new GraphBuilder(g);
    gb.reserve(...outerNames);
    const ctx: Ctx = { e: new Emitter(gb, b), r };
    emitDecoder(ctx, { ...inputs, ...(withPast ? { past } : {}), presents: true });
    for (const o of outputs) g.outputs.push({ name: o.name, dtype: 'float32', shape: null });
    return g;
  };
  const withPast = branch('decoder_with_past', true);
  const noPast = branch('decoder_no_past', false);
  b.node('If', [useCache], { then_branch: withPast, else_branch: noPast }, { name: 'optimum::if', outputs: outputs.map((o) => o.name) });
  for (const o of outputs) b.output(o.name, 'float32', o.dims);
  return finish(model, b, weights, [withPast, noPast]);
}

function order(name: string): number {
  if (name === 'logits') return -1;
  const m = /^present\.(\d+)\.(decoder|encoder)\.(key|value)$/.exec(name)!;
  return Number(m[1]) * 4 + (m[2] === 'decoder' ? 0 : 2) + (m[3] === 'key' ? 0 : 1);
}
