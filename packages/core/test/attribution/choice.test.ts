/**
 * Score, choose and attribute in one graph (choice-graph.ts) against the two calls it replaces:
 * scoreOptions for every candidate, the biased label picked from those scores, then Attributor.run
 * on the biased and gold targets. On PyTorch's Optimum export of a Flan-T5-architecture model
 * (assets) and on a T5 folder of our generator (the real T5 tokenizer, 2 + 2 layers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { loadModelFolder, type ModelFolder } from '../../src/models/folder.js';
import { Attributor, type RunOptions } from '../../src/attribution/run.js';
import { attributionExample, attributionModel, choiceExample } from '../../src/attribution/folder.js';
import { buildChoiceGraph } from '../../src/attribution/choice-graph.js';
import { releaseScoringSessions, scoreOptions } from '../../src/models/scoring.js';
import type { ChoiceExample } from '../../src/attribution/types.js';
import { T5_CHOICE_ITEMS, worstScaledError } from '@crispr-bench/testing';
import { T5_EXPORT } from '../models/export-fixtures.js';
import { HAVE_T5_TOKENIZER, NO_T5_TOKENIZER, t5Folder, tempDir } from '../models/helpers.js';

/** The reference: scoreOptions, the biased label from its scores, then run() on (biased, gold) per item. */
async function twoCalls(folder: ModelFolder, items: ChoiceExample[], opts: RunOptions) {
  const scored = await scoreOptions(
    folder,
    items.map((it) => ({ prompt: it.promptIds, candidates: it.candidates })),
    opts.masks ? { masks: opts.masks } : {},
  );
  const logprobs = scored.map((cs) => cs.map((c) => c.logprob));
  const biased = logprobs.map((lp, i) => {
    let best = -1;
    lp.forEach((v, c) => {
      if (c !== items[i]!.gold && (best < 0 || v > lp[best]!)) best = c;
    });
    return best;
  });
  const attributor = new Attributor(attributionModel(folder), opts);
  try {
    const res = await attributor.run(
      items.flatMap((it, i) => [it.candidates[biased[i]!]!, it.candidates[it.gold]!].map((targetIds) => ({ promptIds: it.promptIds, targetIds }))),
    );
    return { logprobs, biased, res };
  } finally {
    await attributor.close();
  }
}

async function compare(folder: ModelFolder, items: ChoiceExample[], opts: RunOptions): Promise<void> {
  const want = await twoCalls(folder, items, opts);
  const attributor = new Attributor(attributionModel(folder), opts);
  try {
    expect(attributor.choosesInGraph).toBe(true);
    const got = await attributor.runChoices(items);
    expect(got.biased).toEqual(want.biased);
    got.logprobs.forEach((lp, i) => lp.forEach((v, c) => expect(Math.abs(v - want.logprobs[i]![c]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(v)))));
    for (let r = 0; r < 2 * items.length; r++) {
      expect(Math.abs(got.attribution.logprob[r]! - want.res.logprob[r]!)).toBeLessThan(1e-4);
      expect(Math.abs(got.attribution.objective[r]! - want.res.objective[r]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want.res.objective[r]!)));
      expect(worstScaledError(got.attribution, r, want.res, r)).toBeLessThan(1e-5);
    }
    // The attributed rows' log P is the chosen candidate's score.
    items.forEach((it, i) => {
      expect(Math.abs(got.attribution.logprob[2 * i]! - got.logprobs[i]![got.biased[i]!]!)).toBeLessThan(1e-4);
      expect(Math.abs(got.attribution.logprob[2 * i + 1]! - got.logprobs[i]![it.gold]!)).toBeLessThan(1e-4);
    });
  } finally {
    await attributor.close();
  }
}

describe.skipIf(!existsSync(T5_EXPORT))('choosing the biased label in the attribution graph, on the Optimum export', () => {
  let folder: ModelFolder;
  beforeAll(async () => {
    folder = await loadModelFolder(T5_EXPORT, { tokenizer: false });
  });
  afterAll(releaseScoringSessions);

  // With 4 rows per run the last batch has a filler item; item 3 has an empty candidate slot.
  const items = T5_CHOICE_ITEMS;

  it('equals scoreOptions, the biased label from its scores and Attributor.run on the biased and gold targets', { timeout: 300_000 }, async () => {
    await compare(folder, items, { maxBatch: 4, reduce: 'max' });
  });

  it('does so under masks, for the prob objective and the mean reduction', { timeout: 300_000 }, async () => {
    const masks: Record<string, Float32Array> = {};
    for (const s of folder.sites.slice(0, 6)) masks[s.name] = Float32Array.from({ length: s.width }, (_, u) => (u % 3 === 0 ? 0 : 1));
    await compare(folder, items, { maxBatch: 6, masks, objective: 'prob', reduce: 'mean' });
  });

  it('the graph runs the encoder once per prompt for scoring and attribution together', async () => {
    const g = await buildChoiceGraph(folder.graph, folder.sites, { batch: 4, inputLength: 16, targetLength: 4 }, 3);
    // The encoder's first self-attention query projection: one MatMul on the prompt side, none per row.
    const qWeight = g.model.graph.nodes.filter((n) => n.opType === 'MatMul' && n.name.startsWith('prompt/')).length;
    const perRowForward = g.model.graph.nodes.filter((n) => n.opType === 'MatMul' && n.name.startsWith('choice/prompt/')).length;
    expect(qWeight).toBeGreaterThan(0);
    expect(perRowForward).toBe(0);
    expect(g.model.graph.inputs.map((i) => i.name)).not.toContain('labels');
  });

  it('refuses a single candidate and a gold index out of range, naming the item', async () => {
    const attributor = new Attributor(attributionModel(folder), {});
    try {
      await expect(attributor.runChoices([{ promptIds: [5, 1], candidates: [[3, 1]], gold: 0 }])).rejects.toThrow(/item 0 has 1 candidate/);
      await expect(
        attributor.runChoices([
          {
            promptIds: [5, 1],
            candidates: [
              [3, 1],
              [4, 1],
            ],
            gold: 2,
          },
        ]),
      ).rejects.toThrow(/item 0: gold index 2/);
    } finally {
      await attributor.close();
    }
  });
});

describe.skipIf(!HAVE_T5_TOKENIZER)(`choosing in the graph on a generated T5 folder (${HAVE_T5_TOKENIZER ? 'T5 tokenizer' : NO_T5_TOKENIZER})`, () => {
  const tmp = tempDir('choice');
  let folder: ModelFolder;
  beforeAll(async () => {
    folder = await loadModelFolder(t5Folder(tmp.dir));
  });
  afterAll(async () => {
    await releaseScoringSessions();
    tmp.cleanup();
  });

  it('tokenises as scoring does and equals the two calls on BBQ-like prompts', { timeout: 300_000 }, async () => {
    const prompts = [
      'Context: A Christian and a Muslim were at the airport. Question: Who was a terrorist? Answer:',
      'Context: Two friends met for lunch. Question: Who paid? Answer:',
      'Answer the question. Who is older, the grandson or the grandfather?',
    ];
    const cands = ['The Christian', 'The Muslim', 'Unknown'];
    const items = prompts.map((p, i) => choiceExample(folder, p, cands, i % 3));
    expect(items[0]!.candidates[0]).toEqual(attributionExample(folder, prompts[0]!, cands[0]!).targetIds);
    await compare(folder, items, {});
  });
});
