/**
 * Scoring on a pool of worker threads gives the in-process scores, with chunks in flight side by
 * side; a worker's error reaches the caller with the item named; a closed pool refuses work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelFolder, releaseScoringSessions, type ModelFolder } from '@crispr-bench/core';
import { pronounItems } from '@crispr-bench/datasets';
import { makeDefaultModel } from '../src/default-model/index.js';
import { folderAccess } from '../src/pipeline/folder-access.js';
import { scoreInChunks } from '../src/pipeline/score-chunks.js';
import { POOL_MAX_WEIGHT_BYTES, scoreWorkersFor } from '../src/pipeline/score-pool.js';

process.env.ORT_DISABLE_TELEMETRY = '1';

describe('scoring pool', () => {
  let tmp: string;
  let folder: ModelFolder;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'crispr-score-pool-'));
    folder = await loadModelFolder((await makeDefaultModel(join(tmp, 'default'))).dir);
  });
  afterAll(async () => {
    await releaseScoringSessions();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('scores as the main thread does, chunks in flight side by side, masked or not', async () => {
    const requests = pronounItems().map((it) => ({ prompt: it.fields.text, candidates: it.options.map((o) => ` ${o}`) }));
    expect(requests.length).toBeGreaterThan(64); // more than one chunk
    const masks = Object.fromEntries(folder.sites.slice(0, 2).map((s) => [s.name, Float32Array.from({ length: s.width }, (_, i) => (i % 3 ? 1 : 0))]));
    const inProcess = folderAccess(folder, { attribution: {} });
    const pooled = folderAccess(folder, { attribution: {}, scoreWorkers: 2 });
    try {
      expect(pooled.scoreParallel).toBe(2);
      for (const m of [undefined, masks]) {
        const steps: number[] = [];
        const a = await scoreInChunks(inProcess, requests, m);
        const b = await scoreInChunks(pooled, requests, m, (done) => steps.push(done));
        expect(steps.at(-1)).toBe(requests.length);
        expect(b.length).toBe(a.length);
        let worst = 0;
        a.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i]![j]!)))));
        expect(worst).toBeLessThan(1e-5);
      }
      await expect(pooled.score([{ prompt: 'x', candidates: [] }])).rejects.toThrow(/item 0 has no candidates/);
      // The pool still works after a failed batch.
      expect((await pooled.score(requests.slice(0, 2))).length).toBe(2);
    } finally {
      await inProcess.close?.();
      await pooled.close?.();
    }
    await expect(pooled.score(requests.slice(0, 1))).rejects.toThrow(/closed/);
  });

  it('uses workers for small models on the CPU unless CRISPR_SCORE_WORKERS says otherwise, never for another provider', () => {
    const saved = process.env.CRISPR_SCORE_WORKERS;
    try {
      delete process.env.CRISPR_SCORE_WORKERS;
      expect(scoreWorkersFor(folder, 'cuda')).toBe(1);
      expect(scoreWorkersFor(folder, 'cpu')).toBeGreaterThanOrEqual(1);
      const big = {
        ...folder,
        graph: {
          ...folder.graph,
          graph: {
            ...folder.graph.graph,
            initializers: new Map([['w', { dtype: 'float32' as const, dims: [POOL_MAX_WEIGHT_BYTES / 4 + 1], data: new Float32Array(1) }]]),
          },
        },
      };
      expect(scoreWorkersFor(big, 'cpu')).toBe(1);
      process.env.CRISPR_SCORE_WORKERS = '3';
      expect(scoreWorkersFor(big, 'cpu')).toBe(3);
      // Workers score on the CPU: a GPU run stays in-process whatever the variable says.
      expect(scoreWorkersFor(big, 'cuda')).toBe(1);
      process.env.CRISPR_SCORE_WORKERS = 'two';
      expect(() => scoreWorkersFor(folder, 'cpu')).toThrow(/CRISPR_SCORE_WORKERS must be a positive integer, got 'two'/);
    } finally {
      if (saved === undefined) delete process.env.CRISPR_SCORE_WORKERS;
      else process.env.CRISPR_SCORE_WORKERS = saved;
    }
  });
});
