/** Model folders for the model-adapter tests, built once per test file in a temporary folder. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { importGguf } from '../../src/gguf/import.js';
import { makeT5Folder } from '../../src/models/generate/index.js';
import { T5_TINY } from '@crispr-bench/testing';

process.env.ORT_DISABLE_TELEMETRY = '1';

export const ASSETS = process.env.CRISPR_ASSETS ?? resolve(__dirname, '../../../../../shared/assets');
export const STORIES_GGUF = join(ASSETS, 'models/stories260K/stories260K.gguf');
export const T5_TOKENIZER = join(ASSETS, 'tokenizers/t5/tokenizer.json');
export const HAVE_STORIES = existsSync(STORIES_GGUF);
export const HAVE_T5_TOKENIZER = existsSync(T5_TOKENIZER);
export const NO_STORIES = `stories260K.gguf not found at ${STORIES_GGUF} (set CRISPR_ASSETS)`;
export const NO_T5_TOKENIZER = `the T5 tokenizer asset is not at ${T5_TOKENIZER} (set CRISPR_ASSETS)`;

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `crispr-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** stories260K imported into `<parent>/stories260K`. */
export function storiesFolder(parent: string): string {
  const dir = join(parent, 'stories260K');
  importGguf(STORIES_GGUF, dir);
  return dir;
}

/**
 * T5_TINY (random weights, the real T5 tokenizer) into `<parent>/<name>`; `merged` selects the
 * decoder_model_merged.onnx-only layout that transformers.js reads.
 */
export function t5Folder(parent: string, name = 't5-tiny', layout: 'both' | 'merged' | 'plain' = 'both'): string {
  const dir = join(parent, name);
  makeT5Folder(dir, T5_TINY, { assetsDir: ASSETS, decoderModel: layout !== 'merged', mergedDecoder: layout !== 'plain' });
  return dir;
}

/** log-softmax of logits row `pos` of a flat [.., V] array, in float64. */
export function logSoftmaxRow(flat: ArrayLike<number>, pos: number, V: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, flat[pos * V + i]!);
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(flat[pos * V + i]! - max);
  const lse = max + Math.log(sum);
  return Float64Array.from({ length: V }, (_, i) => flat[pos * V + i]! - lse);
}

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
