/**
 * Attribution throughput: examples per second (one example = one objective's forward and
 * backward with the token reduction of every site) and achieved GFLOP/s (MatMul/Gemm FLOPs of
 * the attribution graph, forward and backward, counted from its static shapes), on stories260K
 * and a Flan-T5-small-shaped model with random weights, at batch 1 and 8 and input lengths 32
 * and 128; next to the GFLOP/s of one large MatMul in ORT on the same machine (the ceiling).
 * Writes the "## Attribution" section of BENCHMARKS.md. Run: pnpm bench:attribution
 * Options: --quick (fewer repetitions), --models stories,t5 (default both). Decoder-only models
 * run the full-sequence graph here, not the cache graph (see bench:compare for the pipeline path).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Attributor,
  attributionModel,
  buildAttributionGraph,
  bucketLength,
  TARGET_MULTIPLE,
  importGguf,
  loadModelFolder,
  makeT5Folder,
  probeShapes,
  tensor,
  type AttributionExample,
  type ModelFolder,
  type Model,
} from '../packages/core/src/index.js';
import { ROOT, median, provenance, updateBenchmarkSection, runScript, markdownTable } from './lib/benchmarks-md.js';
import { matmulCeilingGflops } from './lib/matmul-ceiling.js';
import { T5_BENCH_512 } from '@crispr-bench/testing';

process.env.ORT_DISABLE_TELEMETRY = '1';
const { values: args } = parseArgs({ options: { quick: { type: 'boolean' }, models: { type: 'string' } } });
const REPS = args.quick ? 2 : 5;
const ASSETS = process.env.CRISPR_ASSETS ?? join(ROOT, '..', 'shared', 'assets');

/** 2*M*N*K summed over MatMul and Gemm nodes, from the graph's probed static shapes. */
async function matmulFlops(model: Model, feeds: Record<string, ReturnType<typeof tensor>>): Promise<number> {
  const shapes = await probeShapes(model, feeds);
  let flops = 0;
  for (const n of model.graph.nodes) {
    if (n.opType !== 'MatMul' && n.opType !== 'Gemm') continue;
    const a = shapes.get(n.inputs[0]!)?.dims;
    const y = shapes.get(n.outputs[0]!)?.dims;
    if (!a || !y) continue;
    const k = n.opType === 'Gemm' && n.attributes.transA?.value === 1 ? a[0]! : a[a.length - 1]!;
    flops += 2 * k * y.reduce((p, d) => p * d, 1);
  }
  return flops;
}

async function ceilingGflops(): Promise<{ gflops: number; n: number }> {
  const n = Number(process.env.CEILING_N ?? 2048);
  return { gflops: await matmulCeilingGflops(n, REPS + 3), n };
}

interface Row {
  model: string;
  batch: number;
  length: number;
  target: number;
  buildMs: number;
  msPerBatch: number;
  examplesPerSec: number;
  gflops: number;
  rssMiB: number;
}

function examplesFor(f: ModelFolder, batch: number, length: number, target: number): AttributionExample[] {
  const out: AttributionExample[] = [];
  for (let b = 0; b < batch; b++) {
    const ids = Array.from({ length }, (_, i) => 5 + ((i * 31 + b * 17) % 400));
    if (f.kind === 'decoder-only') {
      // total length = prompt + target = `length`
      out.push({ promptIds: [f.bosTokenId ?? 1, ...ids.slice(0, length - target - 1)], targetIds: ids.slice(length - target) });
    } else out.push({ promptIds: ids, targetIds: ids.slice(0, target) });
  }
  return out;
}

