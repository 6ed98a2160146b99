/**
 * Configuration of generated T5-style seq2seq models: the user-facing shape options, their
 * validation, presets, and the Hugging Face T5Config / generation config JSON written into the
 * folder.
 */

export type T5FeedForwardProj = 'relu' | 'gated-gelu';

export interface T5TinyConfig {
  dModel: number;
  dFf: number;
  /** Size of one attention head; the attention width is numHeads * dKv. */
  dKv: number;
  numHeads: number;
  /** Encoder layers. */
  numLayers: number;
  /** Decoder layers (default numLayers). */
  numDecoderLayers?: number;
  vocabSize: number;
  /** Default 32 (all public T5 checkpoints). */
  relativeAttentionNumBuckets?: number;
  /** Default 128. */
  relativeAttentionMaxDistance?: number;
  /** 'relu': T5 v1.0 (wi, ReLU, wo). 'gated-gelu': T5 v1.1 / Flan-T5 (gelu_new(wi_0) * wi_1, wo). */
  feedForwardProj: T5FeedForwardProj;
  /**
   * LM head shares the embedding (and the decoder output is scaled by dModel^-0.5 first), as in
   * T5 v1.0. Default: true for 'relu', false for 'gated-gelu' (v1.1 / Flan-T5 have an untied head).
   */
  tieWordEmbeddings?: boolean;
  seed: number;
  /**
   * 'assets-t5': the T5 / Flan-T5 tokenizer.json from the shared assets (needs vocabSize >= 32100).
   * A path: a tokenizer.json file, or a folder holding one. Small vocabularies (< 32100) always get
   * a generated Unigram tokenizer instead (see t5-tokenizer.ts).
   */
  tokenizer: 'assets-t5' | string;
}

/** A config with every default filled in. */
export interface ResolvedT5Config extends Required<T5TinyConfig> {
  layerNormEpsilon: number;
}

export const T5_LAYER_NORM_EPS = 1e-6;

function positiveInt(cfg: Record<string, unknown>, key: string): void {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`T5 config: '${key}' must be a positive integer, got ${JSON.stringify(v)}`);
  }
}

export function resolveT5Config(cfg: T5TinyConfig): ResolvedT5Config {
  const r: ResolvedT5Config = {
    ...cfg,
    numDecoderLayers: cfg.numDecoderLayers ?? cfg.numLayers,
    relativeAttentionNumBuckets: cfg.relativeAttentionNumBuckets ?? 32,
    relativeAttentionMaxDistance: cfg.relativeAttentionMaxDistance ?? 128,
    tieWordEmbeddings: cfg.tieWordEmbeddings ?? cfg.feedForwardProj === 'relu',
    layerNormEpsilon: T5_LAYER_NORM_EPS,
  };
  const rec = r as unknown as Record<string, unknown>;
  for (const k of [
    'dModel',
    'dFf',
    'dKv',
    'numHeads',
    'numLayers',
    'numDecoderLayers',
    'vocabSize',
    'relativeAttentionNumBuckets',
    'relativeAttentionMaxDistance',
  ]) {
    positiveInt(rec, k);
  }
  if (r.feedForwardProj !== 'relu' && r.feedForwardProj !== 'gated-gelu') {
    throw new Error(`T5 config: 'feedForwardProj' must be 'relu' or 'gated-gelu', got ${JSON.stringify(r.feedForwardProj)}`);
  }
  // Bidirectional buckets split the range in two halves, each with an exact and a log part.
  if (r.relativeAttentionNumBuckets < 4 || r.relativeAttentionNumBuckets % 4 !== 0) {
    throw new Error(`T5 config: 'relativeAttentionNumBuckets' must be a multiple of 4 (>= 4), got ${r.relativeAttentionNumBuckets}`);
  }
  if (r.relativeAttentionMaxDistance <= r.relativeAttentionNumBuckets / 2) {
    throw new Error(
      `T5 config: 'relativeAttentionMaxDistance' (${r.relativeAttentionMaxDistance}) must exceed half the bucket count (${r.relativeAttentionNumBuckets / 2})`,
    );
  }
  if (r.vocabSize < 8) throw new Error(`T5 config: 'vocabSize' must be at least 8 (three special tokens and some text), got ${r.vocabSize}`);
  if (!Number.isFinite(r.seed)) throw new Error(`T5 config: 'seed' must be a number, got ${JSON.stringify(r.seed)}`);
  if (typeof r.tokenizer !== 'string' || r.tokenizer === '') throw new Error(`T5 config: 'tokenizer' must be 'assets-t5' or a path`);
  return r;
}

/** Number of parameters as Hugging Face counts them (tied head counted once). */
export function t5ParameterCount(cfg: T5TinyConfig): number {
  const r = resolveT5Config(cfg);
  const inner = r.numHeads * r.dKv;
  const attn = 4 * r.dModel * inner;
  const ffn = (r.feedForwardProj === 'gated-gelu' ? 3 : 2) * r.dModel * r.dFf;
  const bias = r.relativeAttentionNumBuckets * r.numHeads;
  const enc = r.numLayers * (attn + ffn + 2 * r.dModel) + bias + r.dModel;
  const dec = r.numDecoderLayers * (2 * attn + ffn + 3 * r.dModel) + bias + r.dModel;
  const emb = r.vocabSize * r.dModel;
  return emb + enc + dec + (r.tieWordEmbeddings ? 0 : emb);
}

/** config.json in Hugging Face T5Config form. */
export function t5HfConfigJson(r: ResolvedT5Config): Record<string, unknown> {
  const gated = r.feedForwardProj === 'gated-gelu';
  return {
    architectures: ['T5ForConditionalGeneration'],
    model_type: 't5',
    d_model: r.dModel,
    d_ff: r.dFf,
    d_kv: r.dKv,
    num_heads: r.numHeads,
    num_layers: r.numLayers,
    num_decoder_layers: r.numDecoderLayers,
    vocab_size: r.vocabSize,
    relative_attention_num_buckets: r.relativeAttentionNumBuckets,
    relative_attention_max_distance: r.relativeAttentionMaxDistance,
    feed_forward_proj: r.feedForwardProj,
    is_gated_act: gated,
    dense_act_fn: gated ? 'gelu_new' : 'relu',
    layer_norm_epsilon: r.layerNormEpsilon,
    initializer_factor: 1.0,
    dropout_rate: 0.0,
    decoder_start_token_id: 0,
    pad_token_id: 0,
    eos_token_id: 1,
    is_encoder_decoder: true,
    use_cache: true,
    tie_word_embeddings: r.tieWordEmbeddings,
    torch_dtype: 'float32',
    crispr_bench: { generator: 'makeT5Folder', seed: r.seed, random_weights: true },
  };
}

export function t5GenerationConfigJson(): Record<string, unknown> {
  return { decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0 };
}
