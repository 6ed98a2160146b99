import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync, mkdirSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError, UserError, type CliIO } from '@crispr-bench/core';
import { renderReport, renderAll, loadInputs, lineChart, niceTicks, scriptJson, writeReport, mdText } from '../src/index.js';
import { reportCommand } from '../src/cli/index.js';
import { writeSweepFixture, HOSTILE } from '../../../tests/fixtures/sweep-fixture.js';

const fixture = () => JSON.parse(readFileSync(new URL('./fixtures/results.json', import.meta.url), 'utf8'));
const io = (): CliIO & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
};

describe('report over sweeps and runs', () => {
  let root: string, sweep: string, run: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'crispr-report-'));
    sweep = writeSweepFixture(join(root, 'sweep-a')).dir;
    run = join(root, 'run-b');
    mkdirSync(run);
    writeFileSync(join(run, 'results.json'), JSON.stringify(fixture()));
  });

  it('one leaderboard row per run x model x dataset x method variant, every k behind it', () => {
    const input = loadInputs([sweep, run], root);
    const { html, rows } = renderAll(input);
    // Sweep: 2 models x 3 non-retention datasets x 7 method groups; run: original, crispr, random.
    expect((html.match(/<tr class="lead"/g) ?? []).length).toBe(2 * 3 * 7 + 3);
    // crispr default ranked on bbq-age: k = 4, 16, 64 and 23 (chosen on the dev split) for each model and dataset.
    const chosen = rows.filter((r) => r.chosen === true);
    expect(chosen.length).toBe(2 * 3 * 7 + 3);
    const age = rows.filter(
      (r) =>
        r.run === 'sweep-a' &&
        r.model === 'tiny-llama' &&
        r.dataset === 'bbq-age' &&
        r.method === 'crispr' &&
        r.variant === 'default' &&
        r.ranked_on === 'bbq-age',
    );
    expect(age.map((r) => r.k)).toEqual([4, 16, 23, 64]);
    expect(age.find((r) => r.chosen)!.k).toBe(23);
    expect(age.find((r) => r.k === 23)!.k_auto).toBe(true);
    // Random pruning, the control, stands at CRISPR's chosen k where it was evaluated there (16 on bbq-religion).
    const random = rows.filter((r) => r.run === 'sweep-a' && r.model === 'tiny-llama' && r.dataset === 'bbq-religion' && r.method === 'random');
    expect(random.find((r) => r.chosen)!.k).toBe(16);
    // Retention accuracy sits beside the bias dataset's metrics, the same value the retention cell holds.
    const cells = readFileSync(join(sweep, 'cells.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const ret = cells.find(
      (c) =>
        c.model === 'tiny-llama' &&
        c.method === 'crispr' &&
        c.variant === 'default' &&
        c.rankedOn === 'bbq-age' &&
        c.k === 23 &&
        c.dataset === 'mc-retention' &&
        c.instruction === '*',
    );
    expect(age.find((r) => r.k === 23)!['retention_mc-retention']).toBe(ret.metrics.accuracy.value);
    // Mean and SD across instructions summarise the three per-instruction cells.
    const per = cells
      .filter((c) => c.model === 'tiny-llama' && c.method === 'original' && c.dataset === 'bbq-age' && c.instruction !== '*')
      .map((c) => c.metrics.biasAmbig.value);
    const mean = per.reduce((a: number, b: number) => a + b, 0) / per.length;
    const orig = rows.find((r) => r.run === 'sweep-a' && r.model === 'tiny-llama' && r.dataset === 'bbq-age' && r.method === 'original')!;
    expect(orig.biasAmbig_instr_mean).toBeCloseTo(mean, 12);
    // Every section is there.
    for (const id of ['leaderboard', 'curves', 'ablations', 'transfer', 'instructions', 'neurons', 'runs']) expect(html).toContain(`<section id="${id}">`);
    expect((html.match(/<table class="ablation-table">/g) ?? []).length).toBeGreaterThan(0);
    expect(html).toMatch(/<th class="text" scope="row">bbq-religion<\/th>/); // a transfer row ranked on another dataset
    expect(html).toContain('reduce=mean');
  });

  it('escapes every string from the data: markup and scripts stay text, the embedded JSON cannot close its element', () => {
    const { html, markdown } = renderAll(loadInputs([sweep, run], root));
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<b>bold?</b>');
    expect(html).toContain('&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;');
    expect(html).toContain('a &lt;note&gt; with markup');
    // Exactly the page's own two script elements open and close.
    expect((html.match(/<script/g) ?? []).length).toBe(2);
    expect((html.match(/<\/script>/g) ?? []).length).toBe(2);
    expect((html.match(/<!--/g) ?? []).length).toBe(0);
    const json = html.match(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/)![1]!;
    expect(JSON.parse(json).groups.some((g: { dataset: string }) => g.dataset === 'bbq-age')).toBe(true);
    expect(scriptJson({ s: '</script><!-- & \u2028' })).toBe('{"s":"\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028"}');
    // Markdown: no live markup, no pipe that would split a table cell.
    expect(markdown).not.toContain('<script>');
    expect(mdText(`a|b ${HOSTILE}`)).not.toMatch(/(^|[^\\])[|<>]/);
  });

  it('publishes no absolute local path', () => {
    const dir = join(root, 'abs-run');
    mkdirSync(dir);
    const r = fixture();
    r.config.model = join(root, '.crispr-cache', 'default-model');
    r.notes.push(`model loaded from ${join(root, '.crispr-cache', 'default-model')}`);
    writeFileSync(join(dir, 'results.json'), JSON.stringify(r));
    const out = writeReport([dir, sweep], join(root, 'site', 'report.html'));
    for (const f of [out.html, out.markdown, out.csv]) {
      const text = readFileSync(f, 'utf8');
      expect(text).not.toContain(root);
      expect(text).not.toContain(tmpdir());
    }
    const html = readFileSync(out.html, 'utf8');
    expect(html).toContain('../.crispr-cache/default-model'); // relative to the results folder
    expect(html).toContain('<code>../abs-run/results.json</code>'); // the input, relative to the report
  });

  it('draws axes on round ticks', () => {
    const t = niceTicks(0.684, 0.976);
    expect(t.labels).toEqual(['0.6', '0.7', '0.8', '0.9', '1.0']); // not 0.684, 0.757, ..., 0.976
    expect(niceTicks(-0.31, 0.12).labels).toEqual(['-0.4', '-0.2', '0.0', '0.2']);
    expect(niceTicks(0.05, 0.07).labels).toEqual(['0.050', '0.055', '0.060', '0.065', '0.070']);
    expect(niceTicks(0, 480).ticks).toEqual([0, 200, 400, 600]);
    expect(niceTicks(3, 397).ticks).toEqual([0, 100, 200, 300, 400]);
    const { html } = renderAll(loadInputs([sweep], root));
    const labels = [...html.matchAll(/class="tick ytick">([^<]+)</g)].map((m) => m[1]!);
    expect(labels.length).toBeGreaterThan(20);
    for (const l of labels) {
      // Every y label is a multiple of 1, 2 or 5 x 10^e with at most the step's decimals.
      const v = Number(l);
      const ok = [1, 2, 5].some((b) =>
        [-3, -2, -1, 0, 1, 2].some(
          (e) => Math.abs(v / (b * 10 ** e) - Math.round(v / (b * 10 ** e))) < 1e-9 && (l.split('.')[1]?.length ?? 0) <= Math.max(0, -e),
        ),
      );
      expect(ok, l).toBe(true);
    }
  });

  it('plots points at their coordinates', () => {
    const svg = lineChart(
      't',
      'x',
      'y',
      [
        {
          label: 's',
          color: '#000',
          points: [
            { x: 0, y: 0 },
            { x: 10, y: 1 },
          ],
        },
      ],
      { width: 200, height: 100 },
    );
    const circles = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(circles).toHaveLength(2);
    expect(circles[0]![0]).toBeLessThan(circles[1]![0]!);
    expect(circles[0]![1]).toBeGreaterThan(circles[1]![1]!);
  });

  it('renders a single crispr run results.json through the same page', () => {
    const html = renderReport(fixture());
    expect(html).toContain('<title>Fixture run');
    expect((html.match(/<tr class="lead"/g) ?? []).length).toBe(3); // original, crispr (k = 2, 4), random
    expect((html.match(/<tr class="krow"/g) ?? []).length).toBe(1);
    expect(html).toContain('0.050, 0.150'); // the interval of crispr k = 2
    expect(html).toContain('model.layers.1.mlp.down_proj'.split('.')[0]); // neuron map caption names the model's ranking
    expect(html).toMatch(/data-method="random"[\s\S]*?—/); // undefined metrics print as a dash, never 0
  });

  it('crispr report writes report.html, report.md and leaderboard.csv; bad usage is a usage error', async () => {
    const out = join(root, 'cli', 'board.html');
    const o = io();
    expect(await reportCommand.run([sweep, run, '--out', out], o)).toBe(0);
    for (const f of ['board.html', 'report.md', 'leaderboard.csv']) expect(existsSync(join(root, 'cli', f))).toBe(true);
    const csv = readFileSync(join(root, 'cli', 'leaderboard.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]!.startsWith('run,model,dataset,role,method,variant,ranked_on,k,k_auto,chosen,n,accuracy,')).toBe(true);
    expect(csv.length - 1).toBe(renderAll(loadInputs([sweep, run], root)).rows.length);
    expect(readFileSync(join(root, 'cli', 'report.md'), 'utf8')).toContain('### bbq-age');
    // A label that a spreadsheet would run as a formula stays text.
    const evil = join(root, 'evil-run');
    mkdirSync(evil);
    writeFileSync(join(evil, 'results.json'), JSON.stringify({ ...fixture(), model: { ...fixture().model, id: '=HYPERLINK("http://x")' } }));
    expect(await reportCommand.run([evil], io())).toBe(0);
    const evilCsv = readFileSync(join(evil, 'leaderboard.csv'), 'utf8');
    expect(evilCsv).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(evilCsv).not.toMatch(/(^|,)"?=HYPERLINK/m);
    // One input: the report goes into that folder by default.
    expect(await reportCommand.run([run], io())).toBe(0);
    expect(existsSync(join(run, 'report.html'))).toBe(true);
    await expect(reportCommand.run([], io())).rejects.toThrow(UsageError);
    await expect(reportCommand.run([run, '--out', join(root, 'x.txt')], io())).rejects.toThrow(UsageError);
    await expect(reportCommand.run([run, '--bogus'], io())).rejects.toThrow(UsageError);
    await expect(reportCommand.run([join(root, 'nope')], io())).rejects.toThrow(UserError);
  });

  it('reads the shapes a real sweep writes: one instruction and no pooled cell, rankings in subfolders, encoder and decoder layers', () => {
    const dir = join(root, 'single');
    writeSweepFixture(dir, {
      models: ['t5'],
      instructions: [{ id: 'none', use: 'attribution' }],
      resamples: 5,
      datasets: [{ label: 'bbq-age', kind: 'bbq', role: 'bias', items: 8 }],
      groups: [
        { method: 'original', variant: '', rankedOn: null, ks: [0] },
        { method: 'crispr', variant: 'default', rankedOn: 'bbq-age', ks: [2, 4] },
      ],
    });
    const cells = readFileSync(join(dir, 'cells.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .filter((l) => JSON.parse(l).instruction !== '*');
    writeFileSync(join(dir, 'cells.jsonl'), `${cells.join('\n')}\n`);
    const rfile = readdirSync(join(dir, 'rankings'))[0]!;
    const ranking = JSON.parse(readFileSync(join(dir, 'rankings', rfile), 'utf8'));
    ranking.neurons = ranking.neurons.map((n: { site: string }, i: number) => ({ ...n, site: `${i % 2 ? 'decoder' : 'encoder'}.block.${n.site}` }));
    mkdirSync(join(dir, 'rankings', 't5', 'bbq-age'), { recursive: true });
    writeFileSync(join(dir, 'rankings', 't5', 'bbq-age', 'crispr-default.json'), JSON.stringify(ranking));
    rmSync(join(dir, 'rankings', rfile));
    const { html, rows } = renderAll(loadInputs([dir], root));
    // The single instruction's cells stand in for the pooled ones: a leaderboard row per method, every k behind it.
    expect(
      rows
        .filter((r) => r.chosen)
        .map((r) => r.method)
        .sort(),
    ).toEqual(['crispr', 'original']);
    expect(rows.length).toBe(3);
    // With one instruction there is no spread to show.
    expect(rows.every((r) => r.accuracy_instr_mean === null)).toBe(true);
    expect(html).toMatch(/<th scope="row">encoder \d<\/th>/);
    expect(html).toMatch(/<th scope="row">decoder \d<\/th>/);
  });

  it('rejects results of another schema version and malformed cells, naming the file', () => {
    const dir = join(root, 'bad-run');
    mkdirSync(dir);
    writeFileSync(join(dir, 'results.json'), JSON.stringify({ ...fixture(), schemaVersion: 99 }));
    expect(() => loadInputs([dir], root)).toThrow(/schemaVersion 99/);
    const bad = join(root, 'bad-sweep');
    writeSweepFixture(bad, {
      models: ['m'],
      datasets: [{ label: 'd', kind: 'mc', role: 'bias', items: 4 }],
      groups: [{ method: 'original', variant: '', rankedOn: null, ks: [0] }],
      resamples: 5,
    });
    writeFileSync(join(bad, 'cells.jsonl'), `${readFileSync(join(bad, 'cells.jsonl'), 'utf8')}{"schema":"crispr-bench/sweep@1","index":"x"}\n`);
    expect(() => loadInputs([bad], root)).toThrow(/cells\.jsonl:5: index/);
  });
});
