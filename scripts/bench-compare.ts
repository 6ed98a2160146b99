/**
 * Ours against PyTorch on the same attribution workload (issue #10), interleaved in one run.
 *
 * Workload per example (torch_attr.py's docstring, `--modes reuse --param-grads off`): score 3
 * answer options, take the most likely wrong one, attribute its log-prob to every linear-layer
 * neuron, then the gold option's. Random token ids; options of 4 tokens for T5 (the last is
 * `</s>`) and 3 for Llama. Ours is exactly what `crispr run`'s attribution stage calls: the
 * pipeline's ModelAccess (folderAccess with the CLI's default options) `scoreAndAttribute` on B
 * items: for seq2seq one graph that scores the options, picks the wrong one and back-propagates it
 * and the gold one; for decoder-only scoring, then attribution of the B wrong and B gold targets.
 *
 * Models, built with the project's own generators: the T5 generator at d_model 64 (d_kv 16,
 * d_ff 128, 2+2 layers, 4 heads, vocab 32128; torch_attr's `t5tiny`), stories260K imported from
 * the GGUF, and the Flan-T5-small shape (B 8, prompt 128 only; `--no-small` skips it).
 *
 * Every configuration runs `--rounds` times, PyTorch then ours, each in a fresh process (so the
 * first-batch time includes graph building and session creation, and the peak RSS is that
 * configuration's own); the figures are medians over rounds of each process's median examples/s.
 * PyTorch rows appear when /usr/bin/python3 can import torch (Debian python3-torch). `--threads 1`
 * runs both sides single-threaded (a comparison less sensitive to other load on the machine:
 * OpenMP's spinning threads lose most when the cores are shared) into its own section.
 * Writes the "## Ours vs PyTorch" section of BENCHMARKS.md. Run: pnpm bench:compare
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DEFAULT_ATTRIBUTION_BATCH,
  FOOTPRINT_FACTOR,
  attributionModel,
  createRng,
  importGguf,
  loadModelFolder,
  makeT5Folder,
  measureBytesPerExample,
  type T5TinyConfig,
} from '../packages/core/src/index.js';
import { folderAccess } from '../packages/bench/src/pipeline/folder-access.js';
import { readJsonFile } from '../packages/core/src/common.js';
import { z } from 'zod';
import { ROOT, median, provenance, updateBenchmarkSection, runScript } from './lib/benchmarks-md.js';
import { FLAN_T5_SMALL_SHAPE } from '@crispr-bench/testing';

process.env.ORT_DISABLE_TELEMETRY = '1';
const ASSETS = process.env.CRISPR_ASSETS ?? join(ROOT, '..', 'shared', 'assets');
const TORCH_SCRIPT = process.env.CRISPR_TORCH_ATTR ?? join(ROOT, '..', 'shared', 'perf', 'torch_reference', 'torch_attr.py');
const PYTHON = '/usr/bin/python3';
const N_OPT = 3;

/** torch_attr.py's t5tiny: the Flan-T5 architecture at d_model 64. */
const T5_64: T5TinyConfig = { ...FLAN_T5_SMALL_SHAPE, dModel: 64, dKv: 16, dFf: 128, numLayers: 2, numDecoderLayers: 2, numHeads: 4 };

interface Config {
  /** torch_attr.py's model name. */
  torch: string;
  label: string;
  batch: number;
  prompt: number;
}

interface WorkerResult {
  examplesPerSec: number;
  firstBatchS: number;
  peakRssMiB: number;
}

const { values: args } = parseArgs({
  options: {
    worker: { type: 'string' },
    dir: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '5' },
    'min-repeat-s': { type: 'string', default: '0.5' },
    models: { type: 'string', default: 't5tiny,stories260K' },
    'no-small': { type: 'boolean' },
    'no-torch': { type: 'boolean' },
    'no-write': { type: 'boolean' },
    /** Threads for both sides (torch_attr --threads, ORT intra-op threads); default 2, the issue's setting. */
    threads: { type: 'string', default: '2' },
  },
});

/** B items of random token ids, shaped like torch_attr.py's make_batch. */
function makeItems(kind: 'seq2seq' | 'decoder-only', vocab: number, B: number, P: number, seed: number) {
  const rng = createRng(seed);
  const V = kind === 'seq2seq' ? 32000 : vocab;
  const tok = () => 3 + rng.int(V - 3);
  const Lo = kind === 'seq2seq' ? 4 : 3;
  return Array.from({ length: B }, () => {
    const prompt = Array.from({ length: P }, tok);
    if (kind === 'seq2seq')
      prompt[P - 1] = 1; // </s>
    else prompt[0] = 1; // BOS
    const options = Array.from({ length: N_OPT }, () => {
      const o = Array.from({ length: Lo }, tok);
      if (kind === 'seq2seq') o[Lo - 1] = 1;
      return o;
    });
    return { prompt, options, gold: rng.int(N_OPT) };
  });
}

