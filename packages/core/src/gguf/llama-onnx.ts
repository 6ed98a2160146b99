/**
 * Build a Hugging Face-style Llama ONNX graph (standard ONNX ops, opset 17, no KV cache) from a
 * Llama-family GGUF file.
 *
 * Inputs `input_ids` and `attention_mask` [batch, seq] int64; output `logits`
 * [batch, seq, vocab] float32. Position ids are derived from the mask (cumsum - 1, floored at
 * 0, the Hugging Face rule), so left and right padding both work.
 *
 * Weight layout: every linear weight is an initializer with the Hugging Face parameter name
 * (`model.layers.0.self_attn.q_proj.weight`, ..., `lm_head.weight`) stored TRANSPOSED as
 * [in, out], so the MatMul `/model/layers.0/self_attn/q_proj/MatMul` consumes it directly (the
 * layout torch/Optimum exports use). The Hugging Face tensor is its transpose.
 *
 * Rotary embeddings: GGUF stores q/k rows for llama.cpp's "normal" rope, which rotates
 * interleaved pairs (2j, 2j+1) of each head. Hugging Face Llama rotates halves (j, j + d/2)
 * ("rotate_half"). The importer moves row 2j+p of each q/k head to row p*d/2+j (the inverse of
 * the permutation llama.cpp's converter applies to Hugging Face checkpoints), so q_proj/k_proj
 * equal the Hugging Face weights and the graph uses rotate_half; attention scores are unchanged
 * because q and k are permuted alike.
 */
import { GraphBuilder, type AttrInput } from '../onnx/builder.js';
import { tensor } from '../onnx/tensor.js';
import { emptyModel, type Model, type Tensor } from '../onnx/types.js';
import { GgufError, meta, metaNumber, metaString, tensorData, type GgufFile, type GgufTensorInfo } from './reader.js';

export const LLAMA_OPSET = 17;

/** Hugging Face LlamaConfig fields (config.json). */
export interface LlamaConfig {
  architectures: string[];
  model_type: 'llama';
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  num_hidden_layers: number;
  head_dim: number;
  hidden_act: 'silu';
  rms_norm_eps: number;
  rope_theta: number;
  vocab_size: number;
  max_position_embeddings: number;
  bos_token_id: number | null;
  eos_token_id: number | null;
  pad_token_id?: number | null;
  tie_word_embeddings: boolean;
  attention_bias: false;
  mlp_bias: false;
  torch_dtype: 'float32';
  use_cache: false;
  [key: string]: unknown;
}

/** Shortest decimal that rounds to the same float32 (GGUF stores eps as float32). */
function float32Decimal(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const d = Number(x.toPrecision(p));
    if (Math.fround(d) === Math.fround(x)) return d;
  }
  return x;
}

function checkArch(file: GgufFile): string {
  const arch = metaString(file, 'general.architecture');
  if (arch !== 'llama') {
    throw new GgufError(`${file.source}: general.architecture is '${arch}'; only 'llama' GGUF files can be imported`);
  }
  return arch;
}

