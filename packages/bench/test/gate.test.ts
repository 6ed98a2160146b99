/**
 * `crispr gate` on synthetic sweep folders (tests/fixtures/sweep-fixture.ts): identical runs
 * pass, an injected bias increase fails on exactly its cell, a small change inside the noise
 * passes, and inputs that are not the same experiment exit 2 with the reason.
 */
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { UsageError, type CliIO } from '@crispr-bench/core';
import { gateCommand } from '../src/cli/commands/gate.js';
import { compareFolders, parseRules, DEFAULT_RULES, worsening, metricStat } from '../src/gate/index.js';
import type { PredictionRow } from '@crispr-bench/results';
import { writeSweepFixture, type FixtureOptions } from '../../../tests/fixtures/sweep-fixture.js';
import { crispr } from '../../../tests/cli-process.js';

function capture(): CliIO & { outLines: string[]; errLines: string[]; text(): string } {
  const outLines: string[] = [],
    errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l), text: () => [...outLines, ...errLines].join('\n') };
}

const small: FixtureOptions = {
  title: 'gate fixture',
  models: ['m1'],
  datasets: [
    { label: 'bbq-age', kind: 'bbq', role: 'bias', items: 64 },
    { label: 'mc-retention', kind: 'mc', role: 'retention', items: 32 },
  ],
  groups: [
    { method: 'original', variant: '', rankedOn: null, ks: [0] },
    { method: 'crispr', variant: 'default', rankedOn: 'bbq-age', ks: [8, 16] },
    { method: 'random', variant: '', rankedOn: null, ks: [16] },
  ],
  resamples: 50,
};

