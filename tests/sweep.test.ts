/**
 * Issue 16: `crispr sweep` and `crispr merge` as a user runs them (child processes). One small
 * config with every kind of stage (scoring, attribution with two variants, the k search, CC, DC,
 * CRISPR + CC, random pruning, a transfer pair, held-out instructions) on the embedded default
 * model, the pronoun set and a BBQ Religion sample; then: an unchanged rerun computes nothing;
 * changing only the bootstrap count recomputes only statistics; changing only the template or one
 * instruction's text recomputes scoring and attribution; kill -9 during attribution and during
 * evaluation, then resume, equals the uninterrupted run; two shards merged equal one run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assetsPresent } from '@crispr-bench/datasets';
import { cellRow, manifest as manifestSchema, predictionRow } from '@crispr-bench/results';
import { collect, crispr, spawnCrispr } from './cli-process.js';
import { TEST_INSTRUCTIONS, writeTestSweep } from './fixtures/sweep-config.js';

const tmp = mkdtempSync(join(tmpdir(), 'crispr-sweep-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const haveAssets = assetsPresent();

/** The sweep of these tests; each resume test changes one thing. */
function writeSweep(name: string, over: { bootstrap?: number; template?: string; instructions?: string[] } = {}): string {
  return writeTestSweep(tmp, name, {
    title: 'sweep test',
    maxItems: 12,
    methods: { dc: 2, combined: ['cc'] },
    ...(over.bootstrap !== undefined ? { bootstrap: over.bootstrap } : {}),
    ...(over.template ? { religion: { template: over.template } } : {}),
    ...(over.instructions ? { instructions: over.instructions } : {}),
  });
}

/** cells.jsonl without the timing fields, which are all that may differ between equal runs. */
function cells(dir: string): unknown[] {
  return readFileSync(join(dir, 'cells.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { timing: _t, ...rest } = cellRow.parse(JSON.parse(l));
      return rest;
    });
}

