/** One scoring worker of a ScorePool: loads the folder, then scores the encoded rows it is sent on one intra-op thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadModelFolder, scoreRows, type ScoringRow } from '@crispr-bench/core';

const { dir, variant, batchSize, padTokenId } = workerData as { dir: string; variant?: string; batchSize: number; padTokenId: number };
// Rows come encoded from the main thread: no tokenizer here, only the pad id it settled on.
const folder = await loadModelFolder(dir, { tokenizer: false, ...(variant ? { variant } : {}) });
folder.padTokenId = padTokenId;
parentPort!.on('message', async (m: { rows: ScoringRow[]; candidates: number[]; masks?: Record<string, Float32Array> }) => {
  try {
    const res = await scoreRows(folder, m.rows, m.candidates, { ...(m.masks ? { masks: m.masks } : {}), batchSize, intraOpThreads: 1 });
    parentPort!.postMessage({ result: res.map((cands) => cands.map((c) => c.logprob)) });
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).message });
  }
});
