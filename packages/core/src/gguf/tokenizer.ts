/**
 * The SentencePiece vocabulary embedded in a GGUF file (tokenizer.ggml.model = 'llama'):
 * a direct SentencePiece-BPE encoder, and its conversion to a tokenizers-library
 * `tokenizer.json` + `tokenizer_config.json` that @huggingface/transformers loads.
 *
 * SentencePiece BPE encoding (as sentencepiece, llama.cpp and llama2.c do it): prepend the
 * dummy-prefix space, write spaces as U+2581 "▁", start from single code points, then keep
 * merging the adjacent pair whose concatenation is a vocabulary piece with the highest score
 * (leftmost on ties); symbols left outside the vocabulary become their UTF-8 bytes <0xNN>.
 *
 * The tokenizer.json uses a BPE model whose merges are derived from the scores: every way of
 * splitting a piece into two symbols (vocabulary pieces or single code points) is a merge,
 * ranked by the merged piece's score. The BPE model applies the best-ranked pair first and
 * breaks ties by position, which is the SentencePiece rule. (A Unigram model would run a
 * Viterbi search over the same scores and does not reproduce BPE segmentations.) The dummy
 * prefix is a Prepend normalizer rather than a Metaspace pre-tokenizer because Metaspace skips
 * the prefix when the text already starts with a space, and SentencePiece does not.
 *
 * Not reproduced: sentencepiece's optional `remove_extra_whitespaces` (not recorded in GGUF;
 * llama.cpp does not apply it either).
 */
import { GgufError, GgufValueType, meta, metaArray, metaBool, metaNumber, metaString, type GgufFile } from './reader.js';

/** SentencePiece piece types as GGUF stores them (tokenizer.ggml.token_type). */
export enum SpmTokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

export interface SpmVocab {
  tokens: string[];
  scores: number[];
  types: SpmTokenType[];
  bosId: number | null;
  eosId: number | null;
  unkId: number | null;
  padId: number | null;
  addBos: boolean;
  addEos: boolean;
  /** SentencePiece's add_dummy_prefix (GGUF tokenizer.ggml.add_space_prefix). */
  addDummyPrefix: boolean;
}

const SPACE = '\u2581';

/** Read the SentencePiece vocabulary of a GGUF file. */
export function spmVocabFromGguf(file: GgufFile): SpmVocab {
  const model = metaString(file, 'tokenizer.ggml.model');
  if (model !== 'llama') {
    throw new GgufError(`${file.source}: tokenizer.ggml.model is '${model}'; only the SentencePiece ('llama') vocabulary is supported`);
  }
  const tokens = metaArray(file, 'tokenizer.ggml.tokens', GgufValueType.STRING) as string[];
  const n = tokens.length;
  const scores =
    meta(file, 'tokenizer.ggml.scores') === undefined ? new Array<number>(n).fill(0) : (metaArray(file, 'tokenizer.ggml.scores') as number[]).map(Number);
  const types =
    meta(file, 'tokenizer.ggml.token_type') === undefined
      ? new Array<SpmTokenType>(n).fill(SpmTokenType.NORMAL)
      : (metaArray(file, 'tokenizer.ggml.token_type') as number[]).map(Number);
  if (scores.length !== n) throw new GgufError(`${file.source}: tokenizer.ggml.scores has ${scores.length} entries, tokens has ${n}`);
  if (types.length !== n) throw new GgufError(`${file.source}: tokenizer.ggml.token_type has ${types.length} entries, tokens has ${n}`);
  const seen = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (seen.has(t)) throw new GgufError(`${file.source}: token '${t}' appears twice (ids ${seen.get(t)} and ${i})`);
    seen.set(t, i);
  });
  const id = (key: string): number | null => {
    const v = meta(file, key);
    if (v === undefined) return null;
    const x = metaNumber(file, key);
    // 0xFFFFFFFF (and -1) mean "none" in GGUF files written by llama.cpp tools.
    if (x < 0 || x >= n) return null;
    return x;
  };
  return {
    tokens,
    scores,
    types,
    bosId: id('tokenizer.ggml.bos_token_id'),
    eosId: id('tokenizer.ggml.eos_token_id'),
    unkId: id('tokenizer.ggml.unknown_token_id'),
    padId: id('tokenizer.ggml.padding_token_id'),
    addBos: metaBool(file, 'tokenizer.ggml.add_bos_token', true),
    addEos: metaBool(file, 'tokenizer.ggml.add_eos_token', false),
    addDummyPrefix: metaBool(file, 'tokenizer.ggml.add_space_prefix', true),
  };
}

const pieceCache = new WeakMap<SpmVocab, { mergeable: Map<string, number>; all: Map<string, number> }>();

