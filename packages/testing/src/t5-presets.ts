/** T5 shapes for tests and benchmarks, built by core's makeT5Folder (random weights). */
import type { T5TinyConfig } from '@crispr-bench/core';

/** Tiny model for unit tests: fast to build and run, real T5 vocabulary size. */
export const T5_TINY: T5TinyConfig = {
  dModel: 32,
  dFf: 64,
  dKv: 8,
  numHeads: 4,
  numLayers: 2,
  numDecoderLayers: 2,
  vocabSize: 32128,
  relativeAttentionNumBuckets: 32,
  relativeAttentionMaxDistance: 128,
  feedForwardProj: 'gated-gelu',
  seed: 1,
  tokenizer: 'assets-t5',
};

/** The shape of google/flan-t5-small (76,961,152 parameters) with random weights. */
export const FLAN_T5_SMALL_SHAPE: T5TinyConfig = {
  dModel: 512,
  dFf: 1024,
  dKv: 64,
  numHeads: 6,
  numLayers: 8,
  numDecoderLayers: 8,
  vocabSize: 32128,
  relativeAttentionNumBuckets: 32,
  relativeAttentionMaxDistance: 128,
  feedForwardProj: 'gated-gelu',
  tieWordEmbeddings: false,
  seed: 1,
  tokenizer: 'assets-t5',
};

/**
 * The attribution benchmark's model shape: d_model 512, d_ff 1024, 8 heads (d_kv 64), 8 + 8 layers,
 * vocab 32128, gated-GELU FFN, untied head.
 */
export const T5_BENCH_512: T5TinyConfig = {
  ...FLAN_T5_SMALL_SHAPE,
  numHeads: 8,
};
