/**
 * Scoring on worker threads. A small model's ops are too small for onnxruntime to split across
 * cores (stories260K scores BBQ prompts as fast on one intra-op thread as on two), so a run that
 * scores many chunks does better with one single-threaded scorer per core, each working on its own
 * chunk. The main thread tokenises (its memo then serves every pass of a sweep, whichever worker
 * takes a chunk); every worker loads the folder itself and scores the rows with scoreRows, exactly
 * as the main thread would.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { initializerBytes, type ModelFolder, type ScoringRow } from '@crispr-bench/core';

/** Models with at most this many bytes of weights score on a pool of workers by default. */
export const POOL_MAX_WEIGHT_BYTES = 64 * 2 ** 20;

/**
 * Workers for `folder`'s bulk scoring. Workers score on the CPU, so another provider always gets 1
 * (in-process). On the CPU: CRISPR_SCORE_WORKERS when set (1 turns the pool off), else one per
 * core (at most 8) for a small model, else 1 (in-process, onnxruntime's threads).
 */
export function scoreWorkersFor(folder: ModelFolder, provider: string | undefined): number {
  const env = process.env.CRISPR_SCORE_WORKERS;
  const n = env !== undefined && env !== '' ? Number(env) : undefined;
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new Error(`CRISPR_SCORE_WORKERS must be a positive integer, got '${env}'`);
  if ((provider ?? 'cpu') !== 'cpu') return 1;
  if (n !== undefined) return n;
  if (initializerBytes(folder.graph.graph) > POOL_MAX_WEIGHT_BYTES) return 1;
  return Math.max(1, Math.min(8, availableParallelism()));
}

export interface ScorePoolOptions {
  /** The folder's variant, as loaded on the main thread. */
  variant?: string;
  batchSize: number;
  /** The pad id the main thread's folder uses (config or tokenizer); workers load no tokenizer. */
  padTokenId: number;
}

interface Task {
  rows: ScoringRow[];
  /** Candidates per item. */
  candidates: number[];
  masks?: Record<string, Float32Array>;
  resolve: (v: number[][]) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy?: Task;
}

export class ScorePool {
  private slots: Slot[] = [];
  private queue: Task[] = [];
  private failure: Error | undefined;
  private closed = false;

  constructor(
    readonly dir: string,
    readonly size: number,
    opts: ScorePoolOptions,
  ) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./score-worker.mjs', import.meta.url), {
        workerData: { dir, variant: opts.variant, batchSize: opts.batchSize, padTokenId: opts.padTokenId },
      });
      const slot: Slot = { worker };
      worker.on('message', (m: { result?: number[][]; error?: string }) => {
        const task = slot.busy;
        slot.busy = undefined;
        if (task) {
          if (m.error !== undefined) task.reject(new Error(m.error));
          else task.resolve(m.result!);
        }
        this.dispatch();
      });
      const fail = (e: Error) => {
        this.failure ??= new Error(`scoring worker for ${dir} failed: ${e.message}`);
        slot.busy?.reject(this.failure);
        slot.busy = undefined;
        for (const t of this.queue.splice(0)) t.reject(this.failure);
      };
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (code !== 0 && !this.closed) fail(new Error(`exited with code ${code}`));
      });
      this.slots.push(slot);
    }
  }

  /** log P of every candidate (rows from encodeScoringRows), item by item. */
  score(rows: ScoringRow[], candidates: number[], masks?: Record<string, Float32Array>): Promise<number[][]> {
    if (this.closed) return Promise.reject(new Error(`scoring pool for ${this.dir} is closed`));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, candidates, ...(masks ? { masks } : {}), resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy || !this.queue.length) continue;
      const task = this.queue.shift()!;
      slot.busy = task;
      slot.worker.postMessage({ rows: task.rows, candidates: task.candidates, masks: task.masks });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.queue.splice(0);
    for (const t of pending) t.reject(new Error('scoring pool closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots = [];
  }
}