async function measure(name: string, f: ModelFolder, batch: number, length: number, target: number): Promise<Row> {
  // The full-sequence graph, whose MatMul FLOPs are well defined (crispr run uses a folder's cache
  // graph when it has one: see bench:compare for that path).
  const { cache: _cache, ...model } = attributionModel(f);
  const exs = examplesFor(f, batch, length, target);
  // Exact buckets (multiple 1 would round 32 -> 32; use the lengths as they are).
  const a = new Attributor(model, { maxBatch: batch, lengthMultiple: 8, memoryLimitMiB: 16384 });
  const t0 = performance.now();
  await a.run(exs); // builds and compiles the bucket's graph
  const buildMs = performance.now() - t0;
  const times: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t = performance.now();
    await a.run(exs);
    times.push(performance.now() - t);
  }
  await a.close();
  // FLOPs of the same bucket's graph.
  const bucket = { batch, inputLength: length, targetLength: bucketLength(target, TARGET_MULTIPLE) };
  const g = await buildAttributionGraph(f.graph, f.kind, f.sites, bucket);
  const feeds: Record<string, ReturnType<typeof tensor>> = {};
  for (const inp of g.model.graph.inputs)
    feeds[inp.name] = tensor(
      inp.dtype,
      (inp.shape ?? []).map((d) => (typeof d === 'number' ? d : batch)),
    );
  for (const [k, v] of Object.entries(feeds))
    if (k.endsWith('mask') || k.startsWith('mask.')) (v.data as Float32Array | BigInt64Array).fill((v.dtype === 'int64' ? 1n : 1) as never);
    else if (k === g.promptIndex) (v.data as BigInt64Array).forEach((_, i, a) => (a[i] = BigInt(i))); // one prompt per row
  const flops = await matmulFlops(g.model, feeds);
  const ms = median(times);
  return {
    model: name,
    batch,
    length,
    target,
    buildMs,
    msPerBatch: ms,
    examplesPerSec: batch / (ms / 1000),
    gflops: flops / (ms / 1000) / 1e9,
    rssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

async function main(): Promise<void> {
  const which = new Set((args.models ?? 'stories,t5').split(','));
  const tmp = mkdtempSync(join(tmpdir(), 'crispr-bench-attr-'));
  const rows: Row[] = [];
  try {
    const ceiling = await ceilingGflops();
    console.log(`single MatMul ${ceiling.n}^3: ${ceiling.gflops.toFixed(1)} GFLOP/s`);
    const models: [string, () => Promise<ModelFolder>][] = [];
    const gguf = join(ASSETS, 'models/stories260K/stories260K.gguf');
    if (which.has('stories') && existsSync(gguf)) {
      models.push([
        'stories260K',
        async () => {
          importGguf(gguf, join(tmp, 'stories'));
          return loadModelFolder(join(tmp, 'stories'));
        },
      ]);
    }
    if (which.has('t5')) {
      models.push([
        'Flan-T5-small shape (d512, ff1024, 8 heads, 8+8 layers, vocab 32128; random)',
        async () => {
          makeT5Folder(join(tmp, 't5'), T5_BENCH_512, { assetsDir: ASSETS, mergedDecoder: false });
          return loadModelFolder(join(tmp, 't5'));
        },
      ]);
    }
    for (const [name, load] of models) {
      const f = await load();
      for (const length of [32, 128]) {
        for (const batch of [1, 8]) {
          const r = await measure(name, f, batch, length, 4);
          rows.push(r);
          console.log(
            `${name} b${batch} L${length}: ${r.examplesPerSec.toFixed(2)} ex/s, ${r.gflops.toFixed(1)} GFLOP/s, build ${r.buildMs.toFixed(0)} ms, peak rss ${r.rssMiB.toFixed(0)} MiB`,
          );
        }
      }
    }
    const peak = Math.max(...rows.map((r) => r.rssMiB));
    const table = markdownTable(
      [
        'model',
        'batch',
        'input length',
        'target tokens',
        'build + first run (s)',
        'ms / batch',
        'examples / s',
        'GFLOP/s (MatMul)',
        '% of ceiling',
        'peak RSS so far (MiB)',
      ],
      rows.map((r) => [
        r.model,
        r.batch,
        r.length,
        r.target,
        (r.buildMs / 1000).toFixed(1),
        r.msPerBatch.toFixed(1),
        r.examplesPerSec.toFixed(2),
        r.gflops.toFixed(1),
        `${((100 * r.gflops) / ceiling.gflops).toFixed(0)}%`,
        r.rssMiB.toFixed(0),
      ]),
    );
    const body = [
      'One attribution graph run per batch: forward pass, log P(target), backward pass and the max',
      'token reduction of h x dlogP/dh for every site (all linear layers), in one onnxruntime CPU',
      'session; only [batch, width] per site returns to JavaScript. "input length" is the encoder length',
      '(seq2seq, with a 4-token target) or prompt + target (decoder-only). GFLOP/s counts the',
      "graph's MatMul/Gemm FLOPs (forward and backward) from its static shapes, over the median time",
      `of ${REPS} runs. Ceiling: one ${ceiling.n}x${ceiling.n}x${ceiling.n} float32 MatMul in ORT on the same machine: **${ceiling.gflops.toFixed(1)} GFLOP/s**.`,
      '',
      table,
      '',
      `- Peak resident memory (maxRSS) of the benchmark process: ${peak.toFixed(0)} MiB; the last column is the peak up to each row (the model, its ORT sessions and the graph-building copies)`,
      ...provenance('pnpm bench:attribution'),
    ].join('\n');
    console.log(`updated ${updateBenchmarkSection('## Attribution', body)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

runScript(main);
