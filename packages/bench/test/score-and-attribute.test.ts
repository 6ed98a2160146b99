/**
 * ModelAccess.scoreAndAttribute, the attribution stage's one call: the scores of every candidate,
 * the biased label biasedLabel() gives on them, and attribution rows 2i (biased) and 2i + 1 (gold)
 * equal to attribute() on those pairs. Decoder-only (the embedded default model) scores, then
 * attributes; seq2seq (PyTorch's Optimum export in the assets) runs one graph.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelFolder, releaseScoringSessions } from '@crispr-bench/core';
import { T5_CHOICE_ITEMS, worstScaledError } from '@crispr-bench/testing';
import { biasedLabel } from '@crispr-bench/judges';
import { makeDefaultModel } from '../src/default-model/index.js';
import { folderAccess } from '../src/pipeline/folder-access.js';
import type { ModelAccess } from '../src/pipeline/model-access.js';

process.env.ORT_DISABLE_TELEMETRY = '1';
const T5_EXPORT = join(process.env.CRISPR_ASSETS ?? join(__dirname, '../../../../shared/assets'), 'models/t5-export-tiny');

async function check(model: ModelAccess, items: { prompt: string | number[]; candidates: (string | number[])[]; gold: number }[]): Promise<void> {
  const steps: number[] = [];
  const got = await model.scoreAndAttribute(items, (done) => steps.push(done));
  expect(steps.at(-1)).toBe(items.length);
  const scores = await model.score(items);
  got.logprobs.forEach((lp, i) => lp.forEach((v, c) => expect(Math.abs(v - scores[i]![c]!)).toBeLessThan(1e-4)));
  expect(got.biased).toEqual(scores.map((lp, i) => biasedLabel(lp, items[i]!.gold).index));
  const want = await model.attribute(
    items.flatMap((it, i) => [model.encode(it.prompt, it.candidates[got.biased[i]!]!), model.encode(it.prompt, it.candidates[it.gold]!)]),
  );
  for (let r = 0; r < 2 * items.length; r++) {
    expect(Math.abs(got.attribution.logprob[r]! - want.logprob[r]!)).toBeLessThan(1e-4);
    expect(worstScaledError(got.attribution, r, want, r)).toBeLessThan(1e-5);
  }
}

describe('scoreAndAttribute', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'crispr-score-attr-'));
  afterAll(async () => {
    await releaseScoringSessions();
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('decoder-only: scoring, then attribution', () => {
    let model: ModelAccess;
    beforeAll(async () => {
      model = folderAccess(await loadModelFolder((await makeDefaultModel(join(tmp, 'default'))).dir), { attribution: { maxBatch: 4 } });
    });
    afterAll(() => model.close?.());
    it('equals score, biasedLabel and attribute on the chosen pairs', { timeout: 120_000 }, async () => {
      await check(model, [
        { prompt: 'The nurse said that', candidates: [' he', ' she', ' they'], gold: 2 },
        { prompt: 'The pilot was tired, so', candidates: [' he', ' she'], gold: 0 },
        { prompt: 'Once upon a time the doctor', candidates: [' she', ' he', ' it'], gold: 1 },
      ]);
    });
  });

  describe.skipIf(!existsSync(T5_EXPORT))('seq2seq: one graph', () => {
    let model: ModelAccess;
    beforeAll(async () => {
      model = folderAccess(await loadModelFolder(T5_EXPORT, { tokenizer: false }), { attribution: { maxBatch: 4 } });
    });
    afterAll(() => model.close?.());
    it('equals score, biasedLabel and attribute on the chosen pairs', { timeout: 300_000 }, async () => {
      await check(
        model,
        T5_CHOICE_ITEMS.map((it) => ({ prompt: it.promptIds, candidates: it.candidates, gold: it.gold })),
      );
    });
  });
});
