import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError, type CliIO } from '@crispr-bench/core';
import { assetsDir, loadBbqDir, type BbqItem } from '@crispr-bench/datasets';
import { bbqRecord, jsonl } from '@crispr-bench/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeCommand, type JudgeJson } from '../src/cli/commands/judge.js';

const bbqDir = resolve(assetsDir(), 'bbq/data');
const haveAssets = existsSync(bbqDir);
if (!haveAssets) console.warn(`judge-cli: skipping, BBQ data not found at ${bbqDir} (set CRISPR_ASSETS)`);

function capture(): CliIO & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [],
    errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
}

/** Share of disambiguated gold answers that are bias-aligned, counted straight from the items. */
function alignedShare(items: BbqItem[]): { aligned: number; total: number } {
  let aligned = 0,
    total = 0;
  for (const it of items) {
    if (it.condition !== 'disambig' || it.targetIndex === null) continue;
    total++;
    const isTarget = it.label === it.targetIndex;
    if (it.polarity === 'neg' ? isTarget : !isTarget) aligned++;
  }
  return { aligned, total };
}

describe.skipIf(!haveAssets)('crispr judge on the six official BBQ categories', () => {
  let dir: string;
  let items: BbqItem[];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crispr-judge-'));
    items = (await loadBbqDir(bbqDir)).items;
    const lines = (f: (it: BbqItem, i: number) => unknown) =>
      `${items.map((it, i) => JSON.stringify({ example_id: Number(it.id), category: it.category, answer: f(it, i) })).join('\n')}\n`;
    await writeFile(
      join(dir, 'gold-index.jsonl'),
      lines((it) => it.label),
    );
    // Texts: the gold option in varied surface forms; the unknown option as another phrasing.
    await writeFile(
      join(dir, 'gold-text.jsonl'),
      lines((it, i) =>
        it.label === it.unknownIndex
          ? i % 2
            ? 'Not enough information.'
            : 'UNDETERMINED'
          : `  ${i % 3 ? it.options[it.label]!.toUpperCase() : it.options[it.label]}.`,
      ),
    );
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const variant of ['gold-index', 'gold-text'] as const) {
    it(`all-gold predictions (${variant}): accuracy 1, s_AMB 0, s_DIS = 2 x aligned share - 1`, async () => {
      const io = capture();
      const json = join(dir, `${variant}.out.json`);
      const args = ['--data', bbqDir, '--predictions', join(dir, `${variant}.jsonl`), '--field', 'answer', '--json', json];
      expect(await judgeCommand.run(variant === 'gold-index' ? args : [...args, '--bootstrap', '0'], io)).toBe(0);
      const r = JSON.parse(await readFile(json, 'utf8')) as JudgeJson;
      const cats = (await readdir(bbqDir))
        .filter((f) => f.endsWith('.jsonl'))
        .map((f) => f.replace(/\.jsonl$/, ''))
        .sort();
      expect(Object.keys(r.byCategory).sort()).toEqual(cats);
      expect(r.overall.n).toBe(11956);
      expect(r.join).toMatchObject({ missing: 0, orphans: 0, scored: 11956 });
      for (const [cat, m] of Object.entries(r.byCategory)) {
        expect(m.accuracy).toBe(1);
        expect(m.accuracyAmbig).toBe(1);
        expect(m.accuracyDisambig).toBe(1);
        expect(m.unmatched).toBe(0);
        expect(m.biasAmbig).toBe(0);
        const s = alignedShare(items.filter((it) => it.category === cat));
        expect(s.total).toBeGreaterThan(0);
        expect(m.nNonUnknownDisambig).toBe(s.total);
        expect(m.biasDisambig).toBeCloseTo(2 * (s.aligned / s.total) - 1, 12);
      }
      // Physical_appearance is not balanced: question 6 has only bias-aligned disambiguated
      // answers (50 + 50) and question 10 only conflicting ones (18 + 18), so 326 + 100 of 788.
      expect(r.byCategory.Physical_appearance!.nBiasedDisambig).toBe(426);
      expect(r.byCategory.Physical_appearance!.biasDisambig).toBeCloseTo(2 * (426 / 788) - 1, 12);
      expect(r.overall.biasAmbig).toBe(0);
      if (variant === 'gold-index') {
        expect(r.bootstrap).toEqual({ resamples: 1000, seed: 0, level: 0.95 });
        expect(r.overall.ci!.accuracy).toMatchObject({ lo: 1, hi: 1 });
        const ci = r.overall.ci!.biasDisambig!;
        expect(ci.lo!).toBeLessThan(r.overall.biasDisambig!);
        expect(ci.hi!).toBeGreaterThan(r.overall.biasDisambig!);
        expect(io.errLines).toEqual([]);
      } else {
        expect(r.join.textPredictions).toBe(11956);
      }
      expect(io.outLines[0]).toMatch(/^category\s+n\s+accuracy\s+acc_ambig\s+acc_disambig\s+biasDisambig\s+biasAmbig\s+unmatched$/);
      expect(io.outLines.find((l) => l.startsWith('Physical_appearance'))).toMatch(/\s1\.0000\s.*\s0\.0812\s+0\.0000\s+0\.0000$/);
    });
  }

  it('reports missing, orphan and unmatched predictions; --strict fails on gaps', async () => {
    const ageItems = items.filter((it) => it.category === 'Age');
    const lines = ageItems.slice(0, 100).map((it, i) => JSON.stringify({ example_id: it.id, answer: i < 10 ? 'a kangaroo' : it.options[it.label] }));
    lines.push(JSON.stringify({ example_id: 999999, answer: 'x' }));
    const pf = join(dir, 'partial.jsonl');
    await writeFile(pf, lines.join('\n'));
    const age = join(bbqDir, 'Age.jsonl');
    const io = capture();
    const json = join(dir, 'partial.out.json');
    expect(await judgeCommand.run(['--data', age, '--predictions', pf, '--field', 'answer', '--json', json, '--bootstrap', '50'], io)).toBe(0);
    const err = io.errLines.join('\n');
    expect(err).toMatch(/3580 of 3680 items have no prediction .*first: Age\/100, Age\/101/);
    expect(err).toMatch(/1 predictions match no item \(first: line 101 999999\)/);
    expect(err).toMatch(/10 outputs match no option .*Age\/0 line 1 "a kangaroo"/);
    const r = JSON.parse(await readFile(json, 'utf8')) as JudgeJson;
    expect(r.overall.n).toBe(100);
    expect(r.overall.unmatched).toBeCloseTo(0.1, 12);
    expect(r.overall.accuracy).toBeCloseTo(0.9, 12);
    expect(r.join).toMatchObject({ missing: 3580, orphans: 1 });
    expect(r.join.unmatchedFirst[0]).toEqual({ item: 'Age/0', line: 1, text: 'a kangaroo', reason: 'no-match' });
    await expect(judgeCommand.run(['--data', age, '--predictions', pf, '--field', 'answer', '--strict'], capture())).rejects.toThrow(/--strict/);
  });

  it('refuses predictions without category when ids repeat across category files', async () => {
    const pf = join(dir, 'nocat.jsonl');
    await writeFile(pf, '{"example_id": 0, "answer": 2}\n');
    await expect(judgeCommand.run(['--data', bbqDir, '--predictions', pf, '--field', 'answer'], capture())).rejects.toThrow(
      /nocat\.jsonl:1: example_id 0 has no "category" but occurs in 6 categories/,
    );
  });
});

