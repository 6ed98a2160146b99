/**
 * Generated Llama-architecture model folders, made the way a user's model arrives: weights and a
 * SentencePiece-BPE vocabulary are written as a GGUF file (in memory, gguf/writer.ts) and that
 * file goes through the product's GGUF import (importGguf), so every generated folder exercises
 * the real import path and has its exact layout (onnx/model.onnx, config.json, tokenizer.json, ...).
 *
 * Weights are addressed by their Hugging Face names and shapes ([out, in] for linear layers):
 *   model.embed_tokens.weight [V, D]        model.layers.{l}.input_layernorm.weight [D]
 *   model.layers.{l}.self_attn.{q,k,v,o}_proj.weight
 *   model.layers.{l}.post_attention_layernorm.weight [D]
 *   model.layers.{l}.mlp.{gate,up}_proj.weight [F, D], down_proj.weight [D, F]
 *   model.norm.weight [D]                   lm_head.weight [V, D]
 * q_proj/k_proj rows are in Hugging Face rotate-half order; they are written to GGUF in llama.cpp's
 * interleaved order, which the importer undoes, so an override comes out unchanged in the ONNX
 * initializer (transposed to [in, out]).
 *
 * Random weights: linear N(0, 1/fan_in) * randomScale, embeddings N(0, embeddingStd^2), norm
 * weights 1; each tensor draws from its own stream of (seed, name) (rng.ts), so the same seed
 * gives the same bytes.
 */
import { readGguf, type GgufMetadataEntry } from '../../gguf/reader.js';
import { importGguf, type ImportGgufSummary } from '../../gguf/import.js';
import type { LlamaConfig } from '../../gguf/llama-onnx.js';
import { spmBpeEncode, SpmTokenType, type SpmVocab } from '../../gguf/tokenizer.js';
import { ggufValue, writeGguf, type GgufFloatTensor } from '../../gguf/writer.js';
import { SeededRandom } from './rng.js';

const SPACE = '\u2581';

/**
 * Weight override: called for every tensor with its Hugging Face name, shape and the weight the
 * generator would use (`initial`, which the override may change in place and return); return
 * undefined to keep `initial` as it is.
 */
export type WeightOverride = (name: string, shape: readonly number[], initial: Float32Array) => Float32Array | undefined;

export interface LlamaFolderConfig {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /**
   * SentencePiece pieces in id order (spaces written as "▁"), including "<unk>", "<s>", "</s>"
   * and byte-fallback pieces "<0x00>".."<0xFF>" as wanted; or 'bytes': those 259 only. Piece types
   * follow from the spelling; normal pieces score by order (earlier = merged first). Every
   * multi-character normal piece must be reachable by BPE merges from its characters (see
   * spmWordPieces, which adds the sub-pieces a word needs).
   */
  vocab: readonly string[] | 'bytes';
  seed: number;
  /** Weight overrides by Hugging Face name; return undefined to keep the random weight. */
  weights?: WeightOverride;
  /** Multiplies the random linear weights (default 1). */
  randomScale?: number;
  /** Standard deviation of the random embeddings (default 1). */
  embeddingStd?: number;
  ropeTheta?: number;
  rmsEps?: number;
  contextLength?: number;
  /** Storage type of the linear weights in the GGUF file (default F32). */
  linearType?: 'F32' | 'F16';
  /** general.name (default 'crispr-bench tiny llama'). */
  name?: string;
}

export interface MakeLlamaFolderOptions {
  /** Replace an existing folder's files (default false: refuse, as importGguf does). */
  overwrite?: boolean;
}

export interface LlamaFolderSummary {
  dir: string;
  config: LlamaConfig;
  /** The pieces, by id. */
  vocab: string[];
  bosId: number;
  eosId: number;
  /** The generated GGUF file (also parseable with readGguf for reference computations). */
  gguf: Uint8Array;
  parameterCount: number;
  files: string[];
  import: ImportGgufSummary;
}

function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

export const SPECIAL_PIECES = ['<unk>', '<s>', '</s>'] as const;
export const BYTE_PIECES: readonly string[] = Array.from({ length: 256 }, (_, b) => byteToken(b));

