/**
 * Greedy generation (core models/generate.ts) and the sweep's generation mode (issue 16): the
 * key/value-cache loop (decoder-only) and the encoder-once loop (seq2seq) give the same tokens as
 * the plain loop that reruns the full graph on prompt + answer so far, with and without masks;
 * a sweep in generation mode judges the answers against the options and counts the unmatched.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateGreedy, loadModelFolder, pruningMasks, releaseGenerationSessions } from '@crispr-bench/core';
import { makeDefaultModel } from '@crispr-bench/bench';
import { cellRow, predictionRow } from '@crispr-bench/results';
import { ORGANISM_MODEL_DIR } from '../packages/bench/src/organism/task.js';
import { crispr } from './cli-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'crispr-gen-'));
afterAll(async () => {
  await releaseGenerationSessions();
  rmSync(tmp, { recursive: true, force: true });
});

const PROMPTS = ['The pilot was tired, so', 'Once upon a time', 'Context: The nurse and the doctor talked. Question: Who was tired? Answer:'];

describe('greedy generation', () => {
  it('decoder-only: the key/value-cache loop equals the full-graph loop, with and without masks', async () => {
    const made = await makeDefaultModel(join(tmp, 'default'), { overwrite: true });
    const f = await loadModelFolder(made.dir);
    const fast = await generateGreedy(f, PROMPTS, { maxNewTokens: 6 });
    expect(fast).toEqual(await generateGreedy(f, PROMPTS, { maxNewTokens: 6, path: 'full' }));
    expect(fast.every((t) => t.length > 0)).toBe(true);
    // Pruning half of every site changes what is generated, identically on both paths.
    const masks = pruningMasks(
      f.sites,
      f.sites.flatMap((s) => Array.from({ length: Math.floor(s.width / 2) }, (_, unit) => ({ site: s.name, unit }))),
    );
    const pruned = await generateGreedy(f, PROMPTS, { maxNewTokens: 6, masks });
    expect(pruned).toEqual(await generateGreedy(f, PROMPTS, { maxNewTokens: 6, masks, path: 'full' }));
    expect(pruned).not.toEqual(fast);
  });

  it('seq2seq: the encoder-once loop equals the full-graph loop', async () => {
    const f = await loadModelFolder(ORGANISM_MODEL_DIR);
    expect(f.parts).toBeDefined();
    const fast = await generateGreedy(f, PROMPTS, { maxNewTokens: 5 });
    expect(fast).toEqual(await generateGreedy(f, PROMPTS, { maxNewTokens: 5, path: 'full' }));
  });

  it('a sweep in generation mode judges generated answers and counts the unmatched', async () => {
    const cfg = join(tmp, 'gen.yaml');
    writeFileSync(
      cfg,
      [
        'models: [{ label: org, path: organism }]',
        'datasets:',
        '  - { label: organism, source: organism, maxItems: 40, evaluation: { mode: generate, maxNewTokens: 3 } }',
        'methods: { variants: [default], random: false, cc: true }',
        'k: [0, 8]',
        'bootstrap: 50',
        '',
      ].join('\n'),
    );
    const r = await crispr(['sweep', cfg, '--out', join(tmp, 'out')]);
    expect(r.code, r.stderr).toBe(0);
    const rows = readFileSync(join(tmp, 'out', 'cells.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => cellRow.parse(JSON.parse(l)));
    // Calibration reweights option scores: no CC cells for a generated evaluation.
    expect(new Set(rows.map((c) => c.method))).toEqual(new Set(['original', 'crispr']));
    for (const c of rows) {
      const preds = readFileSync(join(tmp, 'out', c.predictions), 'utf8')
        .trim()
        .split('\n')
        .map((l) => predictionRow.parse(JSON.parse(l)));
      const mine = c.instruction === '*' ? preds : preds.filter((p) => p.instruction === c.instruction);
      expect(c.unmatched).toBe(mine.filter((p) => p.pred === null).length);
      expect(mine.length).toBe(c.n);
    }
    // Some answers match an option and are judged; the rest are counted, not dropped.
    const pooled = rows.find((c) => c.method === 'original' && c.instruction === '*')!;
    expect(pooled.unmatched!).toBeLessThan(pooled.n);
    expect(pooled.metrics.accuracy!.value).not.toBeNull();
  });
});
