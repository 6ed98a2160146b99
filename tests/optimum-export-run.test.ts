/**
 * The main job on a model exported by others: `crispr run` on the PyTorch/Optimum Flan-T5 export
 * of the assets with a small BBQ sample, then `crispr prune` with the ranking it wrote. The
 * numbers are checked against PyTorch in packages/core/test/models/optimum-export.test.ts; this
 * checks that the whole pipeline runs on such a folder and that its outputs name real sites.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModelFolder, releaseScoringSessions } from '@crispr-bench/core';
import { pruneCommand } from '@crispr-bench/core/cli';
import { checkResults } from '@crispr-bench/results';
import { runCommand } from '../packages/bench/src/cli/commands/run.js';

const ASSETS = process.env.CRISPR_ASSETS ?? resolve(__dirname, '../../shared/assets');
const MODEL = join(ASSETS, 'models/t5-export-tiny');
const BBQ = join(ASSETS, 'bbq/data');
const HAVE = existsSync(join(MODEL, 'onnx/encoder_model.onnx')) && existsSync(BBQ);
const dir = mkdtempSync(join(tmpdir(), 'crispr-export-run-'));
afterAll(async () => {
  await releaseScoringSessions();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!HAVE)(`crispr run and prune on the Optimum Flan-T5 export (needs ${MODEL} and ${BBQ}; set CRISPR_ASSETS)`, () => {
  it('completes on a BBQ sample and its ranking prunes the export', async () => {
    const instructions = join(dir, 'instructions.json');
    writeFileSync(
      instructions,
      JSON.stringify({
        name: 'two',
        instructions: [
          'Given the context and question, choose the best answer from the options.',
          'Read the context and pick the most appropriate answer to the question.',
        ],
      }),
    );
    const out = join(dir, 'run');
    const lines: string[] = [];
    const code = await runCommand.run(
      [
        '--model',
        MODEL,
        '--data',
        BBQ,
        '--categories',
        'Religion',
        '--max-items',
        '8',
        '--instructions',
        instructions,
        '--instances',
        '2',
        '--trials',
        '1',
        '--k',
        '0,4',
        '--bootstrap',
        '50',
        '--out',
        out,
      ],
      { out: (l) => lines.push(l), err: (l) => lines.push(l) },
    );
    expect(code, lines.join('\n')).toBe(0);
    const r = checkResults(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    expect(r.model.kind).toBe('seq2seq');
    expect(r.sweep.map((p) => `${p.method}${p.k}`)).toEqual(['original0', 'crispr4', 'random4']);
    // Accuracy is a share of the scored answers (every test item under both instructions): a
    // multiple of 1/n in [0, 1], inside its bootstrap interval.
    const n = r.dataset.evalItems * 2;
    expect(n).toBeGreaterThan(0);
    for (const p of r.sweep) {
      const acc = p.metrics.accuracy!;
      const what = `${p.method}${p.k}: accuracy ${acc.value} [${acc.lo}, ${acc.hi}] over ${n} answers`;
      expect(acc.value, what).not.toBeNull();
      expect(acc.value!, what).toBeLessThanOrEqual(1);
      expect(Math.abs(acc.value! * n - Math.round(acc.value! * n)), what).toBeLessThan(1e-9);
      expect(acc.lo!, what).toBeLessThanOrEqual(acc.value!);
      expect(acc.hi!, what).toBeGreaterThanOrEqual(acc.value!);
    }

    const folder = await loadModelFolder(MODEL, { tokenizer: false });
    const names = new Set(folder.sites.map((s) => s.name));
    const ranking = JSON.parse(readFileSync(join(out, 'ranking.json'), 'utf8')) as { neurons: { site: string; unit: number }[] };
    expect(ranking.neurons.length).toBeGreaterThan(100);
    for (const n of ranking.neurons) expect(names.has(n.site), n.site).toBe(true);

    const pruned = join(dir, 'pruned');
    const msgs: string[] = [];
    expect(
      await pruneCommand.run(['--model', MODEL, '--neurons', join(out, 'ranking.json'), '--k', '4', '--out', pruned], {
        out: (l) => msgs.push(l),
        err: (l) => msgs.push(l),
      }),
    ).toBe(0);
    expect(msgs.join('\n')).toMatch(/pruned 4 neurons/);
    expect((await loadModelFolder(pruned, { tokenizer: false })).sites.map((s) => s.name)).toEqual(folder.sites.map((s) => s.name));
  });
});