/** Piece lookups: `mergeable` holds the pieces BPE may produce (normal, user-defined). */
function lookups(vocab: SpmVocab): { mergeable: Map<string, number>; all: Map<string, number> } {
  let c = pieceCache.get(vocab);
  if (!c) {
    const mergeable = new Map<string, number>();
    vocab.tokens.forEach((t, i) => {
      const ty = vocab.types[i];
      if (ty === SpmTokenType.NORMAL || ty === SpmTokenType.USER_DEFINED) mergeable.set(t, i);
    });
    c = { mergeable, all: new Map(vocab.tokens.map((t, i) => [t, i] as const)) };
    pieceCache.set(vocab, c);
  }
  return c;
}

function mergeablePieces(vocab: SpmVocab): Map<string, number> {
  return lookups(vocab).mergeable;
}

function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/**
 * Encode text with the SentencePiece BPE rule directly from the vocabulary (a plain,
 * quadratic implementation kept independent of the tokenizers library).
 */
export function spmBpeEncode(vocab: SpmVocab, text: string, opts: { addBos?: boolean; addEos?: boolean } = {}): number[] {
  const addBos = opts.addBos ?? vocab.addBos;
  const addEos = opts.addEos ?? vocab.addEos;
  const out: number[] = [];
  if (addBos && vocab.bosId !== null) out.push(vocab.bosId);
  if (text.length > 0) {
    const pieces = mergeablePieces(vocab);
    const normalized = ((vocab.addDummyPrefix ? ' ' : '') + text).replaceAll(' ', SPACE);
    const symbols = Array.from(normalized);
    for (;;) {
      let best = -1;
      let bestScore = -Infinity;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const id = pieces.get(symbols[i] + symbols[i + 1]);
        if (id !== undefined && vocab.scores[id] > bestScore) {
          bestScore = vocab.scores[id];
          best = i;
        }
      }
      if (best < 0) break;
      symbols.splice(best, 2, symbols[best] + symbols[best + 1]);
    }
    const all = lookups(vocab).all;
    const enc = new TextEncoder();
    for (const s of symbols) {
      const id = pieces.get(s);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      const bytes = Array.from(enc.encode(s), (b) => all.get(byteToken(b)));
      if (bytes.every((b) => b !== undefined)) out.push(...(bytes as number[]));
      else if (vocab.unkId !== null) out.push(vocab.unkId);
      else throw new GgufError(`cannot encode '${s}': no byte-fallback tokens and no unknown token`);
    }
  }
  if (addEos && vocab.eosId !== null) out.push(vocab.eosId);
  return out;
}

/** Decode ids the SentencePiece way: bytes fused, "▁" to space, the dummy prefix dropped. */
export function spmDecode(vocab: SpmVocab, ids: number[], opts: { skipSpecial?: boolean } = {}): string {
  const skip = opts.skipSpecial ?? true;
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (const id of ids) {
    const ty = vocab.types[id];
    if (ty === undefined) throw new GgufError(`token id ${id} is outside the vocabulary (${vocab.tokens.length})`);
    if (skip && (ty === SpmTokenType.CONTROL || ty === SpmTokenType.UNKNOWN)) continue;
    const t = vocab.tokens[id];
    if (ty === SpmTokenType.BYTE) bytes.push(parseInt(t.slice(3, 5), 16));
    else bytes.push(...enc.encode(t.replaceAll(SPACE, ' ')));
  }
  let s = new TextDecoder().decode(Uint8Array.from(bytes));
  if (vocab.addDummyPrefix && s.startsWith(' ')) s = s.slice(1);
  return s;
}

/**
 * BPE merges equivalent to the SentencePiece scores: [left, right] pairs in rank order.
 */
export function spmMerges(vocab: SpmVocab): [string, string][] {
  const pieces = mergeablePieces(vocab);
  const found: { left: string; right: string; score: number; id: number; leftId: number; rightId: number }[] = [];
  const symbolId = (s: string): number | undefined => {
    const id = pieces.get(s);
    if (id !== undefined) return id;
    // A lone code point is always an initial symbol, even when it is not a piece itself.
    return Array.from(s).length === 1 ? vocab.tokens.length + s.codePointAt(0)! : undefined;
  };
  for (const [piece, id] of pieces) {
    if (vocab.types[id] !== SpmTokenType.NORMAL) continue;
    const cps = Array.from(piece);
    for (let k = 1; k < cps.length; k++) {
      const left = cps.slice(0, k).join('');
      const right = cps.slice(k).join('');
      const leftId = symbolId(left);
      const rightId = symbolId(right);
      if (leftId === undefined || rightId === undefined) continue;
      found.push({ left, right, score: vocab.scores[id], id, leftId, rightId });
    }
  }
  found.sort((a, b) => b.score - a.score || a.id - b.id || a.leftId - b.leftId || a.rightId - b.rightId);
  return found.map((m) => [m.left, m.right]);
}