/** The piece type a spelling implies. */
export function spmPieceType(piece: string): SpmTokenType {
  if (piece === '<unk>') return SpmTokenType.UNKNOWN;
  if (piece === '<s>' || piece === '</s>') return SpmTokenType.CONTROL;
  if (/^<0x[0-9A-F]{2}>$/.test(piece)) return SpmTokenType.BYTE;
  return SpmTokenType.NORMAL;
}

/**
 * A SentencePiece vocabulary holding the given words, the way a trained BPE vocabulary holds
 * them: `<unk>`, `<s>`, `</s>`, the 256 byte-fallback pieces, "▁", single characters (`chars`
 * plus every character of the words), then for each word every prefix of two or more characters
 * (the chain of merges that builds it) and the word itself. Words are written as they appear in
 * text: a leading space marks a word start (" pilot" -> "▁pilot"); a word without one is a piece
 * that follows other text ("," or "ing").
 */
export function spmWordPieces(words: readonly string[], opts: { chars?: string; byteFallback?: boolean } = {}): string[] {
  const out: string[] = [...SPECIAL_PIECES, ...((opts.byteFallback ?? true) ? BYTE_PIECES : []), SPACE];
  const seen = new Set(out);
  const add = (p: string) => {
    if (!seen.has(p)) {
      seen.add(p);
      out.push(p);
    }
  };
  const pieces = words.map((w) => {
    if (w.length === 0 || w.trim().length === 0) throw new Error(`spmWordPieces: empty word ${JSON.stringify(w)}`);
    if (/\s/.test(w.slice(1))) throw new Error(`spmWordPieces: ${JSON.stringify(w)} has inner whitespace; give its words separately`);
    return w.replaceAll(' ', SPACE);
  });
  for (const c of opts.chars ?? '') add(c);
  for (const p of pieces) for (const c of Array.from(p)) add(c);
  for (const p of pieces) {
    const cps = Array.from(p);
    for (let k = 2; k <= cps.length; k++) add(cps.slice(0, k).join(''));
  }
  return out;
}

/** The SpmVocab (types, scores, special ids) of a piece list; every multi-character piece reachable. */
export function spmVocabFromPieces(pieces: readonly string[]): SpmVocab {
  const tokens = [...pieces];
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (ids.has(t)) throw new Error(`vocabulary: piece '${t}' appears twice (ids ${ids.get(t)} and ${i})`);
    ids.set(t, i);
  });
  for (const s of SPECIAL_PIECES) if (!ids.has(s)) throw new Error(`vocabulary: the special piece '${s}' is missing`);
  const types = tokens.map(spmPieceType);
  let rank = 0;
  const scores = types.map((ty) => (ty === SpmTokenType.NORMAL ? -rank++ : 0));
  const vocab: SpmVocab = {
    tokens,
    scores,
    types,
    unkId: ids.get('<unk>')!,
    bosId: ids.get('<s>')!,
    eosId: ids.get('</s>')!,
    padId: null,
    addBos: true,
    addEos: false,
    addDummyPrefix: true,
  };
  // Reachability: BPE on a piece's own characters must end in the piece itself.
  const bare: SpmVocab = { ...vocab, addDummyPrefix: false, addBos: false, addEos: false };
  tokens.forEach((t, i) => {
    if (types[i] !== SpmTokenType.NORMAL || Array.from(t).length < 2) return;
    const got = spmBpeEncode(bare, t.replaceAll(SPACE, ' '));
    if (got.length !== 1 || got[0] !== i) {
      throw new Error(
        `vocabulary: piece '${t}' (id ${i}) is not reachable by BPE merges: its characters merge into [${got.map((g) => `'${tokens[g]}'`).join(', ')}]; add its prefixes (spmWordPieces does)`,
      );
    }
  });
  return vocab;
}

function normal(seed: number, name: string, n: number, std: number): Float32Array {
  const rng = SeededRandom.forTensor(seed, name);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  return out;
}

