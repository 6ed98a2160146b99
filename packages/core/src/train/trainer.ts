/**
 * A trainer for seq2seq models on the autodiff core: one training graph (loss and the gradients
 * of every trainable weight, one fixed padded shape) run by one ORT session, AdamW with warm-up and
 * cosine decay, global-norm clipping, a data order fixed by the seed, periodic evaluation and
 * resumable state.
 *
 * Determinism: batch k of the run is a function of (seed, k) alone (each epoch is a seeded
 * permutation of the examples), so a run resumed from its state at step s takes the same batches,
 * and reaches the same weights, as a run that never stopped (up to ORT's floating-point
 * reproducibility with a fixed thread count).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Model, Tensor } from '../onnx/types.js';
import { createSession, type ModelSession, type SessionOptions } from '../runtime/session.js';
import { readJsonFile } from '../util/json-files.js';
import { createRng, hashSeed } from '../util/random.js';
import { z } from 'zod';
import { buildTrainingGraph, type TrainBucket, type TrainingGraph } from './graph.js';
import { adamWStep, clipGradients, initAdamW, learningRate, type AdamWState } from './optim.js';

/** One tokenised training example: the encoder input and the target the decoder must produce. */
export interface Seq2seqExample {
  inputIds: number[];
  target: number[];
}

export interface TrainerOptions {
  steps: number;
  batchSize: number;
  peakLr: number;
  warmupSteps: number;
  /** Final learning rate as a fraction of the peak (default 0.1). */
  finalLrFraction?: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  clipNorm: number;
  seed: number;
  /** Evaluate every n steps (and after the last); 0: only after the last. */
  evalEvery: number;
  /** Write the state every n steps (and after the last); 0: only after the last. */
  checkpointEvery: number;
  /** Token id that pads inputs and targets, and starts the decoder. */
  padTokenId: number;
  decoderStartTokenId: number;
  /** Pad every batch to at least these lengths (e.g. to fit the evaluation prompts in the same session). */
  minInputLength?: number;
  minTargetLength?: number;
  /** Weights exempt from weight decay (default: those of rank 1, the norm scales). */
  noDecay?: (name: string, dims: readonly number[]) => boolean;
  session?: SessionOptions;
}

const stepRecord = z.object({ step: z.int(), loss: z.number(), lr: z.number(), gradNorm: z.number() });
export type StepRecord = z.infer<typeof stepRecord>;

const evalRecord = z.object({ step: z.int(), metrics: z.record(z.string(), z.number()) });
export type EvalRecord = z.infer<typeof evalRecord>;

export interface TrainerProgress {
  step: number;
  steps: number;
  loss: number;
  /** Mean loss over the steps since the previous report. */
  meanLoss: number;
  lr: number;
  gradNorm: number;
  stepsPerSecond: number;
  tokensPerSecond: number;
}

export interface TrainerHooks {
  /** Metrics of the current weights (the trainer's `score` scores them). */
  evaluate?(trainer: Trainer, step: number): Promise<Record<string, number>>;
  /** Called after the trainer state is written at a checkpoint (e.g. to write a model folder). */
  checkpoint?(trainer: Trainer, step: number): Promise<void>;
  onProgress?(p: TrainerProgress): void;
  onEval?(e: EvalRecord): void;
  /** How often onProgress is called, in steps (default 10). */
  progressEvery?: number;
}

const stateFile = z.object({
  format: z.literal('crispr-trainer-state'),
  version: z.literal(1),
  step: z.int(),
  adamStep: z.int(),
  params: z.array(z.object({ name: z.string(), dims: z.array(z.int()) })),
  history: z.array(stepRecord),
  evals: z.array(evalRecord),
  /** Identity of the run the state belongs to (options and data), checked on resume. */
  fingerprint: z.string(),
});
type StateFile = z.infer<typeof stateFile>;

const STATE_JSON = 'trainer-state.json';
const STATE_BIN = 'trainer-state.bin';