export interface HfTokenizerFiles {
  /** tokenizers-library `tokenizer.json`. */
  tokenizer: Record<string, unknown>;
  /** `tokenizer_config.json`. */
  config: Record<string, unknown>;
}

/** Build `tokenizer.json` and `tokenizer_config.json` for a SentencePiece vocabulary. */
export function spmToHfTokenizer(vocab: SpmVocab, opts: { modelMaxLength?: number } = {}): HfTokenizerFiles {
  const tok = (id: number | null) => (id === null ? null : vocab.tokens[id]);
  const bos = tok(vocab.bosId);
  const eos = tok(vocab.eosId);
  const unk = tok(vocab.unkId);
  const vocabObj: Record<string, number> = {};
  vocab.tokens.forEach((t, i) => (vocabObj[t] = i));
  const hasBytes = Array.from({ length: 256 }, (_, b) => byteToken(b)).every((t) => t in vocabObj);

  const added = vocab.tokens
    .map((t, i) => ({ t, i, ty: vocab.types[i] }))
    .filter((x) => x.ty === SpmTokenType.CONTROL || x.ty === SpmTokenType.UNKNOWN || x.ty === SpmTokenType.USER_DEFINED)
    .map((x) => ({
      id: x.i,
      content: x.t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: x.ty !== SpmTokenType.USER_DEFINED,
    }));

  const single: unknown[] = [];
  const pair: unknown[] = [];
  const special = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  if (vocab.addBos && bos !== null) {
    single.push(special(bos));
    pair.push(special(bos));
  }
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  pair.push({ Sequence: { id: 'A', type_id: 0 } });
  if (vocab.addEos && eos !== null) {
    single.push(special(eos));
    pair.push(special(eos));
  }
  if (vocab.addBos && bos !== null) pair.push({ SpecialToken: { id: bos, type_id: 1 } });
  pair.push({ Sequence: { id: 'B', type_id: 1 } });
  if (vocab.addEos && eos !== null) pair.push({ SpecialToken: { id: eos, type_id: 1 } });
  const specialTokens: Record<string, unknown> = {};
  for (const [t, id] of [
    [bos, vocab.bosId],
    [eos, vocab.eosId],
  ] as const) {
    if (t !== null && id !== null) specialTokens[t] = { id: t, ids: [id], tokens: [t] };
  }

  const normalizers: unknown[] = [];
  if (vocab.addDummyPrefix) normalizers.push({ type: 'Prepend', prepend: SPACE });
  normalizers.push({ type: 'Replace', pattern: { String: ' ' }, content: SPACE });
  const decoders: unknown[] = [{ type: 'Replace', pattern: { String: SPACE }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }];
  if (vocab.addDummyPrefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });

  // When no piece holds "▁" past its first character, no merge can cross the start of a word, so
  // BPE over each "▁word" alone gives the segmentation of BPE over the whole text. Splitting there
  // lets the tokenizer cache words: a BBQ prompt then encodes several times faster.
  const wordsAreClosed = vocab.tokens.every((t) => t.indexOf(SPACE, 1) < 0);
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: wordsAreClosed ? { type: 'Split', pattern: { Regex: `${SPACE}[^${SPACE}]*` }, behavior: 'Isolated', invert: false } : null,
    post_processor: { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens },
    decoder: { type: 'Sequence', decoders },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: hasBytes,
      ignore_merges: false,
      vocab: vocabObj,
      merges: spmMerges(vocab),
    },
  };

  const addedTokensDecoder: Record<string, unknown> = {};
  for (const a of added) {
    const { id, ...rest } = a;
    addedTokensDecoder[String(id)] = rest;
  }
  const config: Record<string, unknown> = {
    tokenizer_class: 'LlamaTokenizer',
    add_bos_token: vocab.addBos,
    add_eos_token: vocab.addEos,
    bos_token: bos,
    eos_token: eos,
    unk_token: unk,
    pad_token: tok(vocab.padId),
    // Keep decoded text exactly as the pieces spell it (no " ," clean-up).
    clean_up_tokenization_spaces: false,
    legacy: true,
    add_prefix_space: vocab.addDummyPrefix,
    model_max_length: opts.modelMaxLength ?? 1e30,
    padding_side: 'left',
    added_tokens_decoder: addedTokensDecoder,
  };
  return { tokenizer, config };
}