/** The Hugging Face LlamaConfig of a GGUF file. */
export function llamaConfigFromGguf(file: GgufFile): LlamaConfig {
  const arch = checkArch(file);
  const k = (s: string) => `${arch}.${s}`;
  const hidden = metaNumber(file, k('embedding_length'));
  const heads = metaNumber(file, k('attention.head_count'));
  const kvHeads = metaNumber(file, k('attention.head_count_kv'), heads);
  if (hidden % heads !== 0) throw new GgufError(`${file.source}: embedding_length ${hidden} is not divisible by head_count ${heads}`);
  if (heads % kvHeads !== 0) throw new GgufError(`${file.source}: head_count ${heads} is not a multiple of head_count_kv ${kvHeads}`);
  const headDim = metaNumber(file, k('attention.key_length'), hidden / heads);
  if (headDim !== hidden / heads) throw new GgufError(`${file.source}: attention.key_length ${headDim} differs from embedding_length / head_count`);
  if (headDim % 2 !== 0) throw new GgufError(`${file.source}: head size ${headDim} is odd; rotary embeddings need pairs`);
  const ropeDims = metaNumber(file, k('rope.dimension_count'), headDim);
  if (ropeDims !== headDim) {
    throw new GgufError(`${file.source}: rope.dimension_count ${ropeDims} differs from the head size ${headDim}; partial rotary embeddings are not supported`);
  }
  const scaling = meta(file, k('rope.scaling.type'));
  if (scaling !== undefined && scaling !== 'none') {
    throw new GgufError(`${file.source}: rope.scaling.type '${String(scaling)}' is not supported`);
  }
  const embed = file.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embed) throw new GgufError(`${file.source}: tensor 'token_embd.weight' not found`);
  const vocab = embed.shape[0]!;
  const id = (key: string): number | null => {
    const v = meta(file, key);
    if (v === undefined) return null;
    const x = metaNumber(file, key);
    return x >= 0 && x < vocab ? x : null;
  };
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: hidden,
    intermediate_size: metaNumber(file, k('feed_forward_length')),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    num_hidden_layers: metaNumber(file, k('block_count')),
    head_dim: headDim,
    hidden_act: 'silu',
    rms_norm_eps: float32Decimal(metaNumber(file, k('attention.layer_norm_rms_epsilon'))),
    rope_theta: metaNumber(file, k('rope.freq_base'), 10000),
    vocab_size: vocab,
    max_position_embeddings: metaNumber(file, k('context_length'), 2048),
    bos_token_id: id('tokenizer.ggml.bos_token_id'),
    eos_token_id: id('tokenizer.ggml.eos_token_id'),
    pad_token_id: id('tokenizer.ggml.padding_token_id'),
    tie_word_embeddings: !file.tensors.some((t) => t.name === 'output.weight'),
    attention_bias: false,
    mlp_bias: false,
    torch_dtype: 'float32',
    use_cache: false,
  };
}

/** [out, in] row-major -> [in, out] row-major. */
function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}

