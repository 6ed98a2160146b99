/** One scoring worker of a ScorePool: loads the folder, then scores each batch it is sent on one intra-op thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadModelFolder, scoreOptions } from '@crispr-bench/core';

const { dir, variant, batchSize } = workerData as { dir: string; variant?: string; batchSize: number };
const folder = await loadModelFolder(dir, variant ? { variant } : {});
parentPort!.on('message', async (m: { batch: Parameters<typeof scoreOptions>[1]; masks?: Record<string, Float32Array> }) => {
  try {
    const res = await scoreOptions(folder, m.batch, { ...(m.masks ? { masks: m.masks } : {}), batchSize, intraOpThreads: 1 });
    parentPort!.postMessage({ result: res.map((cands) => cands.map((c) => c.logprob)) });
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).message });
  }
});
