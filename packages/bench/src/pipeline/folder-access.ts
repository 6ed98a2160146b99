/** ModelAccess over a model folder: option scoring, tokenisation and attribution from core. */
import {
  Attributor,
  attributionExample,
  choiceExample,
  attributionModel,
  encodeScoringRows,
  loadModelFolder,
  releaseScoringSessions,
  scoreOptions,
  type ModelFolder,
  type RunOptions,
} from '@crispr-bench/core';
import { biasedLabel } from '@crispr-bench/judges';
import type { ModelAccess } from './model-access.js';
import { ScorePool } from './score-pool.js';

export interface FolderAccessOptions {
  attribution: Pick<RunOptions, 'objective' | 'reduce' | 'kinds' | 'maxBatch' | 'memoryLimitMiB' | 'session'>;
  scoreBatch?: number;
  provider?: 'cpu' | 'cuda' | 'webgpu';
  /** Threads inside one op for scoring (attribution: attribution.session.intraOpThreads); default ORT's. */
  intraOpThreads?: number;
  description?: string;
  /** transformers.js variant of the folder's ONNX files (default fp32). */
  variant?: string;
  /**
   * Worker threads for score() (ScorePool), each scoring on one intra-op thread; callers may then
   * have that many score() calls in flight (scoreParallel). Default 1: in-process.
   */
  scoreWorkers?: number;
}

export function folderAccess(folder: ModelFolder, opts: FolderAccessOptions): ModelAccess {
  const attributor = new Attributor(attributionModel(folder), opts.attribution);
  const batchSize = opts.scoreBatch ?? 16;
  const workers = opts.scoreWorkers ?? 1;
  let pool: ScorePool | undefined;
  return {
    id: folder.dir,
    kind: folder.kind,
    description: opts.description ?? `${folder.kind} model at ${folder.dir}`,
    sites: folder.sites,
    scoreParallel: workers,
    async score(batch, masks) {
      if (workers > 1) {
        pool ??= new ScorePool(folder.dir, workers, { batchSize, padTokenId: folder.padTokenId, ...(opts.variant ? { variant: opts.variant } : {}) });
        return pool.score(
          encodeScoringRows(folder, batch),
          batch.map((it) => it.candidates.length),
          masks,
        );
      }
      const res = await scoreOptions(folder, batch, {
        ...(masks ? { masks } : {}),
        batchSize,
        ...(opts.provider ? { provider: opts.provider } : {}),
        ...(opts.intraOpThreads !== undefined ? { intraOpThreads: opts.intraOpThreads } : {}),
      });
      return res.map((cands) => cands.map((c) => c.logprob));
    },
    encode: (prompt, candidate) => attributionExample(folder, prompt, candidate),
    attribute: (examples, onProgress) => attributor.run(examples, onProgress),
    async scoreAndAttribute(items, onProgress) {
      if (attributor.choosesInGraph)
        return attributor.runChoices(
          items.map((it) => choiceExample(folder, it.prompt, it.candidates, it.gold)),
          onProgress,
        );
      const logprobs = await this.score(items);
      const biased = logprobs.map((lp, i) => biasedLabel(lp, items[i]!.gold).index);
      const examples = items.flatMap((it, i) => [
        attributionExample(folder, it.prompt, it.candidates[biased[i]!]!),
        attributionExample(folder, it.prompt, it.candidates[it.gold]!),
      ]);
      return { logprobs, biased, attribution: await attributor.run(examples, onProgress && ((done, total) => onProgress(Math.floor(done / 2), total / 2))) };
    },
    async close() {
      await pool?.close();
      await attributor.close();
      await releaseScoringSessions();
    },
  };
}

export async function openFolder(dir: string, opts: FolderAccessOptions): Promise<ModelAccess> {
  return folderAccess(await loadModelFolder(dir, opts.variant ? { variant: opts.variant } : {}), opts);
}