/** One configuration of ours in this process: the pipeline's own ModelAccess. */
async function worker(spec: { dir: string; batch: number; prompt: number; repeats: number; minRepeatS: number; threads: number }): Promise<WorkerResult> {
  const folder = await loadModelFolder(spec.dir);
  // The CLI's defaults (crispr run: --batch DEFAULT_ATTRIBUTION_BATCH, --memory-mib 2048); ORT's default is one thread per core.
  const threads = !spec.threads || spec.threads === 2 ? {} : { intraOpThreads: spec.threads };
  const model = folderAccess(folder, { attribution: { maxBatch: DEFAULT_ATTRIBUTION_BATCH, memoryLimitMiB: 2048, session: threads }, ...threads });
  const vocab = Number(folder.config.vocab_size);
  const batches = [0, 1, 2, 3].map((s) => makeItems(folder.kind, vocab, spec.batch, spec.prompt, 1000 + s));
  // The attribution stage's call: score the options, pick the most likely wrong one, attribute it
  // and the gold one (seq2seq: one graph per batch, the encoder once per prompt).
  const step = (items: ReturnType<typeof makeItems>) =>
    model.scoreAndAttribute(items.map((it) => ({ prompt: it.prompt, candidates: it.options, gold: it.gold })));
  let t = performance.now();
  await step(batches[0]!);
  const firstBatchS = (performance.now() - t) / 1000;
  await step(batches[1]!);
  const rates: number[] = [];
  for (let r = 0; r < spec.repeats; r++) {
    let n = 0;
    t = performance.now();
    for (;;) {
      await step(batches[(n + r) % 4]!);
      n++;
      if (performance.now() - t >= spec.minRepeatS * 1000) break;
    }
    rates.push((n * spec.batch) / ((performance.now() - t) / 1000));
  }
  await model.close?.();
  return { examplesPerSec: median(rates), firstBatchS, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
}

function runOurs(dir: string, c: Config): WorkerResult {
  const spec = JSON.stringify({
    dir,
    batch: c.batch,
    prompt: c.prompt,
    repeats: Number(args.repeats),
    minRepeatS: Number(args['min-repeat-s']),
    threads: Number(args.threads),
  });
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--worker', spec], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`worker for ${c.label} B${c.batch} P${c.prompt} failed:\n${r.stderr}`);
  return JSON.parse(line.slice(7)) as WorkerResult;
}

function torchAvailable(): string | null {
  if (args['no-torch'] || !existsSync(PYTHON) || !existsSync(TORCH_SCRIPT)) return null;
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function runTorch(c: Config, tmp: string): number {
  const out = join(tmp, 'torch.json');
  const r = spawnSync(
    PYTHON,
    [
      TORCH_SCRIPT,
      '--models',
      c.torch,
      '--batch',
      String(c.batch),
      '--prompt-len',
      String(c.prompt),
      '--modes',
      'reuse',
      '--param-grads',
      'off',
      '--repeats',
      args.repeats!,
      '--min-repeat-s',
      args['min-repeat-s']!,
      '--threads',
      args.threads!,
      '--out',
      out,
    ],
    { encoding: 'utf8', env: { ...process.env, CRISPR_ASSETS: ASSETS } },
  );
  if (r.status !== 0) throw new Error(`torch_attr.py failed for ${c.torch} B${c.batch} P${c.prompt}:\n${r.stderr}`);
  // torch_attr.py's output (an external format: its own snake_case keys).
  return readJsonFile(out, z.object({ rows: z.array(z.looseObject({ examples_per_s_median: z.number() })).min(1) })).rows[0]!.examples_per_s_median;
}

async function main(): Promise<void> {
  if (args.worker) {
    const res = await worker(JSON.parse(args.worker));
    console.log(`RESULT ${JSON.stringify(res)}`);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'crispr-bench-compare-'));
  const torch = torchAvailable();
  console.log(torch ? `PyTorch ${torch} (${PYTHON}), interleaved` : 'PyTorch not available: ours only');
  const rounds = Number(args.rounds);
  const which = new Set(args.models!.split(','));
  try {
    const dirs: Record<string, string> = {};
    const configs: Config[] = [];
    const grid = (torchName: string, label: string) => {
      for (const batch of [1, 8]) for (const prompt of [32, 128]) configs.push({ torch: torchName, label, batch, prompt });
    };
    if (which.has('t5tiny')) {
      dirs.t5tiny = join(tmp, 't5tiny');
      makeT5Folder(dirs.t5tiny, T5_64, { assetsDir: ASSETS, mergedDecoder: false });
      grid('t5tiny', 'T5 d_model 64');
    }
    if (which.has('stories260K')) {
      dirs.stories260K = join(tmp, 'stories');
      importGguf(join(ASSETS, 'models/stories260K/stories260K.gguf'), dirs.stories260K);
      grid('stories260K', 'stories260K');
    }
    if (!args['no-small']) {
      dirs['flan-t5-small'] = join(tmp, 'flan-t5-small');
      makeT5Folder(dirs['flan-t5-small'], FLAN_T5_SMALL_SHAPE, { assetsDir: ASSETS, mergedDecoder: false });
      configs.push({ torch: 'flan-t5-small', label: 'Flan-T5-small shape', batch: 8, prompt: 128 });
    }
    // Attribution's measured footprint per example at 512 tokens on stories260K (the batch planner's figure).
    const footprint: string[] = [];
    if (dirs.stories260K) {
      const f = await loadModelFolder(dirs.stories260K);
      const m = attributionModel(f);
      // 508 prompt + 4 target tokens: the cache graph's bucket holds the 507 cached tokens in 512 slots.
      const cached = await measureBytesPerExample(m, 512, 4);
      const { cache: _cache, ...plain } = m;
      const full = await measureBytesPerExample(plain, 512, 4);
      footprint.push(
        `- Attribution memory per example at 512 tokens (508 prompt + 4 target) on stories260K, as the batch planner measures it (${FOOTPRINT_FACTOR} x the float intermediates of one example's graph at its 512-token bucket, plus the cached keys/values): cache graph ${(cached / 2 ** 20).toFixed(1)} MiB, full-sequence graph ${(full / 2 ** 20).toFixed(1)} MiB`,
      );
      console.log(footprint[0]);
    }
    const lines: string[] = [];
    const load0 = loadavg()[0]!;
    for (const c of configs) {
      const ours: WorkerResult[] = [];
      const theirs: number[] = [];
      for (let r = 0; r < rounds; r++) {
        if (torch) theirs.push(runTorch(c, tmp));
        ours.push(runOurs(dirs[c.torch]!, c));
      }
      const o = median(ours.map((x) => x.examplesPerSec));
      const t = theirs.length ? median(theirs) : NaN;
      const first = median(ours.map((x) => x.firstBatchS));
      const rss = Math.max(...ours.map((x) => x.peakRssMiB));
      const line = `| ${c.label} | ${c.batch} | ${c.prompt} | ${torch ? t.toFixed(1) : 'n/a'} | ${o.toFixed(1)} | ${torch ? (o / t).toFixed(2) : 'n/a'} | ${first.toFixed(1)} | ${(rss / 1024).toFixed(2)} |`;
      console.log(`${line}   ours ${ours.map((x) => x.examplesPerSec.toFixed(1)).join(' ')}; torch ${theirs.map((x) => x.toFixed(1)).join(' ')}`);
      lines.push(line);
    }
    const body = [
      'The issue #10 workload, per example: score 3 answer options, take the most likely wrong one,',
      "attribute its log-prob to every linear-layer neuron, then the gold option's. Options of 4 tokens",
      '(T5, with `</s>`) or 3 (Llama), random token ids. PyTorch: `torch_attr.py --modes reuse --param-grads off`',
      `(${args.threads} thread${args.threads === '1' ? '' : 's'}, OpenBLAS-OpenMP); ours: the pipeline's ModelAccess (\`folderAccess\` with \`crispr run\`'s defaults${args.threads === '2' ? ', ORT threads: one per core' : `, ${args.threads} ORT intra-op thread(s)`}),`,
      "`scoreAndAttribute`, the attribution stage's call (seq2seq: scoring, the pick and both backward passes in one graph, the",
      'encoder once per prompt; decoder-only: scoring, then attribution). Each configuration runs PyTorch then ours in fresh processes,',
      `${rounds} rounds interleaved; examples/s is the median over rounds of each process's median over`,
      `${args.repeats} repeats of at least ${args['min-repeat-s']} s. "first batch" is ours' first call in a fresh process`,
      '(graph building, session creation and the run); peak RSS is the largest maxRSS of ours over the rounds.',
      '',
      '| model | B | prompt | PyTorch (ex/s) | ours (ex/s) | ours/PyTorch | ours first batch (s) | ours peak RSS (GB) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...lines,
      '',
      ...footprint,
      ...(torch ? [`- PyTorch ${torch} (Debian python3-torch, libopenblas0-openmp)`] : ['- PyTorch not installed: ours only']),
      ...provenance(
        ['pnpm bench:compare', ...process.argv.slice(2)].join(' '),
        `1-minute load average ${load0.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`,
      ),
    ].join('\n');
    const heading = args.threads === '2' ? '## Ours vs PyTorch' : `## Ours vs PyTorch, ${args.threads} thread${args.threads === '1' ? '' : 's'} each`;
    if (!args['no-write']) console.log(`updated ${updateBenchmarkSection(heading, body)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

runScript(main);
