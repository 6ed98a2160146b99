/**
 * Running attribution over many examples: bucketing by length, a batch size bounded by memory,
 * one cached session per bucket, and the per-example rows gathered back in input order.
 */
import type { Tensor } from '../onnx/types.js';
import { tensor } from '../onnx/tensor.js';
import { SessionCache, type ModelSession, type SessionOptions } from '../runtime/session.js';
import { probeShapes } from '../runtime/shape-probe.js';
import type { NeuronSite } from '../models/sites.js';
import { addSiteMasks } from '../models/masks.js';
import { prefixModel, type CacheGraph } from '../models/cache.js';
import { promptCaches } from '../models/prompt-cache.js';
import { buildAttributionGraph, type AttributionGraph } from './graph.js';
import { buildChoiceGraph, CHOICE, type ChoiceGraph } from './choice-graph.js';
import type { AttributionBucket, AttributionExample, AttributionOptions, AttributionResult, ChoiceExample, ChoiceResult, SiteAttribution } from './types.js';

export interface AttributionModel {
  kind: 'seq2seq' | 'decoder-only';
  graph: import('../onnx/types.js').Model;
  sites: NeuronSite[];
  decoderStartTokenId?: number;
  /** A stable identity for session caching (e.g. the folder path). */
  id: string;
  /**
   * Decoder-only: the folder's cache graph. Attribution then runs each prompt once, forward only,
   * and differentiates only the target window on its keys and values (see graph.ts).
   */
  cache?: CacheGraph;
}

export interface RunOptions extends AttributionOptions {
  /** Largest batch to use, in rows (an item's biased and gold answers are two); default DEFAULT_ATTRIBUTION_BATCH. */
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
  /**
   * seq2seq: run the encoder forward once per distinct prompt of a batch (an item's biased and
   * gold targets share it) and gather it to the rows' backward passes. Default true; false builds
   * the plain graph (for comparison).
   */
  sharePrompts?: boolean;
}

/**
 * Rows per attribution run unless the memory budget allows fewer: 8 items' biased and gold answers.
 * At T5 d_model 64 with 128-token prompts, 16 rows per run took a tenth less time than two runs of 8.
 */
export const DEFAULT_ATTRIBUTION_BATCH = 16;

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

/**
 * The bucket lengths one example needs: input (encoder; prompt + target; or, with a cache graph,
 * the cached prompt tokens: all but the last) and target tokens.
 */
export function exampleLengths(model: Pick<AttributionModel, 'kind' | 'cache'>, ex: AttributionExample): { input: number; target: number } {
  if (ex.targetIds.length === 0) throw new Error('attribution: an example has an empty target');
  if (model.kind === 'seq2seq') {
    if (ex.promptIds.length === 0) throw new Error('attribution: an example has an empty prompt');
    return { input: ex.promptIds.length, target: ex.targetIds.length };
  }
  if (ex.promptIds.length === 0) throw new Error('attribution: a decoder-only example needs at least one prompt token (e.g. BOS)');
  if (model.cache) return { input: ex.promptIds.length - 1, target: ex.targetIds.length };
  return { input: ex.promptIds.length + ex.targetIds.length, target: ex.targetIds.length };
}

/**
 * Builds the feeds of one batch; rows past `examples.length` are fillers with no target. With
 * `promptIndex` (a seq2seq graph with shared prompts) input_ids and attention_mask hold the
 * batch's distinct prompts and that input maps each row to its prompt (fillers to the first).
 */
export function buildFeeds(model: AttributionModel, bucket: AttributionBucket, examples: AttributionExample[], promptIndex?: string): Record<string, Tensor> {
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
  if (model.kind === 'seq2seq') {
    feeds.decoder_input_ids = { dtype: 'int64', dims: [B, T], data: dec };
    if (promptIndex) Object.assign(feeds, sharedPromptInputs(bucket, examples, promptIndex));
  } else {
    feeds.token_mask = { dtype: 'float32', dims: [B, P], data: tokenMask };
    feeds.target_index = { dtype: 'int64', dims: [B, T], data: targetIndex };
  }
  return feeds;
}

