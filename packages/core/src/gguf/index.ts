export {
  readGguf,
  tensorData,
  findTensor,
  meta as ggufMeta,
  metaNumber as ggufMetaNumber,
  metaString as ggufMetaString,
  metaBool as ggufMetaBool,
  metaArray as ggufMetaArray,
  metadataSummary as ggufMetadataSummary,
  GgufError,
  GgufValueType,
  GGML_TYPE_NAMES,
  type GgufFile,
  type GgufTensorInfo,
  type GgufValue,
  type GgufArray,
  type GgufScalar,
  type GgufMetadataEntry,
} from './reader.js';
export {
  spmVocabFromGguf,
  spmBpeEncode,
  spmDecode,
  spmMerges,
  spmToHfTokenizer,
  SpmTokenType,
  type SpmVocab,
  type HfTokenizerFiles,
} from './tokenizer.js';
export { buildLlamaOnnx, llamaConfigFromGguf, interleavedToHalfRows, LLAMA_OPSET, type LlamaConfig, type LlamaOnnxResult } from './llama-onnx.js';
export { importGguf, IMPORTED_FILES, type ImportGgufOptions, type ImportGgufSummary } from './import.js';
export {
  writeGguf,
  ggufValue,
  type GgufContent,
  type GgufTensorInput,
  type GgufFloatTensor,
  type GgufRawTensor,
  type WriteGgufOptions,
} from './writer.js';
