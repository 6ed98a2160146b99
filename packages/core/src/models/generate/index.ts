/**
 * Model generators: ONNX model folders built from a config and weights (random, trained or planted),
 * T5-style seq2seq in the Optimum / transformers.js layout and Llama through the product's GGUF
 * import. The product makes its organism and its embedded default model with them; the test
 * presets live in @crispr-bench/testing. This barrel is core-internal (tests read the helpers);
 * core's index exports the generators.
 */
export { SeededRandom } from './rng.js';
export {
  type T5FeedForwardProj,
  type T5TinyConfig,
  type ResolvedT5Config,
  T5_LAYER_NORM_EPS,
  resolveT5Config,
  t5ParameterCount,
  t5HfConfigJson,
  t5GenerationConfigJson,
} from './t5-config.js';
export {
  type T5Weights,
  makeT5Weights,
  attentionWeightNames,
  ffnWeightNames,
  relativePositionBucket,
  relativePositionBucketTable,
  bucketTableName,
} from './t5-weights.js';
export { T5_OPSET, buildT5Encoder, buildT5Decoder, buildT5MergedDecoder } from './t5-builder.js';
export { type T5TokenizerKind, T5_ASSET_VOCAB, writeT5TokenizerFiles, smallUnigramTokenizer, resolveT5TokenizerPath } from './t5-tokenizer.js';
export { type MakeT5FolderOptions, type T5Folder, makeT5Folder } from './t5-folder.js';
export { WORD_SPECIALS, wordPieces, collectWordVocabulary, wordLevelTokenizer } from './word-tokenizer.js';
export {
  type WeightOverride,
  type LlamaFolderConfig,
  type MakeLlamaFolderOptions,
  type LlamaFolderSummary,
  SPECIAL_PIECES,
  BYTE_PIECES,
  spmPieceType,
  spmWordPieces,
  spmVocabFromPieces,
  llamaTensorPlan,
  makeLlamaGguf,
  makeLlamaFolder,
} from './llama-folder.js';