/** The batch's distinct prompts as input_ids and attention_mask [prompts, P], and each row's prompt (fillers: the first). */
function sharedPromptInputs(bucket: AttributionBucket, examples: AttributionExample[], promptIndex: string): Record<string, Tensor> {
  const { batch: B, inputLength: P } = bucket;
  const prompts = new Map<string, number>();
  const rowPrompt = new BigInt64Array(B);
  const ids: bigint[] = [];
  const attn: bigint[] = [];
  examples.forEach((ex, r) => {
    const key = ex.promptIds.join(',');
    let q = prompts.get(key);
    if (q === undefined) {
      prompts.set(key, (q = prompts.size));
      for (let i = 0; i < P; i++) {
        ids.push(i < ex.promptIds.length ? BigInt(ex.promptIds[i]!) : 0n);
        attn.push(i < ex.promptIds.length ? 1n : 0n);
      }
    }
    rowPrompt[r] = BigInt(q);
  });
  if (!prompts.size) {
    // A batch of fillers only still has a prompt that attends to one token.
    for (let i = 0; i < P; i++) {
      ids.push(0n);
      attn.push(i === 0 ? 1n : 0n);
    }
  }
  const Q = Math.max(1, prompts.size);
  return {
    input_ids: { dtype: 'int64', dims: [Q, P], data: BigInt64Array.from(ids) },
    attention_mask: { dtype: 'int64', dims: [Q, P], data: BigInt64Array.from(attn) },
    [promptIndex]: { dtype: 'int64', dims: [B], data: rowPrompt },
  };
}

/**
 * Feeds of one choice-graph run (see choice-graph.ts) for up to N = bucket.batch / 2 items with at
 * most C candidates each. Missing candidate slots and filler items have an all-zero label mask and
 * may not be chosen; a filler prompt attends to one token.
 */
export function choiceFeeds(decoderStart: number, bucket: AttributionBucket, C: number, items: ChoiceExample[], promptIndex: string): Record<string, Tensor> {
  const { batch: B, inputLength: P, targetLength: T } = bucket;
  const N = B / 2;
  const R = N * C;
  const ids = new BigInt64Array(N * P);
  const attn = new BigInt64Array(N * P);
  const dec = new BigInt64Array(R * T);
  const labels = new BigInt64Array(R * T);
  const labelMask = new Float32Array(R * T);
  const candPrompt = new BigInt64Array(R);
  const wrong = new Float32Array(N * C);
  const goldRows = new BigInt64Array(N);
  const rowPrompt = BigInt64Array.from({ length: B }, (_, r) => BigInt(r >> 1));
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) candPrompt[n * C + c] = BigInt(n);
    goldRows[n] = BigInt(n * C);
    const it = items[n];
    if (!it) {
      attn[n * P] = 1n;
      continue;
    }
    it.promptIds.forEach((t, i) => {
      ids[n * P + i] = BigInt(t);
      attn[n * P + i] = 1n;
    });
    goldRows[n] = BigInt(n * C + it.gold);
    it.candidates.forEach((target, c) => {
      const row = n * C + c;
      if (c !== it.gold) wrong[n * C + c] = 1;
      target.forEach((t, k) => {
        labels[row * T + k] = BigInt(t);
        labelMask[row * T + k] = 1;
        dec[row * T + k] = k === 0 ? BigInt(decoderStart) : BigInt(target[k - 1]!);
      });
    });
  }
  return {
    input_ids: { dtype: 'int64', dims: [N, P], data: ids },
    attention_mask: { dtype: 'int64', dims: [N, P], data: attn },
    [promptIndex]: { dtype: 'int64', dims: [B], data: rowPrompt },
    [CHOICE.decoderInputIds]: { dtype: 'int64', dims: [R, T], data: dec },
    [CHOICE.labels]: { dtype: 'int64', dims: [R, T], data: labels },
    [CHOICE.labelMask]: { dtype: 'float32', dims: [R, T], data: labelMask },
    [CHOICE.promptRows]: { dtype: 'int64', dims: [R], data: candPrompt },
    [CHOICE.wrong]: { dtype: 'float32', dims: [N, C], data: wrong },
    [CHOICE.goldRows]: { dtype: 'int64', dims: [N], data: goldRows },
  };
}

