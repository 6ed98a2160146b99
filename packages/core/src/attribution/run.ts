/**
 * Running attribution over many examples: bucketing by length, a batch size bounded by memory,
 * one cached session per bucket, and the per-example rows gathered back in input order.
 */
import type { Tensor } from '../onnx/types.js';
import { tensor } from '../onnx/tensor.js';
import { SessionCache, type ModelSession, type SessionOptions } from '../runtime/session.js';
import { probeShapes } from '../runtime/shape-probe.js';
import type { NeuronSite } from '../models/sites.js';
import { buildAttributionGraph, type AttributionGraph } from './graph.js';
import type { AttributionBucket, AttributionExample, AttributionOptions, AttributionResult, SiteAttribution } from './types.js';

export interface AttributionModel {
  kind: 'seq2seq' | 'decoder-only';
  graph: import('../onnx/types.js').Model;
  sites: NeuronSite[];
  decoderStartTokenId?: number;
  /** A stable identity for session caching (e.g. the folder path). */
  id: string;
}

export interface RunOptions extends AttributionOptions {
  /** Largest batch to use (default 8). */
  maxBatch?: number;
  /** Memory budget for one batch's activations and gradients, in MiB (default 2048). */
  memoryLimitMiB?: number;
  /** Input lengths are padded up to a multiple of this (default 16; coarser past 8x, see bucketLength) so that few buckets compile. Targets: TARGET_MULTIPLE. */
  lengthMultiple?: number;
  /** Masks per site (default ones). Values of length `width`. */
  masks?: Record<string, Float32Array>;
  session?: SessionOptions;
  /** Called after every batch, for progress reporting (run() may pass its own). */
  onProgress?: (done: number, total: number) => void;
}

const FFN_KINDS = new Set(['ffn_in', 'ffn_gate', 'ffn_up', 'ffn_down']);

export function selectSites(sites: NeuronSite[], kinds: AttributionOptions['kinds']): NeuronSite[] {
  if (!kinds || kinds === 'all') return sites;
  if (kinds === 'ffn') return sites.filter((s) => FFN_KINDS.has(s.kind));
  const set = new Set(kinds);
  const unknown = kinds.filter((k) => !sites.some((s) => s.kind === k));
  if (unknown.length) throw new Error(`no sites of kind ${unknown.join(', ')}; the model has ${[...new Set(sites.map((s) => s.kind))].join(', ')}`);
  return sites.filter((s) => set.has(s.kind));
}

/**
 * The bucket length for n tokens: a multiple of m up to 8m, then coarser steps of at most n/8
 * (2m from 8m, 4m from 16m, ...), so long prompts of varied length share a few compiled graphs
 * at a padding cost under an eighth.
 */
export function bucketLength(n: number, m: number): number {
  const step = m * 2 ** Math.max(0, Math.floor(Math.log2(n / (8 * m))));
  return Math.max(m, Math.ceil(n / step) * step);
}

/**
 * Target buckets are multiples of this: answers are a few tokens, and every padded target
 * position costs a vocabulary-wide LM head row, softmax and gradient.
 */
export const TARGET_MULTIPLE = 4;

/** The bucket lengths one example needs: input (encoder, or prompt + target) and target tokens. */
export function exampleLengths(kind: AttributionModel['kind'], ex: AttributionExample): { input: number; target: number } {
  if (ex.targetIds.length === 0) throw new Error('attribution: an example has an empty target');
  if (kind === 'seq2seq') {
    if (ex.promptIds.length === 0) throw new Error('attribution: an example has an empty prompt');
    return { input: ex.promptIds.length, target: ex.targetIds.length };
  }
  if (ex.promptIds.length === 0) throw new Error('attribution: a decoder-only example needs at least one prompt token (e.g. BOS)');
  return { input: ex.promptIds.length + ex.targetIds.length, target: ex.targetIds.length };
}