export class Trainer {
  readonly params: Float32Array[];
  step = 0;
  history: StepRecord[] = [];
  evals: EvalRecord[] = [];
  private adam: AdamWState;
  private orders = new Map<number, number[]>();

  private constructor(
    readonly graph: TrainingGraph,
    private readonly session: ModelSession,
    readonly examples: readonly Seq2seqExample[],
    readonly opts: TrainerOptions,
    initial: Map<string, Tensor>,
    private readonly fingerprint: string,
  ) {
    this.params = graph.params.map((n) => Float32Array.from(initial.get(n)!.data as Float32Array));
    this.adam = initAdamW(this.params);
  }

  /**
   * A trainer for `model` (a seq2seq analysis graph) on `examples`. The bucket is the largest
   * input and target length among the examples; longer ones are refused at scoring time.
   */
  static async create(model: Model, examples: readonly Seq2seqExample[], opts: TrainerOptions, params?: readonly string[]): Promise<Trainer> {
    if (!examples.length) throw new Error('trainer: no training examples');
    for (const [k, v] of Object.entries({ steps: opts.steps, batchSize: opts.batchSize })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`trainer: ${k} must be a positive integer, got ${v}`);
    }
    if (!(opts.peakLr > 0)) throw new Error(`trainer: peakLr must be positive, got ${opts.peakLr}`);
    const bucket: TrainBucket = {
      batch: opts.batchSize,
      inputLength: Math.max(opts.minInputLength ?? 1, ...examples.map((e) => e.inputIds.length)),
      targetLength: Math.max(opts.minTargetLength ?? 1, ...examples.map((e) => e.target.length)),
    };
    const graph = await buildTrainingGraph(model, bucket, params);
    const session = await createSession(graph.model, opts.session ?? {});
    const initial = new Map([...model.graph.initializers].filter(([n]) => graph.params.includes(n)));
    const fingerprint = String(
      hashSeed(
        JSON.stringify({
          o: { ...opts, noDecay: undefined, session: undefined },
          bucket,
          n: examples.length,
          first: examples[0],
          last: examples[examples.length - 1],
        }),
      ),
    );
    return new Trainer(graph, session, examples, opts, initial, fingerprint);
  }

  /** Current weights by name (views of the trainer's arrays: copy before changing them). */
  weights(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.graph.params.forEach((n, i) => out.set(n, { dtype: 'float32', dims: this.dims(n), data: this.params[i]! }));
    return out;
  }

  private dims(name: string): number[] {
    const inp = this.graph.model.graph.inputs.find((v) => v.name === name);
    return (inp?.shape ?? []).map((d) => Number(d));
  }

  /** Example indices of 0-based batch k: consecutive slices of per-epoch seeded permutations. */
  batchIndices(k: number): number[] {
    const n = this.examples.length;
    const out: number[] = [];
    for (let j = 0; j < this.opts.batchSize; j++) {
      const q = k * this.opts.batchSize + j;
      const epoch = Math.floor(q / n);
      let order = this.orders.get(epoch);
      if (!order) {
        order = createRng(hashSeed(`${this.opts.seed}:epoch:${epoch}`)).shuffle([...Array(n).keys()]);
        this.orders.clear(); // only the current epoch (and the next) are ever needed
        this.orders.set(epoch, order);
      }
      out.push(order[q % n]!);
    }
    return out;
  }

  /** Padded feeds for rows (at most batchSize; missing rows are all padding and add nothing). */
  private feeds(rows: readonly Seq2seqExample[]): Record<string, Tensor> {
    const { batch: B, inputLength: P, targetLength: T } = this.graph.bucket;
    const pad = this.opts.padTokenId;
    const ids = new BigInt64Array(B * P).fill(BigInt(pad));
    const mask = new BigInt64Array(B * P);
    const dec = new BigInt64Array(B * T).fill(BigInt(pad));
    const labels = new BigInt64Array(B * T).fill(BigInt(pad));
    const lmask = new Float32Array(B * T);
    rows.forEach((r, b) => {
      if (r.inputIds.length > P || r.target.length > T)
        throw new Error(`trainer: example of lengths ${r.inputIds.length}/${r.target.length} exceeds the bucket ${P}/${T}`);
      r.inputIds.forEach((t, i) => {
        ids[b * P + i] = BigInt(t);
        mask[b * P + i] = 1n;
      });
      r.target.forEach((t, i) => {
        labels[b * T + i] = BigInt(t);
        lmask[b * T + i] = 1;
        dec[b * T + i] = BigInt(i === 0 ? this.opts.decoderStartTokenId : r.target[i - 1]!);
      });
    });
    // A batch filler row still needs one attended input token, or its attention rows are all -inf.
    for (let b = rows.length; b < B; b++) mask[b * P] = 1n;
    const f: Record<string, Tensor> = {
      input_ids: { dtype: 'int64', dims: [B, P], data: ids },
      attention_mask: { dtype: 'int64', dims: [B, P], data: mask },
      decoder_input_ids: { dtype: 'int64', dims: [B, T], data: dec },
      labels: { dtype: 'int64', dims: [B, T], data: labels },
      label_mask: { dtype: 'float32', dims: [B, T], data: lmask },
    };
    this.graph.params.forEach((n, i) => (f[n] = { dtype: 'float32', dims: this.dims(n), data: this.params[i]! }));
    return f;
  }

  /** Loss and gradients of the current weights on rows (no update). */
  async lossAndGradients(rows: readonly Seq2seqExample[]): Promise<{ loss: number; logprob: Float32Array; grads: Float32Array[] }> {
    const outs = [this.graph.lossOutput, this.graph.logprobOutput, ...this.graph.params.map((n) => this.graph.gradients.get(n)!)];
    const r = await this.session.run(this.feeds(rows), outs);
    return {
      loss: Number((r[this.graph.lossOutput]!.data as Float32Array)[0]),
      logprob: r[this.graph.logprobOutput]!.data as Float32Array,
      grads: this.graph.params.map((n) => r[this.graph.gradients.get(n)!]!.data as Float32Array),
    };
  }

  /** log P(target | input) of every example under the current weights (teacher forcing). */
  async score(rows: readonly Seq2seqExample[]): Promise<number[]> {
    const out: number[] = [];
    const B = this.graph.bucket.batch;
    for (let i = 0; i < rows.length; i += B) {
      const chunk = rows.slice(i, i + B);
      const r = await this.session.run(this.feeds(chunk), [this.graph.logprobOutput]);
      const lp = r[this.graph.logprobOutput]!.data as Float32Array;
      for (let b = 0; b < chunk.length; b++) out.push(lp[b]!);
    }
    return out;
  }

  /**
   * Runs steps up to opts.steps (or `until`, where it writes the state and stops), evaluating and
   * checkpointing on the way. Resuming is the caller's loadState before run.
   */
  async run(hooks: TrainerHooks = {}, stateDir?: string, until = Infinity): Promise<void> {
    const o = this.opts;
    const names = this.graph.params;
    const noDecay = o.noDecay ?? ((_n: string, dims: readonly number[]) => dims.length < 2);
    const decay = names.map((n) => !noDecay(n, this.dims(n)));
    const every = hooks.progressEvery ?? 10;
    const tokensPerStep = (k: number) => this.batchIndices(k).reduce((a, i) => a + this.examples[i]!.inputIds.length + this.examples[i]!.target.length, 0);
    let t0 = performance.now();
    let since = 0;
    let lossSum = 0;
    let tokens = 0;
    const stop = Math.min(o.steps, until);
    while (this.step < stop) {
      const k = this.step;
      const rows = this.batchIndices(k).map((i) => this.examples[i]!);
      const { loss, grads } = await this.lossAndGradients(rows);
      if (!Number.isFinite(loss)) throw new Error(`trainer: loss is ${loss} at step ${k + 1}`);
      const gradNorm = clipGradients(grads, o.clipNorm);
      const lr = learningRate(k, {
        peakLr: o.peakLr,
        warmupSteps: o.warmupSteps,
        totalSteps: o.steps,
        ...(o.finalLrFraction !== undefined ? { finalFraction: o.finalLrFraction } : {}),
      });
      adamWStep(this.params, grads, this.adam, { lr, weightDecay: o.weightDecay }, decay);
      this.step = k + 1;
      this.history.push({ step: this.step, loss, lr, gradNorm });
      since++;
      lossSum += loss;
      tokens += tokensPerStep(k);
      if (hooks.onProgress && (this.step % every === 0 || this.step === o.steps)) {
        const dt = (performance.now() - t0) / 1000;
        hooks.onProgress({
          step: this.step,
          steps: o.steps,
          loss,
          meanLoss: lossSum / since,
          lr,
          gradNorm,
          stepsPerSecond: since / dt,
          tokensPerSecond: tokens / dt,
        });
        t0 = performance.now();
        since = 0;
        lossSum = 0;
        tokens = 0;
      }
      const last = this.step === o.steps;
      if (hooks.evaluate && (last || (o.evalEvery > 0 && this.step % o.evalEvery === 0))) {
        const e = { step: this.step, metrics: await hooks.evaluate(this, this.step) };
        this.evals.push(e);
        hooks.onEval?.(e);
      }
      if (stateDir && (last || this.step === stop || (o.checkpointEvery > 0 && this.step % o.checkpointEvery === 0))) {
        this.saveState(stateDir);
        await hooks.checkpoint?.(this, this.step);
      }
    }
  }

  /** Writes weights, optimiser moments, step and curves to `dir` (atomically: temp files, then rename). */
  saveState(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const names = this.graph.params;
    const arrays = [...this.params, ...this.adam.m, ...this.adam.v];
    const total = arrays.reduce((a, x) => a + x.length, 0);
    const buf = new Float32Array(total);
    let off = 0;
    for (const a of arrays) {
      buf.set(a, off);
      off += a.length;
    }
    const state: StateFile = {
      format: 'crispr-trainer-state',
      version: 1,
      step: this.step,
      adamStep: this.adam.step,
      params: names.map((n) => ({ name: n, dims: this.dims(n) })),
      history: this.history,
      evals: this.evals,
      fingerprint: this.fingerprint,
    };
    writeFileSync(join(dir, `${STATE_BIN}.tmp`), new Uint8Array(buf.buffer));
    writeFileSync(join(dir, `${STATE_JSON}.tmp`), JSON.stringify(state));
    renameSync(join(dir, `${STATE_BIN}.tmp`), join(dir, STATE_BIN));
    renameSync(join(dir, `${STATE_JSON}.tmp`), join(dir, STATE_JSON));
  }

  /** Loads a state written by saveState for the same run (options, data, weights); false when `dir` has none. */
  loadState(dir: string): boolean {
    const jf = join(dir, STATE_JSON);
    if (!existsSync(jf)) return false;
    const s = readJsonFile(jf, stateFile);
    if (s.fingerprint !== this.fingerprint)
      throw new Error(`${jf}: the state belongs to a run with other options or data; start afresh (remove ${dir}) or restore the run's config`);
    const names = this.graph.params;
    if (s.params.length !== names.length || s.params.some((p, i) => p.name !== names[i] || p.dims.join() !== this.dims(names[i]!).join())) {
      throw new Error(`${jf}: the state's weights do not match the model's trainable weights`);
    }
    const bytes = readFileSync(join(dir, STATE_BIN));
    const buf = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const sizes = this.params.map((p) => p.length);
    const total = 3 * sizes.reduce((a, x) => a + x, 0);
    if (buf.length !== total) throw new Error(`${join(dir, STATE_BIN)}: ${buf.length} floats, expected ${total}`);
    let off = 0;
    for (const arrays of [this.params, this.adam.m, this.adam.v]) {
      arrays.forEach((a, i) => {
        a.set(buf.subarray(off, off + sizes[i]!));
        off += sizes[i]!;
      });
    }
    this.step = s.step;
    this.adam.step = s.adamStep;
    this.history = s.history;
    this.evals = s.evals;
    return true;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
