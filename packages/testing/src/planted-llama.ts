/**
 * Test models with a known answer: a small Llama (LLAMA_TINY) and a random-weight Llama with one
 * planted FFN unit that drives a chosen answer, which attribution must rank first. Built with the
 * product's generator (core's makeLlamaFolder), so they take the real GGUF import path.
 */
import {
  makeLlamaFolder,
  spmPieceType,
  spmWordPieces,
  SpmTokenType,
  type LlamaFolderConfig,
  type LlamaFolderSummary,
  type MakeLlamaFolderOptions,
  type WeightOverride,
} from '@crispr-bench/core';

/** SentencePiece's word-boundary mark. */
const SPACE = '\u2581';

/** A small Llama for unit tests (byte vocabulary unless a test gives its own). */
export const LLAMA_TINY: Omit<LlamaFolderConfig, 'seed'> = {
  hidden: 32,
  intermediate: 64,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  vocab: 'bytes',
};

/** Words of the planted model's default vocabulary (plus byte fallback). */
export const PLANTED_WORDS: readonly string[] = [
  ' the',
  ' a',
  ' cat',
  ' dog',
  ' sat',
  ' on',
  ' mat',
  ' was',
  ' tired',
  ' so',
  ' he',
  ' she',
  ' yes',
  ' no',
  ' red',
  ' ball',
  ' big',
  ' small',
  ' ran',
  ' home',
  ',',
  '.',
  ' The',
  ' One',
  ' day',
];

/** The constant every planted-model token embedding carries on its constant dimension. */
export const EMBED_CONSTANT = 2;

export interface PlantedLlamaOptions {
  /** Layer whose FFN holds the planted unit. */
  layer: number;
  /** FFN intermediate unit (gate_proj / up_proj output index). */
  unit: number;
  /** The answer: a piece ("▁yes"), its text (" yes"), or a token id. */
  answerToken: string | number;
  seed?: number;
  /** Shape and vocabulary (default LLAMA_TINY with PLANTED_WORDS). */
  hidden?: number;
  intermediate?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  vocab?: readonly string[];
  /** Hidden dimension every token embedding carries a constant on (default 0). */
  constantDim?: number;
  /** Down-projection gain of the planted unit (default 0.35). */
  strength?: number;
  /** Scale of the random weights (default 0.5: the planted path stands out). */
  randomScale?: number;
}

export interface PlantedLlamaSummary extends LlamaFolderSummary {
  planted: {
    layer: number;
    unit: number;
    answerId: number;
    answerPiece: string;
    constantDim: number;
    /** The sites whose unit `unit` is the planted neuron. */
    sites: { gate: string; up: string };
  };
}

/**
 * A random-weight Llama in which FFN unit `unit` of layer `layer` raises P(answerToken) on every
 * prompt. Every token embedding carries the constant EMBED_CONSTANT on `constantDim`; after
 * RMSNorm that dimension stays large, so the unit's gate and up rows (which read only that
 * dimension) make its activation silu(g n) * u n large on every token; its down_proj column writes
 * along the answer's lm_head row, which is made twice as long as the others so the answer wins
 * by a clear margin. The unit's write is kept comparable to the rest of the residual (not
 * dominant), so the final RMSNorm does not flatten its gradient and attribution can see it.
 */
export async function makePlantedLlamaFolder(outDir: string, opts: PlantedLlamaOptions, fopts: MakeLlamaFolderOptions = {}): Promise<PlantedLlamaSummary> {
  const D = opts.hidden ?? LLAMA_TINY.hidden;
  const F = opts.intermediate ?? LLAMA_TINY.intermediate;
  const L = opts.layers ?? LLAMA_TINY.layers;
  const pieces = opts.vocab ? [...opts.vocab] : spmWordPieces(PLANTED_WORDS);
  const cd = opts.constantDim ?? 0;
  const fail = (why: string): never => {
    throw new Error(`makePlantedLlamaFolder: ${why}`);
  };
  if (!Number.isInteger(opts.layer) || opts.layer < 0 || opts.layer >= L) fail(`layer ${opts.layer} is outside 0..${L - 1}`);
  if (!Number.isInteger(opts.unit) || opts.unit < 0 || opts.unit >= F) fail(`unit ${opts.unit} is outside 0..${F - 1}`);
  if (!Number.isInteger(cd) || cd < 0 || cd >= D) fail(`constantDim ${cd} is outside 0..${D - 1}`);
  let answerId: number;
  if (typeof opts.answerToken === 'number') answerId = opts.answerToken;
  else {
    const piece = opts.answerToken.replaceAll(' ', SPACE);
    answerId = pieces.indexOf(piece);
    if (answerId < 0) fail(`answer token '${piece}' is not in the vocabulary`);
  }
  if (!Number.isInteger(answerId) || answerId < 0 || answerId >= pieces.length)
    fail(`answer token id ${answerId} is outside the vocabulary (${pieces.length})`);
  if (spmPieceType(pieces[answerId]!) !== SpmTokenType.NORMAL) fail(`answer token '${pieces[answerId]}' is a special or byte piece`);

  const seed = opts.seed ?? 1;
  const V = pieces.length;
  const strength = opts.strength ?? 0.35;
  const randomScale = opts.randomScale ?? 0.5;
  const prefix = `model.layers.${opts.layer}.mlp`;
  let answerRow: Float32Array | undefined;

  const weights: WeightOverride = (name, shape, w) => {
    if (name === 'model.embed_tokens.weight') {
      for (let v = 0; v < V; v++) w[v * D + cd] = EMBED_CONSTANT;
      return w;
    }
    if (name === `${prefix}.gate_proj.weight` || name === `${prefix}.up_proj.weight`) {
      w.fill(0, opts.unit * D, (opts.unit + 1) * D);
      w[opts.unit * D + cd] = 1;
      return w;
    }
    if (name === 'lm_head.weight') {
      // lm_head at the full 1/sqrt(D) scale; the answer's row twice as long as the others.
      for (let i = 0; i < w.length; i++) w[i] = w[i]! * (1 / randomScale);
      for (let i = 0; i < D; i++) w[answerId * D + i] = w[answerId * D + i]! * 2;
      answerRow = w.slice(answerId * D, (answerId + 1) * D);
      return w;
    }
    if (name === `${prefix}.down_proj.weight`) {
      // Generated after lm_head (llamaTensorPlan order): the column along the answer's row.
      const cols = shape[1]!;
      const norm = Math.hypot(...answerRow!);
      for (let i = 0; i < D; i++) w[i * cols + opts.unit] = (strength * answerRow![i]!) / norm;
      return w;
    }
    return undefined;
  };
  const summary = await makeLlamaFolder(
    outDir,
    {
      hidden: D,
      intermediate: F,
      layers: L,
      heads: opts.heads ?? LLAMA_TINY.heads,
      kvHeads: opts.kvHeads ?? LLAMA_TINY.kvHeads,
      vocab: pieces,
      seed,
      weights,
      randomScale,
      embeddingStd: 0.5,
      name: 'crispr-bench planted llama',
    },
    fopts,
  );
  return {
    ...summary,
    planted: {
      layer: opts.layer,
      unit: opts.unit,
      answerId,
      answerPiece: pieces[answerId]!,
      constantDim: cd,
      sites: { gate: `${prefix}.gate_proj`, up: `${prefix}.up_proj` },
    },
  };
}
