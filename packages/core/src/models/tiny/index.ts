/** Generated random-weight test models (T5-style seq2seq folders in the Optimum / transformers.js layout). */
export { SeededRandom } from './rng.js';
export {
  type T5FeedForwardProj,
  type T5TinyConfig,
  type ResolvedT5Config,
  T5_LAYER_NORM_EPS,
  T5_TINY,
  FLAN_T5_SMALL_SHAPE,
  T5_BENCH_512,
  resolveT5Config,
  t5ParameterCount,
  t5HfConfigJson,
  t5GenerationConfigJson,
} from './t5-config.js';
export { type T5Weights, makeT5Weights, attentionWeightNames, ffnWeightNames, relativePositionBucket, relativePositionBucketTable, bucketTableName } from './t5-weights.js';
export { T5_OPSET, buildT5Encoder, buildT5Decoder, buildT5MergedDecoder } from './t5-builder.js';
export { type T5TokenizerKind, T5_ASSET_VOCAB, writeT5TokenizerFiles, smallUnigramTokenizer, resolveT5TokenizerPath } from './t5-tokenizer.js';
export { type MakeT5FolderOptions, type T5Folder, makeT5Folder } from './t5-folder.js';
export { WORD_SPECIALS, wordPieces, collectWordVocabulary, wordLevelTokenizer } from './word-tokenizer.js';