describe('crispr judge: bad input', () => {
  let dir: string;
  let data: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crispr-judge-bad-'));
    data = join(dir, 'mini.jsonl');
    await writeFile(data, jsonl([bbqRecord(0, 'ambig', 2), bbqRecord(1, 'disambig', 1)]));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scores a small file exactly (hand-computed)', async () => {
    const pf = join(dir, 'p.jsonl');
    // ambiguous: answers the target (biased); disambiguated: answers the target (biased, wrong)
    await writeFile(pf, '{"example_id": 0, "pred": 0}\n{"example_id": 1, "pred": "grandfather"}\n');
    const json = join(dir, 'p.out.json');
    expect(await judgeCommand.run(['--data', data, '--predictions', pf, '--field', 'pred', '--json', json, '--bootstrap', '0'], capture())).toBe(0);
    const r = JSON.parse(await readFile(json, 'utf8')) as JudgeJson;
    expect(r.overall).toMatchObject({ n: 2, accuracy: 0, accuracyAmbig: 0, accuracyDisambig: 0, biasDisambig: 1, biasAmbig: 1, unmatched: 0 });
    expect(r.byCategory.Age!.biasAmbig).toBe(1);
    expect(r.bootstrap).toBeNull();
  });
  it('names file and line of a malformed prediction', async () => {
    const pf = join(dir, 'bad.jsonl');
    await writeFile(pf, '{"example_id": 0, "pred": 0}\n{"example_id": 1, "pred": \n');
    const run = judgeCommand.run(['--data', data, '--predictions', pf, '--field', 'pred'], capture());
    await expect(run).rejects.toThrow(UserError);
    await expect(judgeCommand.run(['--data', data, '--predictions', pf, '--field', 'pred'], capture())).rejects.toThrow(/bad\.jsonl:2: invalid JSON/);
  });
  it('names the missing field and the out-of-range index', async () => {
    const pf = join(dir, 'field.jsonl');
    await writeFile(pf, '{"example_id": 0, "answer": 0}\n');
    await expect(judgeCommand.run(['--data', data, '--predictions', pf, '--field', 'pred'], capture())).rejects.toThrow(/field\.jsonl:1: pred: missing/);
    await writeFile(pf, '{"example_id": 1, "pred": 5}\n');
    await expect(judgeCommand.run(['--data', data, '--predictions', pf, '--field', 'pred'], capture())).rejects.toThrow(
      /option index 5 out of range for Age\/1/,
    );
  });
  it('usage errors', async () => {
    await expect(judgeCommand.run(['--data', data, '--predictions', 'x'], capture())).rejects.toThrow(/--field is required/);
    await expect(judgeCommand.run(['--data', data, '--predictions', 'x', '--field', 'p', '--bootstrap', 'lots'], capture())).rejects.toThrow(
      /--bootstrap must be an integer/,
    );
    await expect(judgeCommand.run(['--data', data, '--bogus'], capture())).rejects.toThrow(/bogus/);
    await expect(judgeCommand.run(['--data', join(dir, 'nope.jsonl'), '--predictions', 'x', '--field', 'p'], capture())).rejects.toThrow(
      /--data: cannot read .*nope\.jsonl/,
    );
    await expect(judgeCommand.run(['--data', data, '--predictions', join(dir, 'nope.jsonl'), '--field', 'p'], capture())).rejects.toThrow(
      /--predictions: cannot read/,
    );
    const io = capture();
    expect(await judgeCommand.run(['--help'], io)).toBe(0);
    expect(io.outLines.join('\n')).toMatch(/usage: crispr judge --data/);
  });
  it('refuses a predictions file that matches no item', async () => {
    const pf = join(dir, 'none.jsonl');
    await writeFile(pf, '{"example_id": 42, "pred": 0}\n');
    await expect(judgeCommand.run(['--data', data, '--predictions', pf, '--field', 'pred'], capture())).rejects.toThrow(/no prediction in .* matches an item/);
  });
});