function predictions(dir: string): Record<string, string> {
  const root = join(dir, 'predictions');
  const out: Record<string, string> = {};
  for (const f of readdirSync(root, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.jsonl'))
    .sort())
    out[f] = readFileSync(join(root, f), 'utf8');
  return out;
}

/** "computed 3 scores, 2 attribution; reused ..." -> { scores: 3, attribution: 2 } */
function computed(stdout: string): Record<string, number> {
  const m = /computed (.*?); reused/.exec(stdout);
  if (!m) throw new Error(`no summary line in: ${stdout}`);
  if (m[1] === 'nothing') return {};
  return Object.fromEntries(
    m[1]!
      .split(', ')
      .map((p) => p.split(' '))
      .map(([n, k]) => [k!, Number(n)]),
  );
}

describe.skipIf(!haveAssets)('crispr sweep (needs the BBQ files of ../shared/assets)', () => {
  let base: string;
  const ref = join(tmp, 'ref');
  beforeAll(async () => {
    base = writeSweep('sweep.yaml');
    const r = await crispr(['sweep', base, '--out', ref]);
    expect(r.code, r.stderr).toBe(0);
  }, 600_000);

  it('writes a complete, valid results folder', () => {
    const m = manifestSchema.parse(JSON.parse(readFileSync(join(ref, 'manifest.json'), 'utf8')));
    expect(m.finishedAt).not.toBeNull();
    const rows = readFileSync(join(ref, 'cells.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => cellRow.parse(JSON.parse(l)));
    expect(rows.length).toBe(m.cells.planned);
    expect(rows.map((r) => r.index)).toEqual(rows.map((_, i) => i));
    // Every method of the config is there, with held-out and pooled instruction cells.
    expect(new Set(rows.map((r) => r.method))).toEqual(new Set(['original', 'cc', 'dc', 'crispr', 'random', 'crispr+cc']));
    expect(new Set(rows.filter((r) => r.dataset === 'religion').map((r) => r.instructionUse))).toEqual(new Set(['attribution', 'heldout', 'pooled']));
    // The transfer pair: pronoun's rankings evaluated on religion.
    expect(rows.some((r) => r.rankedOn === 'pronoun' && r.dataset === 'religion' && r.method === 'crispr')).toBe(true);
    // 'auto' resolved to a number within [0, kMax], the same for every cell of one ranking.
    const auto = rows.filter((r) => r.kAuto && r.method === 'crispr' && r.variant === 'default' && r.rankedOn === 'religion');
    expect(auto.length).toBeGreaterThan(0);
    expect(new Set(auto.map((r) => r.k)).size).toBe(1);
    expect(auto[0]!.k).toBeLessThanOrEqual(8);
    // Deltas: null for the original, present for everything else; CC changes predictions.
    for (const r of rows) expect(r.delta === null).toBe(r.method === 'original');
    const p = readFileSync(join(ref, rows.find((r) => r.method === 'cc')!.predictions), 'utf8')
      .trim()
      .split('\n')
      .map((l) => predictionRow.parse(JSON.parse(l)));
    expect(p.length).toBeGreaterThan(0);
    // results.csv: a header and one row per cell.
    expect(readFileSync(join(ref, 'results.csv'), 'utf8').trim().split('\n').length).toBe(rows.length + 1);
    expect(readdirSync(join(ref, 'rankings', 'tiny', 'religion')).sort()).toEqual(['crispr-default.json', 'crispr-reduce-mean.json']);
  });

  // The change tests work on a copy, so that `ref` stays the uninterrupted run of `base`.
  const work = join(tmp, 'work');
  it('an unchanged sweep computes nothing; the bootstrap count recomputes only the statistics', async () => {
    cpSync(ref, work, { recursive: true });
    const again = await crispr(['sweep', base, '--out', work]);
    expect(again.code, again.stderr).toBe(0);
    expect(computed(again.stdout)).toEqual({});
    expect(cells(work)).toEqual(cells(ref));
    const b = await crispr(['sweep', writeSweep('bootstrap.yaml', { bootstrap: 60 }), '--out', work]);
    expect(b.code, b.stderr).toBe(0);
    const c = computed(b.stdout);
    expect(Object.keys(c)).toEqual(['statistics']);
    // Cells with equal rows (random pruning ranked on either dataset) share one statistics stage.
    expect(c.statistics).toBeGreaterThan(cells(ref).length / 2);
  });

  it("changing only the template, or only one instruction's text, recomputes scoring and attribution of what reads it", async () => {
    const t = await crispr(['sweep', writeSweep('template.yaml', { template: 'lettered' }), '--out', work]);
    expect(t.code, t.stderr).toBe(0);
    const ct = computed(t.stdout);
    expect(ct.scores).toBeGreaterThan(0);
    expect(ct.attribution).toBeGreaterThan(0);
    // The pronoun set has no template: its scores and attributions are reused.
    expect(t.stdout).toMatch(/reused .*\d+ scores/);

    const changed = [...TEST_INSTRUCTIONS];
    changed[0] = 'Answer the question, please.';
    const i = await crispr(['sweep', writeSweep('instr.yaml', { instructions: changed }), '--out', work]);
    expect(i.code, i.stderr).toBe(0);
    const ci = computed(i.stdout);
    expect(ci.scores).toBeGreaterThan(0);
    expect(ci.attribution).toBe(2 * 1); // two variants x the one changed attribution instruction
    writeSweep('instr-restore.yaml'); // puts instr.json back for the tests below
  });

  for (const when of ['attribution', 'evaluation'] as const) {
    it(`kill -9 during ${when}, then resume, equals the uninterrupted run`, async () => {
      const out = join(tmp, `killed-${when}`);
      const child = spawnCrispr(['sweep', base, '--out', out]);
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const at = when === 'attribution' ? /attributing on 'religion'/ : /group 2[0-9]\/\d+/;
        if (at.test(err)) child.kill('SIGKILL');
      });
      const first = await collect(child);
      expect(first.signal, first.stderr).toBe('SIGKILL');
      expect(existsSync(join(out, 'results.csv'))).toBe(false);
      const resumed = await crispr(['sweep', base, '--out', out]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/took over the lock/);
      expect(cells(out)).toEqual(cells(ref));
      expect(predictions(out)).toEqual(predictions(ref));
      expect(readFileSync(join(out, 'results.csv'), 'utf8')).toBe(readFileSync(join(ref, 'results.csv'), 'utf8'));
    }, 600_000);
  }

  it('two shards merged equal one run; merge refuses incomplete, missing and foreign shards', async () => {
    const shared = join(tmp, 'rankings');
    for (const i of [1, 2]) {
      const r = await crispr(['sweep', base, '--shard', `${i}/2`, '--rankings', shared, '--out', join(tmp, 'shards', String(i))]);
      expect(r.code, r.stderr).toBe(0);
    }
    const merged = join(tmp, 'merged');
    const m = await crispr(['merge', join(tmp, 'shards', '1'), join(tmp, 'shards', '2'), '--out', merged]);
    expect(m.code, m.stderr).toBe(0);
    expect(cells(merged)).toEqual(cells(ref));
    expect(predictions(merged)).toEqual(predictions(ref));
    expect(readFileSync(join(merged, 'results.csv'), 'utf8')).toBe(readFileSync(join(ref, 'results.csv'), 'utf8'));

    const missing = await crispr(['merge', join(tmp, 'shards', '1'), '--out', join(tmp, 'm2')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/missing shard 2\/2/);
    // An unfinished shard is named.
    cpSync(join(tmp, 'shards', '2'), join(tmp, 'shards-x', '2'), { recursive: true });
    const mf = join(tmp, 'shards-x', '2', 'manifest.json');
    writeFileSync(mf, JSON.stringify({ ...JSON.parse(readFileSync(mf, 'utf8')), finishedAt: null }));
    const partial = await crispr(['merge', join(tmp, 'shards', '1'), join(tmp, 'shards-x', '2'), '--out', join(tmp, 'm3')]);
    expect(partial.code).toBe(1);
    expect(partial.stderr).toMatch(/shard 2\/2 in .*shards-x\/2 is incomplete/);
    // A folder of another config is refused.
    writeFileSync(mf, JSON.stringify({ ...JSON.parse(readFileSync(mf, 'utf8')), configHash: 'sha256:0000000000000000' }));
    const foreign = await crispr(['merge', join(tmp, 'shards', '1'), join(tmp, 'shards-x', '2'), '--out', join(tmp, 'm4')]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/ran a different config/);
  }, 600_000);
});
