/**
 * Tokenizer files for generated T5 folders, in the form @huggingface/transformers loads locally:
 * tokenizer.json, tokenizer_config.json (T5Tokenizer) and special_tokens_map.json.
 *
 * vocabSize >= 32100: the real T5 / Flan-T5 tokenizer.json (32,100 tokens: 32,000 SentencePiece
 * pieces + 100 <extra_id_*> sentinels) is copied from the shared assets (or a given path) into the
 * generated folder (which lies outside the repository). vocabSize 32128 is T5's padded embedding
 * size: ids 32100..32127 exist in the model but no token maps to them.
 *
 * vocabSize < 32100: a small Unigram tokenizer of our own with T5's pipeline (whitespace split,
 * "▁" metaspace prefix, "</s>" appended): ids 0/1/2 = <pad>/</s>/<unk>, then "▁", then single
 * characters (lowercase, "▁"+lowercase, digits, uppercase, punctuation) and common English words
 * ("▁the", ...) until the vocabulary is full. Longer pieces score higher, so Viterbi prefers whole
 * words; characters not in the vocabulary become <unk>. (The JS tokenizers library has no WordLevel
 * model, hence Unigram.)
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const T5_ASSET_VOCAB = 32100;
const EXTRA_IDS = 100;

/** Repository root (this file lives in packages/core/src/models/generate). */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');

/** Shared assets folder: env CRISPR_ASSETS, else ../shared/assets next to the repository. */
export function defaultAssetsDir(): string {
  const env = process.env.CRISPR_ASSETS;
  return env !== undefined && env !== '' ? resolve(env) : resolve(REPO_ROOT, '../shared/assets');
}

/** Path of the T5 tokenizer.json for a `tokenizer` setting ('assets-t5' or a file/folder path). */
export function resolveT5TokenizerPath(setting: string, assetsDir = defaultAssetsDir()): string {
  const p = setting === 'assets-t5' ? join(assetsDir, 'tokenizers', 't5', 'tokenizer.json') : resolve(setting);
  const file = existsSync(p) && statSync(p).isDirectory() ? join(p, 'tokenizer.json') : p;
  if (!existsSync(file)) {
    const hint = setting === 'assets-t5' ? ` (assets folder ${assetsDir}; set CRISPR_ASSETS or pass opts.assetsDir)` : '';
    throw new Error(`T5 tokenizer not found: ${file}${hint}`);
  }
  return file;
}

export type T5TokenizerKind = 'asset' | 'generated';

/** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir`. */
export function writeT5TokenizerFiles(dir: string, vocabSize: number, setting: string, assetsDir?: string): T5TokenizerKind {
  let kind: T5TokenizerKind;
  let extra: string[] = [];
  if (vocabSize >= T5_ASSET_VOCAB) {
    const src = resolveT5TokenizerPath(setting, assetsDir);
    const text = readFileSync(src, 'utf8');
    const json = JSON.parse(text) as { model?: { vocab?: unknown[] } };
    const n = json.model?.vocab?.length;
    if (typeof n !== 'number') throw new Error(`${src}: not a tokenizers JSON with a model.vocab list`);
    if (n > vocabSize) throw new Error(`${src}: tokenizer has ${n} tokens but the model's vocabSize is ${vocabSize}`);
    // Written rather than copied: a copy would keep the read-only mode of the assets.
    writeFileSync(join(dir, 'tokenizer.json'), text);
    extra = Array.from({ length: EXTRA_IDS }, (_, i) => `<extra_id_${i}>`);
    kind = 'asset';
  } else {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(smallUnigramTokenizer(vocabSize), null, 1));
    kind = 'generated';
  }
  const special = { eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', ...(extra.length ? { additional_special_tokens: extra } : {}) };
  const tokenizerConfig = {
    tokenizer_class: 'T5Tokenizer',
    ...special,
    ...(extra.length ? { extra_ids: EXTRA_IDS } : { extra_ids: 0 }),
    model_max_length: 512,
    clean_up_tokenization_spaces: true,
  };
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
  writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify(special, null, 2));
  return kind;
}

const COMMON_WORDS = (
  'the of and to a in is was he for it with as his on be at by i that had not are but from or have an they which one you were her all she ' +
  'there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time ' +
  'these two may then do first any my now such like our over man me even most made after also did many before must through back years where ' +
  'much your way well down should because each just those people how too little state good very make world still own see men work long get here ' +
  'between both life being under never day same another know while last might us great old year off come since against go came right used take'
).split(' ');

/** tokenizer.json's added_tokens for special tokens with ids 0, 1, ... in order. */
export function specialTokens(specials: readonly string[]): Record<string, unknown>[] {
  return specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
}

/** tokenizer.json's post-processor that appends "</s>" (id 1) to every sequence, as T5's does. */
export const APPEND_EOS = {
  type: 'TemplateProcessing',
  single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
  pair: [
    { Sequence: { id: 'A', type_id: 0 } },
    { SpecialToken: { id: '</s>', type_id: 0 } },
    { Sequence: { id: 'B', type_id: 0 } },
    { SpecialToken: { id: '</s>', type_id: 0 } },
  ],
  special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
} as const;

/** A tokenizers-JSON Unigram tokenizer with `vocabSize` pieces and T5's special tokens and pipeline. */
export function smallUnigramTokenizer(vocabSize: number): Record<string, unknown> {
  if (vocabSize < 4) throw new Error(`a generated tokenizer needs vocabSize >= 4, got ${vocabSize}`);
  const specials = ['<pad>', '</s>', '<unk>'];
  const pieces: string[] = [...specials, '▁'];
  const seen = new Set(pieces);
  const add = (p: string) => {
    if (pieces.length < vocabSize && !seen.has(p)) {
      seen.add(p);
      pieces.push(p);
    }
  };
  const lower = 'etaoinshrdlcumwfgypbvkjxqz';
  for (const c of lower) add(c);
  for (const c of lower) add(`▁${c}`);
  for (const c of '0123456789') add(c);
  for (const c of 'ETAOINSHRDLCUMWFGYPBVKJXQZ') add(c);
  for (const c of '.,!?\'";:-()') add(c);
  for (const w of COMMON_WORDS) add(`▁${w}`);
  // Fill the rest deterministically with two-letter pieces so the vocabulary size is exact.
  outer: for (const a of lower)
    for (const b of lower) {
      if (pieces.length >= vocabSize) break outer;
      add(`${a}${b}`);
    }
  for (let i = 0; pieces.length < vocabSize; i++) add(`<unused_${i}>`);
  // Log-probability-like scores: longer pieces are likelier, so whole words beat their letters.
  const vocab = pieces.map((p, i): [string, number] => [p, i < 3 ? 0 : -10 + Math.min(p.replace('▁', '').length, 9)]);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialTokens(specials),
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', add_prefix_space: true }] },
    post_processor: APPEND_EOS,
    decoder: { type: 'Metaspace', replacement: '▁', add_prefix_space: true },
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  };
}
