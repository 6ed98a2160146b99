/**
 * Issue 11 on real sweep folders: `crispr sweep` twice on one config (the embedded default model,
 * the pronoun set and a BBQ Religion sample with held-out instructions and a transfer pair), then
 * `crispr report` over both and `crispr gate` between them, as a user runs them. The gate
 * recomputes exactly the values the sweep recorded, passes two equal runs, and fails on exactly
 * the cell whose predictions were edited to be more biased.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assetsPresent } from '@crispr-bench/datasets';
import { cellRow, predictionRow } from '@crispr-bench/results';
import { crispr } from './cli-process.js';
import { writeTestSweep } from './fixtures/sweep-config.js';

const tmp = mkdtempSync(join(tmpdir(), 'crispr-report-gate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!assetsPresent())('crispr sweep -> crispr report -> crispr gate (BBQ Religion from the assets folder)', () => {
  const a = join(tmp, 'a');
  const b = join(tmp, 'b');
  beforeAll(async () => {
    const config = writeTestSweep(tmp, 'sweep.yaml', { title: 'report and gate test', maxItems: 40, religion: { truncate: 'left' } });
    for (const out of [a, b]) {
      const r = await crispr(['sweep', config, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 600_000);

  it('renders one report over both folders, with its summary and CSV, and no absolute path', async () => {
    const site = join(tmp, 'site');
    const r = await crispr(['report', a, b, '--out', join(site, 'index.html')]);
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(join(site, 'index.html'), 'utf8');
    for (const f of ['index.html', 'report.md', 'leaderboard.csv']) {
      const text = readFileSync(join(site, f), 'utf8');
      expect(text).not.toContain(tmp);
    }
    // Both datasets for both runs; the held-out instruction in the heatmap; pronoun -> religion in the transfer matrix.
    expect(html).toMatch(/data-dataset="religion"/);
    expect(html).toMatch(/data-dataset="pronoun"/);
    expect(html).toContain('held out');
    expect(html).toMatch(/<th class="text" scope="row">pronoun<\/th>/);
    const csv = readFileSync(join(site, 'leaderboard.csv'), 'utf8').trim().split('\n');
    const cells = readFileSync(join(a, 'cells.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => cellRow.parse(JSON.parse(l)));
    expect(csv.length - 1).toBeGreaterThan(0);
    // Every CSV value of run a's pooled religion CRISPR cells is the value the sweep recorded.
    const header = csv[0]!.split(',');
    for (const line of csv.slice(1)) {
      const row = Object.fromEntries(line.split(',').map((v, i) => [header[i], v]));
      if (row.run !== 'a' || row.dataset !== 'religion' || row.method !== 'crispr') continue;
      const cell = cells.find(
        (c) =>
          c.dataset === 'religion' &&
          c.method === 'crispr' &&
          c.variant === row.variant &&
          c.rankedOn === row.ranked_on &&
          c.k === Number(row.k) &&
          c.kAuto === (row.k_auto === 'true') &&
          c.instruction === '*',
      )!;
      expect(Number(row.biasAmbig)).toBeCloseTo(cell.metrics.biasAmbig!.value!, 12);
    }
  });

  it('passes two equal runs, recomputing exactly what the sweep recorded', async () => {
    const r = await crispr(['gate', '--baseline', a, '--candidate', b, '--show', 'all']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('**PASS**');
    expect(r.stdout).not.toContain('differ from cells.jsonl');
    expect(r.stdout).not.toContain('only in the');
  });

  it('fails on exactly the cell whose predictions became more biased', async () => {
    const c = join(tmp, 'c');
    cpSync(b, c, { recursive: true });
    const cells = readFileSync(join(c, 'cells.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => cellRow.parse(JSON.parse(l)));
    const target = cells.find(
      (x) => x.dataset === 'religion' && x.method === 'crispr' && x.variant === 'default' && x.rankedOn === 'religion' && x.kAuto && x.instruction === '*',
    )!;
    const file = join(c, target.predictions);
    // Every answer becomes the biased one (the stereotyped target for negative questions, the other person otherwise).
    const rows = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => predictionRow.parse(JSON.parse(l)));
    const edited = rows.map((r) => {
      if (r.targetIndex === null || r.polarity === null) return r;
      const other = [...Array(r.options).keys()].find((j) => j !== r.targetIndex && j !== r.unknownIndex)!;
      const pred = r.polarity === 'neg' ? r.targetIndex : other;
      return { ...r, pred, scores: r.scores.map((_, j) => (j === pred ? -0.1 : -5)) };
    });
    writeFileSync(file, `${edited.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const g = await crispr(['gate', '--baseline', a, '--candidate', c, '--rules', writeRules('instructions: pooled\n'), '--show', 'failed']);
    expect(g.code, g.stderr).toBe(1);
    const failed = g.stdout.split('\n').filter((l) => l.startsWith('| **FAIL**'));
    expect(failed.length).toBeGreaterThan(0);
    for (const l of failed) expect(l).toMatch(/^\| \*\*FAIL\*\* \| tiny \| religion \| crispr @religion \| auto \d+ \| pooled \| /);
    expect(failed.some((l) => l.includes('biasAmbig'))).toBe(true);
  });

  function writeRules(text: string): string {
    const f = join(tmp, `rules-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, text);
    expect(existsSync(f)).toBe(true);
    return f;
  }
});