/**
 * Feeds of one batch of a cached window graph, given the batch's prompt pass (`present`, rows
 * aligned with the batch, prompt length = bucket.inputLength, right-padded as `promptMask`).
 */
export function buildCachedFeeds(
  c: CacheGraph,
  bucket: AttributionBucket,
  examples: AttributionExample[],
  present: Record<string, Tensor>,
  promptMask: BigInt64Array,
): Record<string, Tensor> {
  const { batch: B, inputLength: P, targetLength: T } = bucket;
  const ids = new BigInt64Array(B * T);
  const attn = new BigInt64Array(B * (P + T));
  const labels = new BigInt64Array(B * T);
  const labelMask = new Float32Array(B * T);
  for (let r = 0; r < B; r++) {
    const ex = examples[r];
    attn.set(promptMask.subarray(r * P, (r + 1) * P), r * (P + T));
    if (!ex) {
      attn[r * (P + T) + P] = 1n; // a filler row attends to one token so no softmax row is empty
      continue;
    }
    // Window position k holds the token that predicts target k: the last prompt token, then the target.
    ex.targetIds.forEach((t, k) => {
      ids[r * T + k] = BigInt(k === 0 ? ex.promptIds[ex.promptIds.length - 1]! : ex.targetIds[k - 1]!);
      attn[r * (P + T) + P + k] = 1n;
      labels[r * T + k] = BigInt(t);
      labelMask[r * T + k] = 1;
    });
  }
  const feeds: Record<string, Tensor> = {
    input_ids: { dtype: 'int64', dims: [B, T], data: ids },
    attention_mask: { dtype: 'int64', dims: [B, P + T], data: attn },
    labels: { dtype: 'int64', dims: [B, T], data: labels },
    label_mask: { dtype: 'float32', dims: [B, T], data: labelMask },
  };
  for (const l of c.layers) {
    feeds[l.key] = present[l.presentKey]!;
    feeds[l.value] = present[l.presentValue]!;
  }
  return feeds;
}

/**
 * Bytes per example of one attribution run, measured rather than guessed: the float activations
 * of one forward pass at batch 1 and the largest lengths (from an ORT shape probe), times
 * FOOTPRINT_FACTOR.
 */
export async function measureBytesPerExample(model: AttributionModel, inputLength: number, targetLength: number): Promise<number> {
  const c = model.kind === 'decoder-only' ? model.cache : undefined;
  const dims: Record<string, number[]> = { input_ids: [1, inputLength], attention_mask: [1, inputLength] };
  if (model.kind === 'seq2seq') dims.decoder_input_ids = [1, targetLength];
  let cached = 0;
  if (c) {
    // The window on a cached prompt, plus the cached keys and values it reads. (The prompt pass
    // is forward only and runs PROMPT_CHUNK prompts at a time, outside this budget.)
    Object.assign(dims, { input_ids: [1, targetLength], attention_mask: [1, inputLength + targetLength] });
    for (const l of c.layers) dims[l.key] = dims[l.value] = [1, c.heads, inputLength, c.headDim];
    cached = 2 * c.layers.length * c.heads * inputLength * c.headDim * 4;
  }
  const graph = c ? c.model : model.graph;
  const shapes = await probeShapes(graph, {}, dims);
  let bytes = 0;
  for (const [name, m] of shapes) {
    if (graph.graph.initializers.has(name) || dims[name]) continue;
    if (m.dtype === 'float32') bytes += 4 * m.dims.reduce((a, d) => a * d, 1);
  }
  return bytes * FOOTPRINT_FACTOR + cached;
}

/**
 * Peak memory per attribution row over the sum of a batch-1 forward's float activations. ORT
 * frees and reuses buffers, so the backward never holds all of them with their gradients: from 2
 * to 16 rows, peak RSS grew by 65-75 MB per row at Flan-T5-small shape with 128-token prompts
 * (0.2 of that sum) and by 5-8 MB per row at T5 d_model 64 (0.4). 1.5 keeps twice the larger
 * margin. (It was 3, which held Flan-T5-small shape to 6 rows in the default 2 GiB.)
 */
