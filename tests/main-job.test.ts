/**
 * The main job end to end, as a user runs it: `crispr run` on the embedded default model and the
 * pronoun set, then the report in Chromium. CRISPR must remove the planted stereotype (unlike the
 * random control) while keeping the gender-explicit controls, and a second run must resume from
 * the run folder instead of recomputing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { safeName } from '@crispr-bench/core';
import { runCommand } from '../packages/bench/src/cli/commands/run.js';
import { checkResults, type RunResults } from '@crispr-bench/results';
import { reportCommand } from '@crispr-bench/report/cli';
import { chromiumAvailable, launchChromium } from './browser/chromium.js';

const dir = mkdtempSync(join(tmpdir(), 'crispr-main-job-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function quietIO() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

const ARGS = ['--k', '0,4,8', '--bootstrap', '200', '--out', dir];

describe('crispr run on the embedded default', () => {
  let results: RunResults;

  it('removes the stereotype with CRISPR, not with random pruning, and keeps the controls', async () => {
    const q = quietIO();
    expect(await runCommand.run(ARGS, q.io)).toBe(0);
    results = checkResults(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
    const at = (method: string, k: number) => results.sweep.find((p) => p.method === method && p.k === k)!.metrics;
    const pref = (method: string, k: number) => at(method, k).stereotypePreference!.value!;
    expect(pref('original', 0)).toBeGreaterThan(0.5);
    expect(pref('crispr', 8)).toBeLessThan(0.15);
    expect(pref('random', 8)).toBeGreaterThan(0.5);
    expect(at('crispr', 8).controlAccuracy!.value).toBeGreaterThanOrEqual(0.95);
    // The reduction is significant: the paired interval of the difference excludes 0.
    const delta = results.sweep.find((p) => p.method === 'crispr' && p.k === 8)!.delta!.stereotypePreference!;
    expect(delta.hi!).toBeLessThan(0);
    // The top neurons are FFN units of the last layer, where the bias was planted.
    expect(results.topNeurons.slice(0, 4).every((n) => n.layer === 1 && n.kind.startsWith('ffn_'))).toBe(true);
    const ranking = JSON.parse(readFileSync(join(dir, 'ranking.json'), 'utf8'));
    expect(ranking.neurons[0]).toMatchObject({ site: results.topNeurons[0]!.site, unit: results.topNeurons[0]!.unit });
    expect(q.out.some((l) => /^crispr\s+8\s/.test(l))).toBe(true);
    // The original model is scored on the test split only: attribution scores its own sample of dev.
    const scored = JSON.parse(readFileSync(join(dir, 'scores', `original-${safeName('none')}.json`), 'utf8')).data as { index: number }[];
    expect(scored).toHaveLength(results.dataset.evalItems);
    expect(results.dataset.evalItems).toBeLessThan(results.dataset.items);
  });

  it('resumes from the run folder: finished stages are not recomputed', async () => {
    const stage = join(dir, 'sweep', `${safeName('crispr')}-k8.json`);
    const before = statSync(stage).mtimeMs;
    const random4 = join(dir, 'sweep', `${safeName('random')}-k4.json`);
    rmSync(random4); // as if interrupted before this stage
    expect(await runCommand.run(ARGS, quietIO().io)).toBe(0);
    expect(statSync(stage).mtimeMs).toBe(before);
    expect(existsSync(random4)).toBe(true);
    const again = checkResults(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
    expect(again.sweep.map((p) => p.metrics)).toEqual(results.sweep.map((p) => p.metrics));
    // A different setting recomputes what reads it (attribution) and reuses what does not (scores).
    const scores = join(dir, 'scores', `original-${safeName('none')}.json`);
    const attribution = join(dir, 'attribution', `${safeName('none')}.json`);
    const [s0, a0] = [statSync(scores).mtimeMs, statSync(attribution).mtimeMs];
    const q = quietIO();
    expect(await runCommand.run([...ARGS.slice(0, -2), '--reduce', 'mean', '--out', dir], q.io)).toBe(0);
    expect(statSync(scores).mtimeMs).toBe(s0);
    expect(statSync(attribution).mtimeMs).not.toBe(a0);
    expect(q.err.some((l) => l.includes(`recomputing attribution/${safeName('none')}.json: reduce changed (max -> mean)`))).toBe(true);
    expect(q.err.some((l) => l.includes(`reused scores/original-${safeName('none')}.json: same model sha256:`))).toBe(true);
  });

  it('chooses k on the dev split by golden-section search and evaluates it on test', async () => {
    const out = mkdtempSync(join(tmpdir(), 'crispr-main-job-k-'));
    try {
      expect(await runCommand.run(['--k', '0,4', '--k-search', '64', '--bootstrap', '100', '--out', out], quietIO().io)).toBe(0);
      const r = checkResults(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
      const ks = r.kSearch!;
      expect(ks.objective).toMatch(/control accuracy/);
      expect(ks.evaluated.length).toBeLessThan(20); // golden section, not a scan of 65 values
      expect(ks.evaluated.find((e) => e.k === ks.best)!.value).toBe(Math.max(...ks.evaluated.map((e) => e.value)));
      const chosen = r.sweep.find((p) => p.method === 'crispr' && p.k === ks.best)!;
      expect(chosen).toBeDefined();
      expect(r.sweep.some((p) => p.method === 'random' && p.k === ks.best)).toBe(true);
      expect(chosen.metrics.stereotypePreference!.value!).toBeLessThan(0.2);
      expect(await reportCommand.run([out], { out: () => {}, err: () => {} })).toBe(0);
      const html = readFileSync(join(out, 'report.html'), 'utf8');
      expect(html).toMatch(new RegExp(`k (=|&#x3D;) ${ks.best} chosen on the dev split`)); // handlebars escapes '='
      // The leaderboard's CRISPR row stands at the searched k.
      const csv = readFileSync(join(out, 'leaderboard.csv'), 'utf8').split('\n');
      expect(csv.some((l) => l.includes(`,crispr,default,`) && l.includes(`,${ks.best},true,true,`))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('rejects bad options with a clear message', async () => {
    await expect(runCommand.run(['--k', '1,x', '--out', dir], quietIO().io)).rejects.toThrow(/--k must be an integer/);
    await expect(runCommand.run(['--data', '/nonexistent/bbq', '--out', dir], quietIO().io)).rejects.toThrow(/does not exist/);
  });

  it.skipIf(!chromiumAvailable())("renders the report, which a browser shows with the run's rows", async () => {
    expect(await reportCommand.run([dir], { out: () => {}, err: () => {} })).toBe(0);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(join(dir, 'report.html')).href);
      // Every sweep point is a row (the chosen k of each method shown, the others behind "all k").
      const rows = await page.locator('#leaderboard-table tbody tr').count();
      const doc = checkResults(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
      expect(rows).toBe(new Set(doc.sweep.map((p) => `${p.method}/${p.k}`)).size);
      expect(await page.locator('table.neuron-map thead').first().textContent()).toContain(doc.topNeurons[0]!.kind);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
