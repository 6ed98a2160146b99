/**
 * `importGguf`: a Llama-family GGUF file to a standard model folder that our tools and
 * @huggingface/transformers read: onnx/model.onnx, config.json, generation_config.json,
 * tokenizer.json, tokenizer_config.json; plus onnx/decoder_with_past_model.onnx (Optimum's name),
 * the same model with a key/value cache, with which scoring and attribution compute a prompt once
 * for all its candidates.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeModel } from '../onnx/io.js';
import { UserError } from '../types/cli.js';
import { readGguf, type GgufFile } from './reader.js';
import { buildLlamaOnnx, type LlamaConfig } from './llama-onnx.js';
import { spmToHfTokenizer, spmVocabFromGguf } from './tokenizer.js';

export interface ImportGgufOptions {
  /** Replace an existing import in `outDir` (default false: refuse). */
  overwrite?: boolean;
}

export interface ImportGgufSummary {
  source: string;
  outDir: string;
  ggufVersion: number;
  tensorCount: number;
  parameterCount: number;
  /** Element types of the imported tensors, with counts (e.g. { F32: 48 }). */
  tensorTypes: Record<string, number>;
  config: LlamaConfig;
  nodeCount: number;
  vocabSize: number;
  /** Files written, relative to outDir. */
  files: string[];
}

export const IMPORTED_FILES = [
  'onnx/model.onnx',
  'onnx/decoder_with_past_model.onnx',
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
];

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Import a GGUF file (path, or an already parsed file) into `outDir`. */
export function importGguf(file: string | GgufFile, outDir: string, opts: ImportGgufOptions = {}): ImportGgufSummary {
  const gguf = typeof file === 'string' ? readGguf(file) : file;
  const modelPath = join(outDir, 'onnx', 'model.onnx');
  if (!opts.overwrite && existsSync(modelPath)) {
    throw new UserError(`${modelPath} already exists; pass overwrite (--force) to replace it`);
  }
  // Build everything before writing anything, so a bad file leaves no half-written folder.
  const { model, config } = buildLlamaOnnx(gguf);
  const withPast = buildLlamaOnnx(gguf, { past: true }).model;
  const vocab = spmVocabFromGguf(gguf);
  if (vocab.tokens.length !== config.vocab_size) {
    throw new Error(`${gguf.source}: the vocabulary has ${vocab.tokens.length} tokens but token_embd.weight has ${config.vocab_size} rows`);
  }
  const tok = spmToHfTokenizer(vocab, { modelMaxLength: config.max_position_embeddings });
  const generation = {
    bos_token_id: config.bos_token_id,
    eos_token_id: config.eos_token_id,
    ...(config.pad_token_id !== null && config.pad_token_id !== undefined ? { pad_token_id: config.pad_token_id } : {}),
    do_sample: false,
    use_cache: false,
  };

  mkdirSync(join(outDir, 'onnx'), { recursive: true });
  writeModel(model, modelPath);
  writeModel(withPast, join(outDir, 'onnx', 'decoder_with_past_model.onnx'));
  writeJson(join(outDir, 'config.json'), config);
  writeJson(join(outDir, 'generation_config.json'), generation);
  writeJson(join(outDir, 'tokenizer.json'), tok.tokenizer);
  writeJson(join(outDir, 'tokenizer_config.json'), tok.config);

  const tensorTypes: Record<string, number> = {};
  for (const t of gguf.tensors) tensorTypes[t.typeName] = (tensorTypes[t.typeName] ?? 0) + 1;
  return {
    source: gguf.source,
    outDir,
    ggufVersion: gguf.version,
    tensorCount: gguf.tensors.length,
    parameterCount: gguf.tensors.reduce((s, t) => s + t.elements, 0),
    tensorTypes,
    config,
    nodeCount: model.graph.nodes.length,
    vocabSize: vocab.tokens.length,
    files: [...IMPORTED_FILES],
  };
}