describe.skipIf(!haveAssets)('crispr judge --by (per-instruction metrics and their spread)', () => {
  it('scores each group on its own, pools them overall, and gives mean and sd across groups', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crispr-judge-by-'));
    try {
      const data = join(bbqDir, 'Religion.jsonl');
      const items = (await loadBbqDir(bbqDir, { categories: ['Religion'] })).items;
      const line = (it: BbqItem, instruction: string, answer: number) =>
        JSON.stringify({ example_id: Number(it.id), category: it.category, instruction, answer });
      // Instruction "gold" answers every item right; "first" always picks option 0.
      const text = `${[...items.map((it) => line(it, 'gold', it.label!)), ...items.map((it) => line(it, 'first', 0))].join('\n')}\n`;
      await writeFile(join(dir, 'p.jsonl'), text);
      const json = join(dir, 'out.json');
      const io = capture();
      expect(
        await judgeCommand.run(
          ['--data', data, '--predictions', join(dir, 'p.jsonl'), '--field', 'answer', '--by', 'instruction', '--bootstrap', '0', '--json', json],
          io,
        ),
      ).toBe(0);
      const r = JSON.parse(await readFile(json, 'utf8')) as JudgeJson;
      const accFirst = items.filter((it) => it.label === 0).length / items.length;
      expect(r.by).toBe('instruction');
      expect(r.byGroup!.gold!.accuracy).toBe(1);
      expect(r.byGroup!.first!.accuracy).toBeCloseTo(accFirst, 12);
      expect(r.acrossGroups!.accuracy!.mean).toBeCloseTo((1 + accFirst) / 2, 12);
      expect(r.acrossGroups!.accuracy!.sd).toBeCloseTo(Math.abs(1 - accFirst) / Math.SQRT2, 12);
      expect(r.overall.n).toBe(2 * items.length);
      expect(r.overall.accuracy).toBeCloseTo((1 + accFirst) / 2, 12);
      expect(r.join).toMatchObject({ missing: 0, orphans: 0, scored: 2 * items.length });
      expect(io.outLines.some((l) => /^across 2 values of instruction/.test(l))).toBe(true);

      // A line without the grouping field is named by its line number.
      await writeFile(join(dir, 'bad.jsonl'), `${line(items[0]!, 'gold', 0)}\n${JSON.stringify({ example_id: 1, answer: 0 })}\n`);
      await expect(
        judgeCommand.run(['--data', data, '--predictions', join(dir, 'bad.jsonl'), '--field', 'answer', '--by', 'instruction'], capture()),
      ).rejects.toThrow(/bad\.jsonl:2: instruction: missing/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
