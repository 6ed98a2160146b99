/**
 * makeT5Folder: a random-weight T5 model folder in the Hugging Face Optimum / transformers.js
 * layout, written entirely by our code:
 *
 *   config.json, generation_config.json
 *   tokenizer.json, tokenizer_config.json, special_tokens_map.json
 *   onnx/encoder_model.onnx          input_ids, attention_mask -> last_hidden_state
 *   onnx/decoder_model.onnx          encoder_attention_mask, input_ids, encoder_hidden_states -> logits
 *   onnx/decoder_model_merged.onnx   the same plus past_key_values.* and use_cache_branch
 *                                    -> logits, present.* (If node with a cache and a no-cache branch)
 *
 * @huggingface/transformers 4.3.2 loads a T5 seq2seq model from exactly two sessions,
 * onnx/encoder_model.onnx and onnx/decoder_model_merged.onnx (fp32; other dtypes add a suffix such
 * as _fp16); decoder_model.onnx is for our own adapters and ORT checks.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeModel, type WriteOptions } from '../../onnx/io.js';
import { resolveT5Config, t5GenerationConfigJson, t5HfConfigJson, type ResolvedT5Config, type T5TinyConfig } from './t5-config.js';
import { makeT5Weights, type T5Weights } from './t5-weights.js';
import { buildT5Decoder, buildT5Encoder, buildT5MergedDecoder } from './t5-builder.js';
import { writeT5TokenizerFiles, type T5TokenizerKind } from './t5-tokenizer.js';

export interface MakeT5FolderOptions {
  /** Shared assets folder for tokenizer 'assets-t5' (default: CRISPR_ASSETS or ../shared/assets). */
  assetsDir?: string;
  /** Write onnx/decoder_model.onnx (default true). */
  decoderModel?: boolean;
  /** Write onnx/decoder_model_merged.onnx (default true; transformers.js needs it). */
  mergedDecoder?: boolean;
  /** ONNX external-data setting for the model files (default 'auto': only past 1.5 GB). */
  externalData?: WriteOptions['externalData'];
  /** Weights to write instead of the seeded random ones (e.g. trained ones; same names and dims). */
  weights?: T5Weights;
  /** A tokenizer.json to write instead of the one `cfg.tokenizer` selects (e.g. wordLevelTokenizer). */
  tokenizerJson?: Record<string, unknown>;
}

export interface T5Folder {
  dir: string;
  config: ResolvedT5Config;
  tokenizer: T5TokenizerKind;
  /** Paths written, relative to dir. */
  files: string[];
}

export function makeT5Folder(outDir: string, cfg: T5TinyConfig, opts: MakeT5FolderOptions = {}): T5Folder {
  const r = resolveT5Config(cfg);
  mkdirSync(join(outDir, 'onnx'), { recursive: true });
  const files: string[] = [];
  const json = (name: string, value: unknown) => {
    writeFileSync(join(outDir, name), `${JSON.stringify(value, null, 2)}\n`);
    files.push(name);
  };
  json('config.json', t5HfConfigJson(r));
  json('generation_config.json', t5GenerationConfigJson());
  const tokenizer = writeT5TokenizerFiles(outDir, r.vocabSize, r.tokenizer, opts.assetsDir);
  if (opts.tokenizerJson) writeFileSync(join(outDir, 'tokenizer.json'), JSON.stringify(opts.tokenizerJson, null, 1));
  files.push('tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json');

  const weights = opts.weights ?? makeT5Weights(r);
  const write = (name: string, build: typeof buildT5Encoder) => {
    writeModel(build(r, weights), join(outDir, 'onnx', name), { externalData: opts.externalData ?? 'auto' });
    files.push(`onnx/${name}`);
  };
  write('encoder_model.onnx', buildT5Encoder);
  if (opts.decoderModel ?? true) write('decoder_model.onnx', buildT5Decoder);
  if (opts.mergedDecoder ?? true) write('decoder_model_merged.onnx', buildT5MergedDecoder);
  return { dir: outDir, config: r, tokenizer, files };
}