export const FOOTPRINT_FACTOR = 1.5;

/** Prompts per forward-only prompt pass (cache graphs): a batch's worth, so its activations stay small. */
export const PROMPT_CHUNK = 8;

function presentOf(c: CacheGraph, parts: Record<string, Float32Array>, B: number, P: number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, data] of Object.entries(parts)) out[name] = { dtype: 'float32', dims: [B, c.heads, P, c.headDim], data };
  return out;
}

/** Per-row attribution outputs of several runs, gathered into result order. */
function rowCollector(sites: NeuronSite[], rows: number) {
  const objective = new Array<number>(rows);
  const logprob = new Array<number>(rows);
  const values = sites.map(() => new Array<Float32Array>(rows));
  return {
    /** Copies row `from` of one run's outputs into result row `to`. */
    take(res: Record<string, Tensor>, graph: AttributionGraph, from: number, to: number): void {
      objective[to] = (res[graph.objectiveOutput]!.data as Float32Array)[from]!;
      logprob[to] = (res[graph.logprobOutput]!.data as Float32Array)[from]!;
      sites.forEach((s, k) => {
        values[k]![to] = (res[graph.outputs.get(s.name)!]!.data as Float32Array).slice(from * s.width, (from + 1) * s.width);
      });
    },
    result(plan: AttributionResult['plan']): AttributionResult {
      const siteResults: SiteAttribution[] = sites.map((s, k) => ({
        name: s.name,
        side: s.side,
        width: s.width,
        layer: s.layer,
        kind: s.kind,
        values: values[k]!,
      }));
      return { objective, logprob, sites: siteResults, plan };
    },
  };
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

  /** Mask inputs only when masks are given: the unmasked graph has no multiply per site. */
  private get masked(): boolean {
    return this.opts.masks !== undefined;
  }

  private sites(): NeuronSite[] {
    return selectSites(this.model.sites, this.opts.kinds);
  }

  private sessionKey(bucket: AttributionBucket): string {
    return `${bucket.batch}x${bucket.inputLength}x${bucket.targetLength}|${this.opts.objective ?? 'logprob'}|${this.opts.reduce ?? 'max'}|${JSON.stringify(this.opts.kinds ?? 'all')}|${this.masked}|${this.opts.sharePrompts !== false}`;
  }

  private async session(bucket: AttributionBucket): Promise<{ graph: AttributionGraph; session: ModelSession }> {
    const key = this.sessionKey(bucket);
    let gp = this.graphs.get(key);
    if (!gp) {
      const c = this.model.kind === 'decoder-only' ? this.model.cache : undefined;
      gp = buildAttributionGraph(c ? c.model : this.model.graph, this.model.kind, this.sites(), bucket, {
        ...this.opts,
        masked: this.masked,
        ...(c ? { cache: c } : {}),
      });
      this.graphs.set(key, gp);
    }
    const graph = await gp;
    const session = await this.cache.get(this.model.id, key, () => graph.model);
    return { graph, session };
  }

  private maskFeeds(graph: AttributionGraph): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {};
    for (const s of this.masked ? this.sites() : []) {
      const given = this.opts.masks?.[s.name];
      if (given && given.length !== s.width) throw new Error(`mask for site '${s.name}' has length ${given.length}, the site has width ${s.width}`);
      feeds[graph.maskInputs.get(s.name)!] = tensor('float32', [s.width], given ?? new Float32Array(s.width).fill(1));
    }
    return feeds;
  }

  /** Cache graphs: the prompt pass (present keys/values of the selected sites' masked model). */
  private promptSession(c: CacheGraph): Promise<ModelSession> {
    return this.cache.get(this.model.id, `prompt|${JSON.stringify(this.opts.kinds ?? 'all')}|${this.masked}`, () =>
      prefixModel(this.masked ? { ...c, model: addSiteMasks(c.model, this.sites()).model } : c),
    );
  }

  /**
   * Keys and values of the batch's prompts (all but their last token), right-padded to
   * bucket.inputLength. Identical prompts (an item's biased and gold answers) run once, and
   * prompts that share a prefix run it once (promptCaches); each prompt's cache is then packed to
   * the front of its row (its keys carry their positions already, so slot order does not matter).
   */
  private async promptPass(
    c: CacheGraph,
    bucket: AttributionBucket,
    rows: AttributionExample[],
    maskFeeds: Record<string, Tensor>,
  ): Promise<{ present: Record<string, Tensor>; mask: BigInt64Array }> {
    const { batch: B, inputLength: P } = bucket;
    const mask = new BigInt64Array(B * P);
    const parts: Record<string, Float32Array> = {};
    for (const l of c.layers) for (const n of [l.presentKey, l.presentValue]) parts[n] = new Float32Array(B * c.heads * P * c.headDim);
    const unique = new Map<string, number[]>();
    rows.forEach((ex, r) => {
      const prefix = ex.promptIds.slice(0, -1);
      prefix.forEach((_, i) => (mask[r * P + i] = 1n));
      if (!prefix.length) return;
      const key = prefix.join(',');
      (unique.get(key) ?? unique.set(key, []).get(key)!).push(r);
    });
    const prompts = [...unique.values()];
    if (!prompts.length) return { present: presentOf(c, parts, B, P), mask };
    const session = await this.promptSession(c);
    const tokens = prompts.map(([r]) => rows[r!]!.promptIds.slice(0, -1));
    const D = c.headDim;
    for await (const pc of promptCaches(c, session, tokens, PROMPT_CHUNK, 0, maskFeeds)) {
      const W = pc.width;
      pc.members.forEach((u, j) => {
        // The slots that hold this prompt's tokens, in order.
        const slots: number[] = [];
        for (let i = 0; i < W; i++) if (pc.mask[j * W + i] === 1n) slots.push(i);
        for (const [name, t] of Object.entries(pc.present)) {
          const src = t.data as Float32Array; // [members, heads, W, head_dim]
          for (const r of prompts[u]!) {
            for (let h = 0; h < c.heads; h++) {
              const from = (j * c.heads + h) * W * D;
              const to = (r * c.heads + h) * P * D;
              slots.forEach((slot, i) => parts[name]!.set(src.subarray(from + slot * D, from + (slot + 1) * D), to + i * D));
            }
          }
        }
      });
    }
    return { present: presentOf(c, parts, B, P), mask };
  }

  /** Rows per run within the memory budget, from the measured footprint of one row of the longest bucket. */
  private async plan(maxIn: number, maxT: number, rows: number): Promise<{ bytesPerExample: number; batchSize: number }> {
    const fpKey = `${maxIn}x${maxT}`;
    if (!this.footprints.has(fpKey)) this.footprints.set(fpKey, measureBytesPerExample(this.model, maxIn, maxT));
    const bytesPerExample = await this.footprints.get(fpKey)!;
    const limit = (this.opts.memoryLimitMiB ?? 2048) * 1024 * 1024;
    // Refuse up front, with the numbers, what ORT would fail on with a raw allocation error.
    if (bytesPerExample > limit)
      throw new Error(
        `attribution: one example of the longest bucket (${maxIn} input x ${maxT} target tokens) needs about ${Math.ceil(bytesPerExample / 2 ** 20)} MiB for its activations and gradients, more than the memory budget of ${this.opts.memoryLimitMiB ?? 2048} MiB (--memory-mib); shorten the prompts (--truncate) or raise the budget`,
      );
    const batchSize = Math.max(1, Math.min(this.opts.maxBatch ?? DEFAULT_ATTRIBUTION_BATCH, Math.floor(limit / bytesPerExample), rows));
    return { bytesPerExample, batchSize };
  }

  async run(examples: AttributionExample[], onProgress = this.opts.onProgress): Promise<AttributionResult> {
    const mult = this.opts.lengthMultiple ?? 16;
    const c = this.model.kind === 'decoder-only' ? this.model.cache : undefined;
    const lens = examples.map((e) => exampleLengths(this.model, e));
    // A cached prompt only widens the window's attention, which costs little: power-of-two
    // buckets and one target bucket for the run keep the compiled graphs to a handful.
    const inputBucket = (n: number) => (c ? Math.max(mult, 2 ** Math.ceil(Math.log2(Math.max(1, n)))) : bucketLength(n, mult));
    const maxIn = Math.max(...lens.map((l) => inputBucket(l.input)));
    const maxT = Math.max(...lens.map((l) => bucketLength(l.target, TARGET_MULTIPLE)));
    const { bytesPerExample, batchSize } = await this.plan(maxIn, maxT, examples.length);

    // Group by bucket so that each bucket's session compiles once. Decoder-only targets are only
    // the rows gathered for the LM head (the input length covers them), so a group takes its
    // longest target rather than splitting into more graphs; seq2seq targets are the decoder.
    const byInput = this.model.kind === 'decoder-only' && !c;
    const keyed = new Map<string, number[]>();
    lens.forEach((l, i) => {
      const key = `${inputBucket(l.input)}${byInput ? '' : `x${c ? maxT : bucketLength(l.target, TARGET_MULTIPLE)}`}`;
      (keyed.get(key) ?? keyed.set(key, []).get(key)!).push(i);
    });
    const groups = new Map<string, number[]>();
    // Within a bucket, examples sorted by prompt: the biased and gold answers of an item, and
    // items whose prompts share a prefix, fall into one batch and share their prompt pass.
    const promptKey = examples.map((e) => e.promptIds.join(','));
    for (const idx of keyed.values()) idx.sort((a, b) => (promptKey[a]! < promptKey[b]! ? -1 : promptKey[a]! > promptKey[b]! ? 1 : a - b));
    for (const [key, idx] of keyed) {
      const t = byInput ? bucketLength(Math.max(...idx.map((i) => lens[i]!.target)), TARGET_MULTIPLE) : Number(key.split('x')[1]);
      groups.set(`${key.split('x')[0]}x${t}`, idx);
    }
    const out = rowCollector(this.sites(), examples.length);
    const buckets: AttributionBucket[] = [];
    let done = 0;
    let sharedPrompts = false;
    for (const [key, idx] of groups) {
      const [inputLength, t] = key.split('x').map(Number) as [number, number];
      const bucket: AttributionBucket = { batch: batchSize, inputLength, targetLength: t };
      buckets.push(bucket);
      const { graph, session } = await this.session(bucket);
      if (graph.promptIndex) sharedPrompts = true;
      const maskFeeds = this.maskFeeds(graph);
      for (let off = 0; off < idx.length; off += batchSize) {
        const rows = idx.slice(off, off + batchSize);
        const batch = rows.map((i) => examples[i]!);
        let feeds: Record<string, Tensor>;
        if (c) {
          const pass = await this.promptPass(c, bucket, batch, maskFeeds);
          feeds = { ...buildCachedFeeds(c, bucket, batch, pass.present, pass.mask), ...maskFeeds };
        } else feeds = { ...buildFeeds(this.model, bucket, batch, graph.promptIndex), ...maskFeeds };
        const res = await session.run(feeds);
        rows.forEach((ex, r) => out.take(res, graph, r, ex));
        done += rows.length;
        onProgress?.(done, examples.length);
      }
    }
    return out.result({ batchSize, buckets, bytesPerExample, ...(this.model.kind === 'seq2seq' ? { sharedPrompts } : {}) });
  }

  /** Whether runChoices applies: a seq2seq model with the prompt forward shared between rows. */
  get choosesInGraph(): boolean {
    return this.model.kind === 'seq2seq' && this.opts.sharePrompts !== false;
  }

  /**
   * Scores every candidate of every item, picks its biased label y_hat (the most probable
   * candidate other than the gold one; ties: the lowest index) and attributes y_hat and the gold
   * candidate, in one graph per batch (choice-graph.ts): each prompt's encoder runs once for all
   * three. Attribution rows 2i and 2i + 1 are item i's y_hat and gold; they equal run() on
   * the same pairs. seq2seq only (choosesInGraph).
   */
  async runChoices(items: ChoiceExample[], onProgress = this.opts.onProgress): Promise<ChoiceResult> {
    if (!this.choosesInGraph) throw new Error('attribution: choosing in the graph needs a seq2seq model with shared prompts (score, then run())');
    if (!items.length) throw new Error('attribution: no items to choose and attribute');
    items.forEach((it, i) => {
      if (it.candidates.length < 2)
        throw new Error(`attribution: item ${i} has ${it.candidates.length} candidate(s); choosing a biased label needs two or more`);
      if (!Number.isInteger(it.gold) || it.gold < 0 || it.gold >= it.candidates.length)
        throw new Error(`attribution: item ${i}: gold index ${it.gold} is not a candidate index (0..${it.candidates.length - 1})`);
    });
    const mult = this.opts.lengthMultiple ?? 16;
    const C = Math.max(...items.map((it) => it.candidates.length));
    // An item's bucket: its prompt and its longest candidate (exampleLengths also refuses empty ones).
    const lens = items.map((it) => {
      const l = it.candidates.map((targetIds) => exampleLengths(this.model, { promptIds: it.promptIds, targetIds }));
      return { input: l[0]!.input, target: Math.max(...l.map((x) => x.target)) };
    });
    const maxIn = Math.max(...lens.map((l) => bucketLength(l.input, mult)));
    const maxT = Math.max(...lens.map((l) => bucketLength(l.target, TARGET_MULTIPLE)));
    const planned = await this.plan(maxIn, maxT, 2 * items.length);
    // Two rows per item. Runs share the items evenly: 8 items at most 6 a run are two runs of 4,
    // not 6 and 2 with 4 filler slots, each costing a full prompt forward and two backward passes.
    const most = Math.max(1, Math.floor(planned.batchSize / 2));
    const N = Math.ceil(items.length / Math.ceil(items.length / most));
    const batchSize = 2 * N;
    const groups = new Map<string, number[]>();
    lens.forEach((l, i) => {
      const key = `${bucketLength(l.input, mult)}x${bucketLength(l.target, TARGET_MULTIPLE)}`;
      (groups.get(key) ?? groups.set(key, []).get(key)!).push(i);
    });
    const out = rowCollector(this.sites(), 2 * items.length);
    const logprobs = items.map((it) => new Array<number>(it.candidates.length));
    const biased = new Array<number>(items.length);
    const buckets: AttributionBucket[] = [];
    let done = 0;
    for (const [key, idx] of groups) {
      const [inputLength, targetLength] = key.split('x').map(Number) as [number, number];
      const bucket: AttributionBucket = { batch: batchSize, inputLength, targetLength };
      buckets.push(bucket);
      const { graph, session } = await this.choiceSession(bucket, C);
      const maskFeeds = this.maskFeeds(graph);
      for (let off = 0; off < idx.length; off += N) {
        const batch = idx.slice(off, off + N);
        const res = await session.run({
          ...choiceFeeds(
            this.model.decoderStartTokenId ?? 0,
            bucket,
            C,
            batch.map((i) => items[i]!),
            graph.promptIndex,
          ),
          ...maskFeeds,
        });
        const lp = res[graph.candidateLogprobOutput]!.data as Float32Array;
        const picked = res[graph.biasedOutput]!.data as BigInt64Array;
        batch.forEach((item, n) => {
          items[item]!.candidates.forEach((_, c) => (logprobs[item]![c] = lp[n * C + c]!));
          biased[item] = Number(picked[n]);
          for (const r of [0, 1]) out.take(res, graph, 2 * n + r, 2 * item + r);
        });
        done += batch.length;
        onProgress?.(done, items.length);
      }
    }
    return { logprobs, biased, attribution: out.result({ batchSize, buckets, bytesPerExample: planned.bytesPerExample, sharedPrompts: true }) };
  }

  private async choiceSession(bucket: AttributionBucket, candidates: number): Promise<{ graph: ChoiceGraph; session: ModelSession }> {
    const key = `choice${candidates}|${this.sessionKey(bucket)}`;
    let gp = this.graphs.get(key) as Promise<ChoiceGraph> | undefined;
    if (!gp) {
      gp = buildChoiceGraph(this.model.graph, this.sites(), bucket, candidates, { ...this.opts, masked: this.masked });
      this.graphs.set(key, gp);
    }
    const graph = await gp;
    const session = await this.cache.get(this.model.id, key, () => graph.model);
    return { graph, session };
  }

  async close(): Promise<void> {
    await this.cache.clear();
  }
}
