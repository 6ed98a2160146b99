export * from './types/items.js';
export * from './types/cli.js';
export * from './onnx/index.js';
export * from './runtime/index.js';
export * from './autodiff/index.js';
export * from './gguf/index.js';
export * from './models/index.js';
// Model generators, as the product uses them (the organism, the embedded default model).
export {
  SeededRandom,
  type T5FeedForwardProj,
  type T5TinyConfig,
  type ResolvedT5Config,
  type T5Weights,
  type MakeT5FolderOptions,
  type T5Folder,
  resolveT5Config,
  t5ParameterCount,
  makeT5Weights,
  makeT5Folder,
  collectWordVocabulary,
  wordLevelTokenizer,
  type WeightOverride,
  type LlamaFolderConfig,
  type MakeLlamaFolderOptions,
  type LlamaFolderSummary,
  spmPieceType,
  spmWordPieces,
  makeLlamaFolder,
} from './models/generate/index.js';
export * from './attribution/index.js';
export * from './util/random.js';
export * from './util/safe-name.js';
export * from './train/index.js';