/** Reorder q/k rows from interleaved-pair rope layout to rotate-half layout, per head. */
export function interleavedToHalfRows(w: Float32Array, nHeads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let j = 0; j < half; j++) {
      for (let p = 0; p < 2; p++) {
        const src = (h * headDim + 2 * j + p) * cols;
        const dst = (h * headDim + p * half + j) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

export interface LlamaOnnxResult {
  model: Model;
  config: LlamaConfig;
  /** GGUF tensors read, by name. */
  tensorsUsed: string[];
}

/**
 * Build the ONNX model. Every GGUF tensor must be consumed: an unknown tensor is an error
 * rather than silently dropped weights.
 */
export interface LlamaOnnxOptions {
  /**
   * Build the Optimum `decoder_with_past_model` form: inputs `past_key_values.<l>.key|value`
   * [batch, kv_heads, past, head_dim] and `attention_mask` over past + new tokens, outputs
   * `present.<l>.key|value` (past and new keys/values, keys after rotary). Node and value names
   * are those of the plain graph, so the same neuron sites apply.
   */
  past?: boolean;
}

export function buildLlamaOnnx(file: GgufFile, opts: LlamaOnnxOptions = {}): LlamaOnnxResult {
  const cfg = llamaConfigFromGguf(file);
  const D = cfg.hidden_size;
  const H = cfg.num_attention_heads;
  const KV = cfg.num_key_value_heads;
  const G = H / KV;
  const hd = cfg.head_dim;
  const F = cfg.intermediate_size;
  const V = cfg.vocab_size;

  const used = new Set<string>();
  const info = (name: string, shape: number[]): GgufTensorInfo => {
    const t = file.tensors.find((x) => x.name === name);
    if (!t) throw new GgufError(`${file.source}: tensor '${name}' not found`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new GgufError(`${file.source}: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    used.add(name);
    return t;
  };
  const data = (name: string, shape: number[]) => tensorData(file, info(name, shape));

  const model = emptyModel(LLAMA_OPSET, 'llama');
  model.metadata = {
    source: 'gguf',
    'general.architecture': 'llama',
    ...(typeof meta(file, 'general.name') === 'string' ? { 'general.name': meta(file, 'general.name') as string } : {}),
  };
  const b = new GraphBuilder(model.graph);
  const op = (type: string, inputs: string[], name: string, attrs: Record<string, AttrInput | undefined> = {}) => b.op(type, inputs, attrs, { name });
  const f32 = (dims: number[], v: ArrayLike<number>): Tensor => tensor('float32', dims, v);

  // A linear layer: [.., in] x [in, out]; weight stored transposed under the HF name.
  const linear = (x: string, ggufName: string, hfScope: string, out: number, inn: number, rows?: (w: Float32Array) => Float32Array) => {
    let w = data(ggufName, [out, inn]);
    if (rows) w = rows(w);
    const wName = b.initializer(`${hfScope.slice(1).replaceAll('/', '.')}.weight`, f32([inn, out], transpose2d(w, out, inn)));
    return op('MatMul', [x, wName], `${hfScope}/MatMul`);
  };
  const rmsNorm = (x: string, ggufName: string, scope: string) => {
    const w = b.initializer(`${scope.slice(1).replaceAll('/', '.')}.weight`, f32([D], data(ggufName, [D])));
    const sq = op('Pow', [x, b.scalar(2, 'float32', `${scope}/Constant_2`)], `${scope}/Pow`);
    const mean = op('ReduceMean', [sq], `${scope}/ReduceMean`, { axes: [-1], keepdims: 1 });
    const plus = op('Add', [mean, b.scalar(Math.fround(cfg.rms_norm_eps), 'float32', `${scope}/Constant_eps`)], `${scope}/Add`);
    const rms = op('Sqrt', [plus], `${scope}/Sqrt`);
    const normed = op('Div', [x, rms], `${scope}/Div`);
    return op('Mul', [w, normed], `${scope}/Mul`);
  };

  const past = opts.past === true;
  const inputIds = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const mask = b.input('attention_mask', 'int64', ['batch_size', past ? 'total_sequence_length' : 'sequence_length']);
  const pastKv = (l: number, kind: 'key' | 'value') => b.input(`past_key_values.${l}.${kind}`, 'float32', ['batch_size', KV, 'past_sequence_length', hd]);

  // Embeddings.
  const embW = b.initializer('model.embed_tokens.weight', f32([V, D], data('token_embd.weight', [V, D])));
  let hidden = op('Gather', [embW, inputIds], '/model/embed_tokens/Gather', { axis: 0 });

  // Positions from the mask: cumsum - 1, floored at 0 (padding positions get 0).
  const cum = op('CumSum', [mask, b.scalar(1, 'int64', '/model/pos/axis')], '/model/pos/CumSum');
  const cumF = op('Cast', [cum], '/model/pos/Cast', { to: 1 });
  let posF = op('Relu', [op('Sub', [cumF, b.scalar(1, 'float32', '/model/pos/one')], '/model/pos/Sub')], '/model/pos/Relu');
  // With a past, the new tokens' positions are the mask's last sequence_length columns.
  const seqLen = op('Gather', [op('Shape', [inputIds], '/model/mask/Shape'), b.scalar(1, 'int64', '/model/mask/one')], '/model/mask/Gather', { axis: 0 });
  if (past) {
    const seqLen1 = op('Unsqueeze', [seqLen, b.ints([0], '/model/pos/axis0')], '/model/pos/Unsqueeze_len');
    posF = op(
      'Slice',
      [posF, op('Neg', [seqLen1], '/model/pos/Neg'), b.ints([2 ** 62], '/model/pos/end'), b.ints([1], '/model/pos/axis1')],
      '/model/pos/Slice',
    );
  }
  // Rotary tables [batch, seq, 1, hd], rotate-half form: angles repeated for both halves.
  const invFreq = Array.from({ length: hd / 2 }, (_, j) => cfg.rope_theta ** ((-2 * j) / hd));
  const invFreqName = b.constant(f32([hd / 2], invFreq), '/model/rotary_emb/inv_freq');
  const angles = op(
    'Mul',
    [op('Unsqueeze', [posF, b.ints([-1], '/model/rotary_emb/axes')], '/model/rotary_emb/Unsqueeze'), invFreqName],
    '/model/rotary_emb/Mul',
  );
  const emb = op('Concat', [angles, angles], '/model/rotary_emb/Concat', { axis: -1 });
  const headAxis = b.ints([2], '/model/rotary_emb/head_axis');
  const cos = op('Unsqueeze', [op('Cos', [emb], '/model/rotary_emb/Cos'), headAxis], '/model/rotary_emb/Unsqueeze_cos');
  const sin = op('Unsqueeze', [op('Sin', [emb], '/model/rotary_emb/Sin'), headAxis], '/model/rotary_emb/Unsqueeze_sin');

  // Additive attention bias [batch, 1, 1, seq, total]: 0 where key j <= past + query i and j is
  // not padding (without a past, total = seq and the offset is 0).
  const range = op('Range', [b.scalar(0, 'int64', '/model/mask/zero'), seqLen, b.scalar(1, 'int64', '/model/mask/step')], '/model/mask/Range');
  let rowIdx = op('Unsqueeze', [range, b.ints([1], '/model/mask/axis1')], '/model/mask/Unsqueeze_row');
  let keyRange = range;
  if (past) {
    const total = op('Gather', [op('Shape', [mask], '/model/mask/Shape_total'), b.scalar(1, 'int64', '/model/mask/one_total')], '/model/mask/Gather_total', {
      axis: 0,
    });
    keyRange = op('Range', [b.scalar(0, 'int64', '/model/mask/zero_total'), total, b.scalar(1, 'int64', '/model/mask/step_total')], '/model/mask/Range_total');
    rowIdx = op('Add', [rowIdx, op('Sub', [total, seqLen], '/model/mask/Sub_past')], '/model/mask/Add_past');
  }
  const colIdx = op('Unsqueeze', [keyRange, b.ints([0], '/model/mask/axis0')], '/model/mask/Unsqueeze_col');
  const causal = op('LessOrEqual', [colIdx, rowIdx], '/model/mask/LessOrEqual');
  const keyOk = op('Unsqueeze', [op('Cast', [mask], '/model/mask/Cast', { to: 9 }), b.ints([1, 2, 3], '/model/mask/axes123')], '/model/mask/Unsqueeze_key');
  const allowed = op('And', [causal, keyOk], '/model/mask/And');
  const bias = op('Where', [allowed, b.scalar(0, 'float32', '/model/mask/zero_f'), b.scalar(-1e9, 'float32', '/model/mask/neg')], '/model/mask/Where');

  const ropeApply = (x: string, scope: string) => {
    const h = hd / 2;
    const x1 = op('Slice', [x, b.ints([0], `${scope}/start0`), b.ints([h], `${scope}/end0`), b.ints([-1], `${scope}/axes`)], `${scope}/Slice`);
    const x2 = op('Slice', [x, b.ints([h], `${scope}/start1`), b.ints([hd], `${scope}/end1`), b.ints([-1], `${scope}/axes_1`)], `${scope}/Slice_1`);
    const rot = op('Concat', [op('Neg', [x2], `${scope}/Neg`), x1], `${scope}/Concat`, { axis: -1 });
    return op('Add', [op('Mul', [x, cos], `${scope}/Mul`), op('Mul', [rot, sin], `${scope}/Mul_1`)], `${scope}/Add`);
  };
  const halfRows = (n: number) => (w: Float32Array) => interleavedToHalfRows(w, n, hd, D);

  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `/model/layers.${l}`;
    const a = `${p}/self_attn`;
    const normed = rmsNorm(hidden, `blk.${l}.attn_norm.weight`, `${p}/input_layernorm`);
    const q = linear(normed, `blk.${l}.attn_q.weight`, `${a}/q_proj`, H * hd, D, halfRows(H));
    const k = linear(normed, `blk.${l}.attn_k.weight`, `${a}/k_proj`, KV * hd, D, halfRows(KV));
    const v = linear(normed, `blk.${l}.attn_v.weight`, `${a}/v_proj`, KV * hd, D);
    // q: [B,S,H*hd] -> [B,S,H,hd] -> rope -> [B,S,KV,G,hd] -> [B,KV,G,S,hd]
    const q4 = op('Reshape', [q, b.ints([0, 0, H, hd], `${a}/q_shape`)], `${a}/Reshape_q`);
    const qr = ropeApply(q4, `${a}/rotary_q`);
    const q5 = op('Transpose', [op('Reshape', [qr, b.ints([0, 0, KV, G, hd], `${a}/q_group_shape`)], `${a}/Reshape_q_group`)], `${a}/Transpose_q`, {
      perm: [0, 2, 3, 1, 4],
    });
    // k: [B,S,KV*hd] -> [B,S,KV,hd] -> rope -> [B,KV,hd,S] -> [B,KV,1,hd,S]
    const k4 = op('Reshape', [k, b.ints([0, 0, KV, hd], `${a}/k_shape`)], `${a}/Reshape_k`);
    const kr = ropeApply(k4, `${a}/rotary_k`);
    let kT: string;
    let v5: string;
    const v4 = op('Reshape', [v, b.ints([0, 0, KV, hd], `${a}/v_shape`)], `${a}/Reshape_v`);
    if (past) {
      // [B,KV,past+S,hd] = past ++ new, as Optimum's present outputs.
      const keys = b.op(
        'Concat',
        [pastKv(l, 'key'), op('Transpose', [kr], `${a}/Transpose_k_cache`, { perm: [0, 2, 1, 3] })],
        { axis: 2 },
        { name: `${a}/Concat_k`, output: `present.${l}.key` },
      );
      const values = b.op(
        'Concat',
        [pastKv(l, 'value'), op('Transpose', [v4], `${a}/Transpose_v`, { perm: [0, 2, 1, 3] })],
        { axis: 2 },
        { name: `${a}/Concat_v`, output: `present.${l}.value` },
      );
      kT = op('Unsqueeze', [op('Transpose', [keys], `${a}/Transpose_k`, { perm: [0, 1, 3, 2] }), b.ints([2], `${a}/k_group_axis`)], `${a}/Unsqueeze_k`);
      v5 = op('Unsqueeze', [values, b.ints([2], `${a}/v_group_axis`)], `${a}/Unsqueeze_v`);
    } else {
      // k: [B,S,KV,hd] -> [B,KV,hd,S] -> [B,KV,1,hd,S]; v: [B,S,KV,hd] -> [B,KV,S,hd] -> [B,KV,1,S,hd]
      kT = op('Unsqueeze', [op('Transpose', [kr], `${a}/Transpose_k`, { perm: [0, 2, 3, 1] }), b.ints([2], `${a}/k_group_axis`)], `${a}/Unsqueeze_k`);
      v5 = op('Unsqueeze', [op('Transpose', [v4], `${a}/Transpose_v`, { perm: [0, 2, 1, 3] }), b.ints([2], `${a}/v_group_axis`)], `${a}/Unsqueeze_v`);
    }
    // Scores [B,KV,G,S,S]; query head h = g_kv * G + g reads kv head g_kv (grouped-query attention).
    const scores = op('Mul', [op('MatMul', [q5, kT], `${a}/MatMul_scores`), b.scalar(1 / Math.sqrt(hd), 'float32', `${a}/scale`)], `${a}/Mul_scale`);
    const probs = op('Softmax', [op('Add', [scores, bias], `${a}/Add_mask`)], `${a}/Softmax`, { axis: -1 });
    const ctx5 = op('MatMul', [probs, v5], `${a}/MatMul_context`);
    const ctx = op(
      'Reshape',
      [op('Transpose', [ctx5], `${a}/Transpose_context`, { perm: [0, 3, 1, 2, 4] }), b.ints([0, 0, H * hd], `${a}/context_shape`)],
      `${a}/Reshape_context`,
    );
    const o = linear(ctx, `blk.${l}.attn_output.weight`, `${a}/o_proj`, D, H * hd);
    hidden = op('Add', [hidden, o], `${p}/Add`);

    const m = `${p}/mlp`;
    const normed2 = rmsNorm(hidden, `blk.${l}.ffn_norm.weight`, `${p}/post_attention_layernorm`);
    const gate = linear(normed2, `blk.${l}.ffn_gate.weight`, `${m}/gate_proj`, F, D);
    const act = op('Mul', [gate, op('Sigmoid', [gate], `${m}/act_fn/Sigmoid`)], `${m}/act_fn/Mul`);
    const up = linear(normed2, `blk.${l}.ffn_up.weight`, `${m}/up_proj`, F, D);
    const down = linear(op('Mul', [act, up], `${m}/Mul`), `blk.${l}.ffn_down.weight`, `${m}/down_proj`, D, F);
    hidden = op('Add', [hidden, down], `${p}/Add_1`);
  }

  const final = rmsNorm(hidden, 'output_norm.weight', '/model/norm');
  const headName = file.tensors.some((t) => t.name === 'output.weight') ? 'output.weight' : 'token_embd.weight';
  const headW = data(headName, [V, D]);
  const lm = b.initializer('lm_head.weight', f32([D, V], transpose2d(headW, V, D)));
  b.op('MatMul', [final, lm], {}, { name: '/lm_head/MatMul', output: 'logits' });
  b.output('logits', 'float32', ['batch_size', 'sequence_length', V]);
  if (past) {
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      for (const kind of ['key', 'value']) b.output(`present.${l}.${kind}`, 'float32', ['batch_size', KV, 'total_sequence_length', hd]);
    }
  }

  const unused = file.tensors.filter((t) => !used.has(t.name)).map((t) => t.name);
  if (unused.length) {
    throw new GgufError(`${file.source}: tensors not understood by the Llama importer: ${unused.slice(0, 10).join(', ')}${unused.length > 10 ? ', ...' : ''}`);
  }
  return { model, config: cfg, tensorsUsed: [...used] };
}