describe('crispr gate', () => {
  let root: string;
  let baseline: string;
  const target = { model: 'm1', method: 'crispr', variant: 'default', rankedOn: 'bbq-age', k: 16, dataset: 'bbq-age' };
  const folder = (name: string, extra: FixtureOptions = {}) => writeSweepFixture(join(root, name), { ...small, ...extra }).dir;
  const rulesFile = (name: string, text: string) => {
    const f = join(root, name);
    writeFileSync(f, text);
    return f;
  };
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'crispr-gate-'));
    baseline = folder('baseline');
  });

  it('identical results pass, every check with a zero move', async () => {
    const same = folder('same');
    const io = capture();
    expect(await gateCommand.run(['--baseline', baseline, '--candidate', same], io)).toBe(0);
    expect(io.text()).toContain('**PASS**');
    const r = compareFolders(baseline, same, DEFAULT_RULES);
    // 3 instructions + pooled, for 4 prediction groups on bbq and 4 on retention.
    expect(r.cellsCompared).toBe(32);
    expect(r.failed).toEqual([]);
    for (const row of r.rows) if (row.status !== 'n/a') expect(row.worse).toBe(0);
    // The values recomputed from the predictions are the ones the cells recorded.
    expect(r.notes).toEqual([]);
    // A cell whose recorded value disagrees with its predictions is pointed out.
    const tampered = folder('tampered');
    const lines = readFileSync(join(tampered, 'cells.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    lines[0].metrics.accuracy.value = 0.123;
    writeFileSync(join(tampered, 'cells.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    expect(compareFolders(baseline, tampered, DEFAULT_RULES).notes.join('\n')).toMatch(
      /1 metric value\(s\) recomputed from the predictions differ from cells\.jsonl .*m1\/original\/0\/bbq-age\/paper-1 accuracy: recorded 0\.123/,
    );
  });

  it('an injected bias increase (a quarter of answers turned biased) fails on exactly that cell', async () => {
    const worse = folder('worse', {
      biasShift: (k) => (k.model === target.model && k.method === target.method && k.k === target.k && k.dataset === target.dataset ? 0.25 : 0),
    });
    const rules = rulesFile('pooled.yaml', 'instructions: pooled\nbootstrap:\n  resamples: 500\n');
    const io = capture();
    expect(await gateCommand.run(['--baseline', baseline, '--candidate', worse, '--rules', rules, '--show', 'failed'], io)).toBe(1);
    const r = compareFolders(baseline, worse, parseRules(readFileSync(rules, 'utf8'), rules));
    expect(r.failed.length).toBeGreaterThan(0);
    const failedCells = new Set(r.failed.map((f) => JSON.stringify([f.model, f.method, f.variant, f.rankedOn, f.k, f.dataset, f.instruction])));
    expect([...failedCells]).toEqual([JSON.stringify([target.model, 'crispr', 'default', 'bbq-age', '16', 'bbq-age', '*'])]);
    expect(r.failed.map((f) => f.metric)).toContain('biasAmbig');
    for (const f of r.failed) {
      // Biased answers replace some correct ones: bias scores and accuracies move, nothing else.
      expect(f.metric).toMatch(/^(bias|accuracy)/);
      expect(f.worse!).toBeGreaterThan(f.threshold);
      expect(f.lo!).toBeGreaterThan(0);
    }
    // The table names the failing cell and metric.
    const table = io.text();
    expect(table).toContain('**FAIL**: ');
    expect(table).toMatch(/\| \*\*FAIL\*\* \| m1 \| bbq-age \| crispr @bbq-age \| 16 \| pooled \| biasAmbig \|/);
    // Gating every instruction's cell too: whatever fails is still that method, k and dataset.
    const every = compareFolders(baseline, worse, DEFAULT_RULES);
    expect(new Set(every.failed.map((f) => JSON.stringify([f.model, f.method, f.variant, f.k, f.dataset])))).toEqual(
      new Set([JSON.stringify(['m1', 'crispr', 'default', '16', 'bbq-age'])]),
    );
    // The other cells of the same run are compared and pass.
    expect(r.rows.filter((x) => x.status === 'pass' && x.k === '8').length).toBeGreaterThan(0);
  });

  it('a small change inside the noise passes', async () => {
    const noisy = folder('noisy', {
      noise: 0.04,
      noiseSeed: 7,
      biasShift: (k) => (k.method === 'crispr' && k.k === 16 ? 0.01 : 0),
    });
    const io = capture();
    expect(await gateCommand.run(['--baseline', baseline, '--candidate', noisy, '--show', 'all'], io)).toBe(0);
    const r = compareFolders(baseline, noisy, DEFAULT_RULES);
    // Something did move (the check is not vacuous) ...
    expect(r.rows.some((x) => x.worse !== null && x.worse > 0)).toBe(true);
    // ... and every move is within its threshold or its interval includes 0.
    expect(r.failed).toEqual([]);
  });

  it('refuses different items, different configs and run folders, with exit 2 and the reason', async () => {
    const shifted = folder('shifted', { idOffset: 1000 });
    let io = capture();
    expect(await gateCommand.run(['--baseline', baseline, '--candidate', shifted], io)).toBe(2);
    expect(io.errLines.join('\n')).toMatch(
      /cannot compare: different items in cell m1\/original\/0\/bbq-age\/paper-1: .*only in the baseline, e\.g\. bbq-age\/0/,
    );

    const otherConfig = folder('config', { config: { models: ['m1'], datasets: ['bbq-age', 'mc-retention'], instructions: ['paper-1'], bootstrap: 50 } });
    io = capture();
    expect(await gateCommand.run(['--baseline', baseline, '--candidate', otherConfig], io)).toBe(2);
    expect(io.errLines.join('\n')).toMatch(/different configs: 'instructions' differs/);
    // Allowed when the rules say the key may differ (the items still match).
    io = capture();
    expect(
      await gateCommand.run(['--baseline', baseline, '--candidate', otherConfig, '--rules', rulesFile('ignore.yaml', 'ignoreConfig: [instructions]\n')], io),
    ).toBe(0);

    const runDir = join(root, 'run');
    writeFileSync(join(root, 'results.json'), '{}');
    io = capture();
    expect(await gateCommand.run(['--baseline', baseline, '--candidate', join(root, 'results.json')], io)).toBe(2);
    expect(io.errLines.join('\n')).toMatch(/not a sweep results folder.*has no per-item predictions/);
    io = capture();
    expect(await gateCommand.run(['--baseline', baseline, '--candidate', runDir], io)).toBe(2);
    expect(io.errLines.join('\n')).toMatch(/does not exist/);
  });

  it('validates the rules file and the command line (usage errors)', async () => {
    await expect(gateCommand.run(['--baseline', baseline], capture())).rejects.toThrow(UsageError);
    await expect(
      gateCommand.run(
        ['--baseline', baseline, '--candidate', baseline, '--rules', rulesFile('typo.yaml', 'metrics:\n  biasAmbig: { treshold: 0.1 }\n')],
        capture(),
      ),
    ).rejects.toThrow(/metrics\.biasAmbig: Unrecognized key/);
    await expect(
      gateCommand.run(['--baseline', baseline, '--candidate', baseline, '--rules', rulesFile('neg.yaml', 'threshold: -1\n')], capture()),
    ).rejects.toThrow(/threshold/);
    const r = parseRules('threshold: 0.05\nmetrics:\n  accuracy: { threshold: 0.01 }\n', 'x.yaml');
    expect(r.threshold).toBe(0.05);
    expect(r.metrics.accuracy!.threshold).toBe(0.01);
    expect(r.bootstrap.resamples).toBe(1000);
  });

  it('says which listed metrics it cannot recompute (and so does not gate)', () => {
    const dir = folder('extra-metric');
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    m.datasets[1].metricInfo.push({ key: 'heldout_loss', label: 'loss on held-out text', better: 'lower' });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    // The baseline's metric definitions are the reference.
    const r = compareFolders(dir, baseline, DEFAULT_RULES);
    expect(r.notes).toContain('mc-retention: heldout_loss cannot be recomputed from per-item predictions and are not gated');
    expect(r.rows.some((x) => x.metric === 'heldout_loss')).toBe(false);
  });

  it('retention items folded into a BBQ task count for retentionAccuracy only', () => {
    const row = (id: string, category: string, label: number, pred: number, bbq: boolean): PredictionRow => ({
      id,
      category,
      instruction: 'i',
      options: 3,
      label,
      unknownIndex: bbq ? 2 : null,
      targetIndex: bbq ? 0 : null,
      polarity: bbq ? 'neg' : null,
      condition: bbq ? 'disambig' : null,
      scores: [0, 0, 0],
      pred,
    });
    const rows = [
      row('1', 'Age', 0, 0, true),
      row('2', 'Age', 1, 0, true),
      row('r1', 'retention', 1, 1, false),
      row('r2', 'retention', 2, 2, false),
      row('r3', 'retention', 0, 1, false),
    ];
    const v = metricStat('bbq', rows)(undefined);
    expect(v.accuracy).toBe(0.5);
    expect(v.n).toBe(2);
    expect(v.retentionAccuracy).toBeCloseTo(2 / 3, 12);
    // A resample of positions keeps the split: the first BBQ item twice, the missed retention item once.
    const r = metricStat('bbq', rows)([0, 0, 4]);
    expect(r.accuracy).toBe(1);
    expect(r.retentionAccuracy).toBe(0);
  });

  it('a bias score is worse by its growth in distance from 0', () => {
    expect(worsening('zero', 0.1, -0.3)).toBeCloseTo(0.2);
    expect(worsening('zero', -0.3, 0.1)).toBeCloseTo(-0.2);
    expect(worsening('higher', 0.8, 0.7)).toBeCloseTo(0.1);
    expect(worsening('lower', 0.1, 0.3)).toBeCloseTo(0.2);
  });

  it('exits 2 from the real command line for incomparable inputs', async () => {
    const shifted = join(root, 'shifted');
    const res = await crispr(['gate', '--baseline', baseline, '--candidate', shifted]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('different items');
  });
});
