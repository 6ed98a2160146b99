/**
 * Decoder-only models with a key/value cache graph (`onnx/decoder_with_past_model.onnx`, which
 * `crispr import gguf` writes and Optimum exports): a prompt is run once, its keys and values are
 * kept, and each candidate (scoring) or target window (attribution) runs on top of them. A
 * candidate of a few tokens then costs a few positions instead of the whole prompt again.
 *
 * Contract of the cache graph: inputs `input_ids` [batch, new], `attention_mask` [batch, past +
 * new] (1 = real token; positions are cumsum(mask) - 1, so a right-padded past is fine) and
 * `past_key_values.<l>.key|value` [batch, heads, past, head_dim]; outputs `logits` and
 * `present.<l>.key|value` (past followed by the new tokens). Its neuron sites are the folder's
 * (same node and value names as the analysis graph). Folders without such a graph use the
 * full-sequence graph (scoring.ts, attribution/run.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Model, Tensor } from '../onnx/types.js';
import { readModel } from '../onnx/io.js';
import { removeDeadNodes } from '../onnx/graph.js';
import { upcastHalf } from '../onnx/upcast.js';
import { firstQuantisedNode } from './layout.js';
import type { ModelFolder } from './folder.js';

/** The fp32 cache graph's path in a folder (other variants carry their suffix). */
export const CACHE_GRAPH_FILE = 'onnx/decoder_with_past_model.onnx';

export interface CacheLayer {
  key: string;
  value: string;
  presentKey: string;
  presentValue: string;
}

export interface CacheGraph {
  /** The cache graph as read (inputs input_ids, attention_mask, past_key_values.*). */
  model: Model;
  layers: CacheLayer[];
  heads: number;
  headDim: number;
}

const loaded = new WeakMap<ModelFolder, CacheGraph | null>();

/** The folder's cache graph, or undefined when it has none this module can drive. */
export function cacheGraph(folder: ModelFolder): CacheGraph | undefined {
  if (loaded.has(folder)) return loaded.get(folder) ?? undefined;
  let found: CacheGraph | null = null;
  // The layout's with-past file of the folder's variant (fp16 widened as the analysis graph is; a
  // quantised one is not driven), so candidates are scored with the analysis graph's weights.
  const file = folder.layout.files.find((f) => f.base === 'decoder_with_past_model')?.file;
  const path = file ? join(folder.dir, file) : '';
  if (folder.kind === 'decoder-only' && path && existsSync(path)) {
    const raw = readModel(path);
    if (!firstQuantisedNode(raw.graph)) found = describe(upcastHalf(raw).model, folder);
  }
  loaded.set(folder, found);
  return found ?? undefined;
}

function describe(model: Model, folder: ModelFolder): CacheGraph | null {
  const g = model.graph;
  const names = new Set(g.inputs.map((i) => i.name));
  const outs = new Set(g.outputs.map((o) => o.name));
  if (!names.has('input_ids') || !names.has('attention_mask') || !outs.has('logits')) return null;
  const layers: CacheLayer[] = [];
  for (let l = 0; names.has(`past_key_values.${l}.key`); l++) {
    const layer = { key: `past_key_values.${l}.key`, value: `past_key_values.${l}.value`, presentKey: `present.${l}.key`, presentValue: `present.${l}.value` };
    if (!names.has(layer.value) || !outs.has(layer.presentKey) || !outs.has(layer.presentValue)) return null;
    layers.push(layer);
  }
  // Anything else to feed (position_ids, use_cache_branch) is not driven here.
  if (!layers.length || g.inputs.length !== 2 + 2 * layers.length) return null;
  const shape = g.inputs.find((i) => i.name === layers[0]!.key)!.shape;
  const heads = shape?.[1];
  const headDim = shape?.[3];
  if (typeof heads !== 'number' || typeof headDim !== 'number') return null;
  const produced = new Set(g.nodes.flatMap((n) => n.outputs));
  if (!folder.sites.every((s) => produced.has(s.output) && g.initializers.has(s.weight))) return null;
  // Both graphs carry the weights; a folder edited in one file only would score candidates with
  // other weights than the ones attributed, so that is refused rather than silently mixed.
  for (const s of folder.sites) {
    const a = g.initializers.get(s.weight)!.data;
    const b = folder.graph.graph.initializers.get(s.weight)?.data;
    if (!b || a.length !== b.length || !(a as Float32Array).every((x, i) => x === (b as Float32Array)[i])) {
      throw new Error(
        `${folder.dir}: the cache graph's weight '${s.weight}' (site ${s.name}) differs from the model graph's (${folder.files.join(', ')}); the files were changed separately: re-export the folder or remove the cache graph`,
      );
    }
  }
  return { model, layers, heads, headDim };
}

/** The cache graph with only the present outputs (a prompt pass: no LM head). */
export function prefixModel(c: CacheGraph): Model {
  const g = { ...c.model.graph, outputs: c.model.graph.outputs.filter((o) => o.name.startsWith('present.')) };
  return { ...c.model, graph: removeDeadNodes(g, { removeUnusedInputs: false }) };
}

/** Empty past tensors for a batch (no cached tokens). */
export function emptyPast(c: CacheGraph, batch: number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const l of c.layers) {
    for (const n of [l.key, l.value]) out[n] = { dtype: 'float32', dims: [batch, c.heads, 0, c.headDim], data: new Float32Array(0) };
  }
  return out;
}

/**
 * Past feeds for rows that each continue one cached prompt: row r reads row `rows[r]` of the
 * present tensors of a prompt pass (`present` [prompts, heads, P, head_dim] per layer, or the
 * row blocks of several passes, one after the other).
 */
export function pastFor(c: CacheGraph, present: Record<string, Tensor | Tensor[]>, rows: number[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const l of c.layers) {
    out[l.key] = rowsOf(present[l.presentKey]!, rows);
    out[l.value] = rowsOf(present[l.presentValue]!, rows);
  }
  return out;
}

/**
 * Rows `rows` of a [batch, ...] float tensor, or of row blocks taken one after the other, in that
 * order (rows may repeat); the tensor itself when that is every row of one tensor in order.
 */
export function rowsOf(t: Tensor | Tensor[], rows: number[]): Tensor {
  const blocks = Array.isArray(t) ? t : [t];
  const one = blocks.length === 1 ? blocks[0]! : undefined;
  if (one && rows.length === one.dims[0] && rows.every((r, i) => r === i)) return one;
  const [, ...rest] = blocks[0]!.dims;
  const size = rest.reduce((a, d) => a * d, 1);
  // Block of each row index.
  const where: [Float32Array, number][] = [];
  for (const b of blocks) for (let r = 0; r < b.dims[0]!; r++) where.push([b.data as Float32Array, r]);
  const data = new Float32Array(rows.length * size);
  rows.forEach((p, r) => {
    const [src, at] = where[p]!;
    data.set(src.subarray(at * size, (at + 1) * size), r * size);
  });
  return { dtype: 'float32', dims: [rows.length, ...rest], data };
}