/** Rotate-half row order -> llama.cpp interleaved-pair order (inverse of the importer's permutation). */
function halfToInterleavedRows(w: Float32Array, nHeads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let j = 0; j < half; j++) {
      for (let p = 0; p < 2; p++) {
        const src = (h * headDim + p * half + j) * cols;
        const dst = (h * headDim + 2 * j + p) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

interface TensorPlan {
  hf: string;
  gguf: string;
  shape: number[];
  kind: 'embedding' | 'linear' | 'norm';
  /** q/k: heads whose rows get the rope reordering. */
  ropeHeads?: number;
}

/** Every tensor of the model: Hugging Face name, GGUF name, shape, initialisation. */
export function llamaTensorPlan(cfg: Pick<LlamaFolderConfig, 'hidden' | 'intermediate' | 'layers' | 'heads' | 'kvHeads'>, vocabSize: number): TensorPlan[] {
  const D = cfg.hidden,
    F = cfg.intermediate,
    H = cfg.heads,
    KV = cfg.kvHeads;
  const hd = D / H;
  // llama.cpp's file order: embeddings, final norm and output first, then the blocks (so an
  // override of a block weight can read the already generated lm_head).
  const plan: TensorPlan[] = [
    { hf: 'model.embed_tokens.weight', gguf: 'token_embd.weight', shape: [vocabSize, D], kind: 'embedding' },
    { hf: 'model.norm.weight', gguf: 'output_norm.weight', shape: [D], kind: 'norm' },
    { hf: 'lm_head.weight', gguf: 'output.weight', shape: [vocabSize, D], kind: 'linear' },
  ];
  for (let l = 0; l < cfg.layers; l++) {
    const p = `model.layers.${l}`;
    plan.push(
      { hf: `${p}.input_layernorm.weight`, gguf: `blk.${l}.attn_norm.weight`, shape: [D], kind: 'norm' },
      { hf: `${p}.self_attn.q_proj.weight`, gguf: `blk.${l}.attn_q.weight`, shape: [H * hd, D], kind: 'linear', ropeHeads: H },
      { hf: `${p}.self_attn.k_proj.weight`, gguf: `blk.${l}.attn_k.weight`, shape: [KV * hd, D], kind: 'linear', ropeHeads: KV },
      { hf: `${p}.self_attn.v_proj.weight`, gguf: `blk.${l}.attn_v.weight`, shape: [KV * hd, D], kind: 'linear' },
      { hf: `${p}.self_attn.o_proj.weight`, gguf: `blk.${l}.attn_output.weight`, shape: [D, H * hd], kind: 'linear' },
      { hf: `${p}.post_attention_layernorm.weight`, gguf: `blk.${l}.ffn_norm.weight`, shape: [D], kind: 'norm' },
      { hf: `${p}.mlp.gate_proj.weight`, gguf: `blk.${l}.ffn_gate.weight`, shape: [F, D], kind: 'linear' },
      { hf: `${p}.mlp.up_proj.weight`, gguf: `blk.${l}.ffn_up.weight`, shape: [F, D], kind: 'linear' },
      { hf: `${p}.mlp.down_proj.weight`, gguf: `blk.${l}.ffn_down.weight`, shape: [D, F], kind: 'linear' },
    );
  }
  return plan;
}

function checkConfig(cfg: LlamaFolderConfig): void {
  const bad = (why: string): never => {
    throw new Error(`makeLlamaFolder: ${why}`);
  };
  for (const k of ['hidden', 'intermediate', 'layers', 'heads', 'kvHeads'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] <= 0) bad(`${k} must be a positive integer, got ${cfg[k]}`);
  }
  if (cfg.hidden % cfg.heads !== 0) bad(`hidden ${cfg.hidden} is not divisible by heads ${cfg.heads}`);
  if (cfg.heads % cfg.kvHeads !== 0) bad(`heads ${cfg.heads} is not a multiple of kvHeads ${cfg.kvHeads}`);
  if ((cfg.hidden / cfg.heads) % 2 !== 0) bad(`head size ${cfg.hidden / cfg.heads} is odd; rotary embeddings need pairs`);
  if (!Number.isFinite(cfg.seed)) bad(`seed must be a number, got ${cfg.seed}`);
}

/** The GGUF bytes of a generated Llama (no folder written). */
export function makeLlamaGguf(cfg: LlamaFolderConfig): { bytes: Uint8Array; vocab: SpmVocab } {
  checkConfig(cfg);
  const vocab = spmVocabFromPieces(cfg.vocab === 'bytes' ? [...SPECIAL_PIECES, ...BYTE_PIECES] : cfg.vocab);
  const V = vocab.tokens.length;
  const hd = cfg.hidden / cfg.heads;
  const scale = cfg.randomScale ?? 1;
  const tensors: GgufFloatTensor[] = [];
  for (const t of llamaTensorPlan(cfg, V)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const initial =
      t.kind === 'norm'
        ? new Float32Array(n).fill(1)
        : t.kind === 'embedding'
          ? normal(cfg.seed, t.hf, n, cfg.embeddingStd ?? 1)
          : normal(cfg.seed, t.hf, n, scale / Math.sqrt(t.shape[1]!));
    let data = cfg.weights?.(t.hf, t.shape, initial) ?? initial;
    if (!(data instanceof Float32Array) || data.length !== n) {
      throw new Error(
        `makeLlamaFolder: the override for ${t.hf} must be a Float32Array of ${n} values (shape [${t.shape.join(', ')}]), got ${data instanceof Float32Array ? data.length : typeof data}`,
      );
    }
    if (t.ropeHeads !== undefined) data = halfToInterleavedRows(data, t.ropeHeads, hd, cfg.hidden);
    tensors.push({ name: t.gguf, shape: t.shape, data, type: t.kind === 'linear' ? (cfg.linearType ?? 'F32') : 'F32' });
  }
  const u32 = ggufValue.u32;
  const metadata: [string, GgufMetadataEntry][] = [
    ['general.architecture', ggufValue.str('llama')],
    ['general.name', ggufValue.str(cfg.name ?? 'crispr-bench tiny llama')],
    ['llama.context_length', u32(cfg.contextLength ?? 512)],
    ['llama.embedding_length', u32(cfg.hidden)],
    ['llama.feed_forward_length', u32(cfg.intermediate)],
    ['llama.block_count', u32(cfg.layers)],
    ['llama.attention.head_count', u32(cfg.heads)],
    ['llama.attention.head_count_kv', u32(cfg.kvHeads)],
    ['llama.rope.dimension_count', u32(hd)],
    ['llama.rope.freq_base', ggufValue.f32(cfg.ropeTheta ?? 10000)],
    ['llama.attention.layer_norm_rms_epsilon', ggufValue.f32(cfg.rmsEps ?? 1e-5)],
    ['tokenizer.ggml.model', ggufValue.str('llama')],
    ['tokenizer.ggml.tokens', ggufValue.strings(vocab.tokens)],
    ['tokenizer.ggml.scores', ggufValue.f32s(vocab.scores)],
    ['tokenizer.ggml.token_type', ggufValue.i32s(vocab.types)],
    ['tokenizer.ggml.bos_token_id', u32(vocab.bosId!)],
    ['tokenizer.ggml.eos_token_id', u32(vocab.eosId!)],
    ['tokenizer.ggml.unknown_token_id', u32(vocab.unkId!)],
    ['tokenizer.ggml.add_bos_token', ggufValue.bool(true)],
    ['tokenizer.ggml.add_eos_token', ggufValue.bool(false)],
  ];
  return { bytes: writeGguf(null, { metadata, tensors }), vocab };
}

/** Generate a Llama model folder in `outDir` through the GGUF import path. */
export async function makeLlamaFolder(outDir: string, cfg: LlamaFolderConfig, opts: MakeLlamaFolderOptions = {}): Promise<LlamaFolderSummary> {
  const { bytes, vocab } = makeLlamaGguf(cfg);
  const summary = importGguf(readGguf(bytes, `${cfg.name ?? 'generated llama'} (in memory)`), outDir, { overwrite: opts.overwrite ?? false });
  return {
    dir: outDir,
    config: summary.config,
    vocab: vocab.tokens,
    bosId: vocab.bosId!,
    eosId: vocab.eosId!,
    gguf: bytes,
    parameterCount: summary.parameterCount,
    files: summary.files,
    import: summary,
  };
}