/** Builds the feeds of one batch; rows past `examples.length` are fillers with no target. */
export function buildFeeds(model: AttributionModel, bucket: AttributionBucket, examples: AttributionExample[]): Record<string, Tensor> {
  const { batch: B, inputLength: P, targetLength: T } = bucket;
  const ids = new BigInt64Array(B * P);
  const attn = new BigInt64Array(B * P);
  const labels = new BigInt64Array(B * T);
  const labelMask = new Float32Array(B * T);
  const dec = new BigInt64Array(B * T);
  const tokenMask = new Float32Array(B * P);
  const targetIndex = new BigInt64Array(B * T);
  for (let r = 0; r < B; r++) {
    const ex = examples[r];
    for (let k = 0; k < T; k++) targetIndex[r * T + k] = BigInt(r * P); // fillers read a valid row
    if (!ex) {
      attn[r * P] = 1n; // a filler row attends to one token so no softmax row is empty
      continue;
    }
    ex.targetIds.forEach((t, k) => {
      labels[r * T + k] = BigInt(t);
      labelMask[r * T + k] = 1;
    });
    if (model.kind === 'seq2seq') {
      ex.promptIds.forEach((t, i) => {
        ids[r * P + i] = BigInt(t);
        attn[r * P + i] = 1n;
      });
      const start = BigInt(model.decoderStartTokenId ?? 0);
      ex.targetIds.forEach((_, k) => {
        dec[r * T + k] = k === 0 ? start : BigInt(ex.targetIds[k - 1]!);
      });
    } else {
      const seq = [...ex.promptIds, ...ex.targetIds];
      seq.forEach((t, i) => {
        ids[r * P + i] = BigInt(t);
        attn[r * P + i] = 1n;
      });
      // Position t predicts seq[t + 1]; the target tokens are predicted from the last prompt
      // position through the second-to-last target position.
      const first = ex.promptIds.length - 1;
      ex.targetIds.forEach((_, k) => {
        targetIndex[r * T + k] = BigInt(r * P + first + k);
        tokenMask[r * P + first + k] = 1;
      });
    }
  }
  const feeds: Record<string, Tensor> = {
    input_ids: { dtype: 'int64', dims: [B, P], data: ids },
    attention_mask: { dtype: 'int64', dims: [B, P], data: attn },
    labels: { dtype: 'int64', dims: [B, T], data: labels },
    label_mask: { dtype: 'float32', dims: [B, T], data: labelMask },
  };
  if (model.kind === 'seq2seq') feeds.decoder_input_ids = { dtype: 'int64', dims: [B, T], data: dec };
  else {
    feeds.token_mask = { dtype: 'float32', dims: [B, P], data: tokenMask };
    feeds.target_index = { dtype: 'int64', dims: [B, T], data: targetIndex };
  }
  return feeds;
}

/**
 * Bytes per example of one attribution run, measured rather than guessed: the float activations
 * of one forward pass at batch 1 and the largest lengths (from an ORT shape probe), times three
 * (activations kept for the backward pass, their gradients, and temporaries).
 */
export async function measureBytesPerExample(model: AttributionModel, inputLength: number, targetLength: number): Promise<number> {
  const dims: Record<string, number[]> = { input_ids: [1, inputLength], attention_mask: [1, inputLength] };
  if (model.kind === 'seq2seq') dims.decoder_input_ids = [1, targetLength];
  const shapes = await probeShapes(model.graph, {}, dims);
  let bytes = 0;
  for (const [name, m] of shapes) {
    if (model.graph.graph.initializers.has(name)) continue;
    if (m.dtype === 'float32') bytes += 4 * m.dims.reduce((a, d) => a * d, 1);
  }
  return bytes * 3;
}

export class Attributor {
  private cache: SessionCache;
  private graphs = new Map<string, Promise<AttributionGraph>>();
  private footprints = new Map<string, Promise<number>>();

  constructor(
    readonly model: AttributionModel,
    readonly opts: RunOptions = {},
  ) {
    this.cache = new SessionCache(opts.session ?? {}, 6);
  }

  private sites(): NeuronSite[] {
    return selectSites(this.model.sites, this.opts.kinds);
  }

  private async session(bucket: AttributionBucket): Promise<{ graph: AttributionGraph; session: ModelSession }> {
    const key = `${bucket.batch}x${bucket.inputLength}x${bucket.targetLength}|${this.opts.objective ?? 'logprob'}|${this.opts.reduce ?? 'max'}|${JSON.stringify(this.opts.kinds ?? 'all')}`;
    let gp = this.graphs.get(key);
    if (!gp) {
      gp = buildAttributionGraph(this.model.graph, this.model.kind, this.sites(), bucket, this.opts);
      this.graphs.set(key, gp);
    }
    const graph = await gp;
    const session = await this.cache.get(this.model.id, key, () => graph.model);
    return { graph, session };
  }

