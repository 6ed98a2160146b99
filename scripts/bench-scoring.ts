/**
 * Option-scoring benchmark: candidates per second of `scoreOptions` (teacher-forced
 * log-probabilities of multiple-choice answers, all site masks fed) at batch 1 and batch 16, on
 * stories260K (imported from the shared GGUF) and on T5-style seq2seq folders (random weights,
 * T5 tokenizer): T5_TINY and the shape of Flan-T5-small. The workload is the first BBQ Age items
 * (context + question, three answers). Prints a table and writes the section "## Option scoring"
 * of BENCHMARKS.md. Run: pnpm bench:scoring
 */
process.env.ORT_DISABLE_TELEMETRY = '1';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { importGguf } from '../packages/core/src/gguf/import.js';
import { makeT5Folder, type T5TinyConfig } from '../packages/core/src/models/generate/index.js';
import { loadModelFolder, type ModelFolder } from '../packages/core/src/models/folder.js';
import { releaseScoringSessions, scoreOptions, encodeScoringRows, type ScoreItem } from '../packages/core/src/models/scoring.js';
import { countNeurons } from '../packages/core/src/models/sites.js';
import { readJsonl } from '../packages/core/src/common.js';
import { bbqRecord } from '../packages/datasets/src/bbq/record.js';
import type { BbqRecord } from '../packages/datasets/src/bbq/schema.js';
import { ROOT, provenance, updateBenchmarkSection, runScript, markdownTable } from './lib/benchmarks-md.js';
import { FLAN_T5_SMALL_SHAPE, T5_TINY } from '@crispr-bench/testing';

const SECTION = '## Option scoring';
const ASSETS = process.env.CRISPR_ASSETS ?? resolve(ROOT, '../shared/assets');
const BATCHES = [1, 16];

function bbqItems(n: number): BbqRecord[] {
  const path = join(ASSETS, 'bbq/data/Age.jsonl');
  if (!existsSync(path)) throw new Error(`${path} not found (set CRISPR_ASSETS to the shared assets folder)`);
  return readJsonl(path, bbqRecord).slice(0, n);
}

interface Row {
  model: string;
  kind: string;
  params: string;
  neurons: number;
  items: number;
  candidates: number;
  meanTokens: string;
  sessionMs: number;
  perSecond: Record<number, number>;
}

async function bench(label: string, folder: ModelFolder, items: ScoreItem[], params: string): Promise<Row> {
  const rows = encodeScoringRows(folder, items);
  const inTok = rows.reduce((s, r) => s + r.inputIds.length, 0) / rows.length;
  const tgtTok = rows.reduce((s, r) => s + r.target.length, 0) / rows.length;
  const t0 = performance.now();
  await scoreOptions(folder, items.slice(0, 1), { batchSize: 1 }); // session creation + first run
  const sessionMs = performance.now() - t0;
  const perSecond: Record<number, number> = {};
  for (const b of BATCHES) {
    await scoreOptions(folder, items.slice(0, 2), { batchSize: b }); // warm-up at this shape
    const t = performance.now();
    await scoreOptions(folder, items, { batchSize: b });
    perSecond[b] = rows.length / ((performance.now() - t) / 1000);
    process.stdout.write(`  ${label}: batch ${b}: ${perSecond[b]!.toFixed(1)} candidates/s\n`);
  }
  return {
    model: label,
    kind: folder.kind,
    params,
    neurons: countNeurons(folder.sites),
    items: items.length,
    candidates: rows.length,
    meanTokens:
      folder.kind === 'seq2seq' ? `${inTok.toFixed(0)} in + ${tgtTok.toFixed(1)} target` : `${inTok.toFixed(0)} (prompt + ${tgtTok.toFixed(1)} target)`,
    sessionMs,
    perSecond,
  };
}

function t5Params(c: T5TinyConfig): string {
  const inner = c.numHeads * c.dKv;
  const dec = c.numDecoderLayers ?? c.numLayers;
  const ffn = (c.feedForwardProj === 'gated-gelu' ? 3 : 2) * c.dModel * c.dFf;
  const attn = 4 * c.dModel * inner;
  const n = c.vocabSize * c.dModel * 2 + c.numLayers * (attn + ffn) + dec * (2 * attn + ffn);
  return `${(n / 1e6).toFixed(1)} M`;
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'crispr-bench-scoring-'));
  const bbq = bbqItems(32);
  const results: Row[] = [];
  try {
    const gguf = join(ASSETS, 'models/stories260K/stories260K.gguf');
    process.stdout.write('stories260K ...\n');
    importGguf(gguf, join(tmp, 'stories'));
    const stories = await loadModelFolder(join(tmp, 'stories'));
    const decoderItems: ScoreItem[] = bbq.map((x) => ({
      prompt: `${x.context} ${x.question} Answer:`,
      candidates: [` ${x.ans0}`, ` ${x.ans1}`, ` ${x.ans2}`],
    }));
    results.push(await bench('stories260K', stories, decoderItems, '0.26 M'));
    await releaseScoringSessions();

    const seqItems = (n: number): ScoreItem[] => bbq.slice(0, n).map((x) => ({ prompt: `${x.context}\n${x.question}`, candidates: [x.ans0, x.ans1, x.ans2] }));
    for (const [label, cfg, n] of [
      ['T5_TINY (random)', T5_TINY, 32],
      ['Flan-T5-small shape (random)', FLAN_T5_SMALL_SHAPE, 16],
    ] as [string, T5TinyConfig, number][]) {
      process.stdout.write(`${label} ...\n`);
      const dir = join(tmp, label.replace(/\W+/g, '-'));
      makeT5Folder(dir, cfg, { assetsDir: ASSETS, mergedDecoder: false });
      const folder = await loadModelFolder(dir);
      results.push(await bench(label, folder, seqItems(n), t5Params(cfg)));
      await releaseScoringSessions();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const tbl = markdownTable(
    [
      'model',
      'kind',
      'weights',
      'neurons',
      'BBQ items x 3 options',
      'mean tokens per candidate row',
      'session + first run (ms)',
      ...BATCHES.map((b) => `batch ${b} (candidates/s)`),
    ],
    results.map((r) => [
      r.model,
      r.kind,
      r.params,
      r.neurons,
      `${r.items} x 3 = ${r.candidates}`,
      r.meanTokens,
      r.sessionMs.toFixed(0),
      ...BATCHES.map((b) => r.perSecond[b]!.toFixed(1)),
    ]),
  );
  console.log(`\n${tbl}\n`);
  const body = [
    '`scoreOptions` on BBQ multiple-choice items (the first items of Age.jsonl: context + question as the',
    'prompt, each of the three answers as a candidate; decoder-only: `"<context> <question> Answer:"` then',
    '`" <answer>"`; seq2seq: `"<context>\\n<question>"` -> `"<answer>"`). Every site mask is fed (ones), as in a',
    'pruning sweep. Candidates per second over all rows after a warm-up at each batch size; rows are',
    'sorted by length and right-padded per batch. onnxruntime CPU provider, default thread count.',
    'T5 models have random weights and the real T5 tokenizer (speed does not depend on the weights).',
    '',
    tbl,
    '',
    ...provenance('pnpm bench:scoring', `1-minute load average ${loadavg()[0]!.toFixed(1)} at the end`),
    '',
  ].join('\n');
  console.log(`updated ${updateBenchmarkSection(SECTION, body)}`);
}

runScript(main);