  async run(examples: AttributionExample[], onProgress = this.opts.onProgress): Promise<AttributionResult> {
    const mult = this.opts.lengthMultiple ?? 16;
    const lens = examples.map((e) => exampleLengths(this.model.kind, e));
    const maxIn = Math.max(...lens.map((l) => bucketLength(l.input, mult)));
    const maxT = Math.max(...lens.map((l) => bucketLength(l.target, TARGET_MULTIPLE)));
    const fpKey = `${maxIn}x${maxT}`;
    if (!this.footprints.has(fpKey)) this.footprints.set(fpKey, measureBytesPerExample(this.model, maxIn, maxT));
    const bytesPerExample = await this.footprints.get(fpKey)!;
    const limit = (this.opts.memoryLimitMiB ?? 2048) * 1024 * 1024;
    const batchSize = Math.max(1, Math.min(this.opts.maxBatch ?? 8, Math.floor(limit / bytesPerExample), examples.length));

    // Group by bucket so that each bucket's session compiles once. Decoder-only targets are only
    // the rows gathered for the LM head (the input length covers them), so a group takes its
    // longest target rather than splitting into more graphs; seq2seq targets are the decoder.
    const byInput = this.model.kind === 'decoder-only';
    const keyed = new Map<string, number[]>();
    lens.forEach((l, i) => {
      const key = `${bucketLength(l.input, mult)}${byInput ? '' : `x${bucketLength(l.target, TARGET_MULTIPLE)}`}`;
      (keyed.get(key) ?? keyed.set(key, []).get(key)!).push(i);
    });
    const groups = new Map<string, number[]>();
    for (const [key, idx] of keyed) {
      const t = byInput ? bucketLength(Math.max(...idx.map((i) => lens[i]!.target)), TARGET_MULTIPLE) : Number(key.split('x')[1]);
      groups.set(`${key.split('x')[0]}x${t}`, idx);
    }
    const sites = this.sites();
    const objective = new Array<number>(examples.length);
    const logprob = new Array<number>(examples.length);
    const values = sites.map(() => new Array<Float32Array>(examples.length));
    const buckets: AttributionBucket[] = [];
    let done = 0;
    for (const [key, idx] of groups) {
      const [inputLength, t] = key.split('x').map(Number) as [number, number];
      const bucket: AttributionBucket = { batch: batchSize, inputLength, targetLength: t };
      buckets.push(bucket);
      const { graph, session } = await this.session(bucket);
      const maskFeeds: Record<string, Tensor> = {};
      for (const s of sites) {
        const given = this.opts.masks?.[s.name];
        if (given && given.length !== s.width) throw new Error(`mask for site '${s.name}' has length ${given.length}, the site has width ${s.width}`);
        maskFeeds[graph.maskInputs.get(s.name)!] = tensor('float32', [s.width], given ?? new Float32Array(s.width).fill(1));
      }
      for (let off = 0; off < idx.length; off += batchSize) {
        const rows = idx.slice(off, off + batchSize);
        const feeds = { ...buildFeeds(this.model, bucket, rows.map((i) => examples[i]!)), ...maskFeeds };
        const res = await session.run(feeds);
        const obj = res[graph.objectiveOutput]!.data as Float32Array;
        const lp = res[graph.logprobOutput]!.data as Float32Array;
        rows.forEach((ex, r) => {
          objective[ex] = obj[r]!;
          logprob[ex] = lp[r]!;
        });
        sites.forEach((s, k) => {
          const data = res[graph.outputs.get(s.name)!]!.data as Float32Array;
          rows.forEach((ex, r) => {
            values[k]![ex] = data.slice(r * s.width, (r + 1) * s.width);
          });
        });
        done += rows.length;
        onProgress?.(done, examples.length);
      }
    }
    const siteResults: SiteAttribution[] = sites.map((s, k) => ({ name: s.name, side: s.side, width: s.width, layer: s.layer, kind: s.kind, values: values[k]! }));
    return { objective, logprob, sites: siteResults, plan: { batchSize, buckets, bytesPerExample } };
  }

  async close(): Promise<void> {
    await this.cache.clear();
  }
}
