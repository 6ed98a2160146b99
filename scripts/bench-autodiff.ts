/**
 * Autodiff benchmark: a transformer block (embedding, RMSNorm, causal multi-head attention,
 * LayerNorm, gated SiLU FFN, LM head, cross-entropy) at two sizes, timed in onnxruntime (CPU)
 * forward-only and forward + backward (gradients of the loss w.r.t. every weight). Prints a
 * table and writes the section "## Autodiff: transformer block forward + backward" of
 * BENCHMARKS.md. Run: pnpm bench:autodiff
 */
process.env.ORT_DISABLE_TELEMETRY = '1';

import { loadavg } from 'node:os';
import { createSession, type Model, type Tensor } from '../packages/core/src/index.js';
import { buildGradientGraph } from '../packages/core/src/autodiff/index.js';
import { buildTransformerBlock, blockParameters, type BlockConfig } from '../packages/core/test/helpers/transformer-block.js';
import { median, provenance, updateBenchmarkSection, runScript, markdownTable } from './lib/benchmarks-md.js';

const SECTION = '## Autodiff: transformer block forward + backward';

interface Size extends Omit<BlockConfig, 'dtype'> {
  label: string;
  runs: number;
}

const SIZES: Size[] = [
  { label: 'small', batch: 8, seq: 32, dModel: 64, heads: 4, dFf: 256, vocab: 512, runs: 20 },
  { label: 'medium', batch: 8, seq: 128, dModel: 512, heads: 8, dFf: 2048, vocab: 4096, runs: 9 },
];
const WARMUP = 2;

/**
 * Times two sessions with their runs interleaved (A, B, A, B, ...) so that load from other jobs on
 * a shared machine hits both alike; returns the per-run times of each.
 */
async function timeInterleaved(models: [Model, Model], feeds: Record<string, Tensor>, runs: number): Promise<[number[], number[]]> {
  const sessions = await Promise.all(models.map((m) => createSession(m)));
  try {
    for (let i = 0; i < WARMUP; i++) for (const s of sessions) await s.run(feeds);
    const times: [number[], number[]] = [[], []];
    for (let i = 0; i < runs; i++) {
      for (let k = 0; k < 2; k++) {
        const t0 = performance.now();
        await sessions[k]!.run(feeds);
        times[k]!.push(performance.now() - t0);
      }
    }
    return times;
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}

interface Row {
  size: Size;
  params: number;
  nodesFwd: number;
  nodesBwd: number;
  buildMs: number;
  fwdMs: number;
  fwdBwdMs: number;
}

async function benchSize(size: Size): Promise<Row> {
  const blk = buildTransformerBlock({ ...size, dtype: 'float32' });
  // Forward-only model: just the loss, so both variants return the same forward output.
  const fwd: Model = { ...blk.model, graph: { ...blk.model.graph, outputs: blk.model.graph.outputs.filter((o) => o.name === blk.loss) } };
  const t0 = performance.now();
  const { model: full } = await buildGradientGraph(fwd, { objective: blk.loss, wrt: Object.values(blk.weights), feeds: blk.feeds });
  const buildMs = performance.now() - t0;
  const [fwdTimes, fullTimes] = await timeInterleaved([fwd, full], blk.feeds, size.runs);
  return {
    size,
    params: blockParameters(blk),
    nodesFwd: fwd.graph.nodes.length,
    nodesBwd: full.graph.nodes.length,
    buildMs,
    fwdMs: median(fwdTimes),
    fwdBwdMs: median(fullTimes),
  };
}

function table(rows: Row[]): string {
  return markdownTable(
    [
      'size',
      'batch x seq',
      'd_model / heads / d_ff / vocab',
      'weights',
      'nodes fwd / fwd+bwd',
      'graph build (ms)',
      'forward (ms)',
      'forward + backward (ms)',
      'ratio',
    ],
    rows.map(({ size: s, ...r }) => [
      s.label,
      `${s.batch} x ${s.seq}`,
      `${s.dModel} / ${s.heads} / ${s.dFf} / ${s.vocab}`,
      `${(r.params / 1e6).toFixed(2)} M`,
      `${r.nodesFwd} / ${r.nodesBwd}`,
      r.buildMs.toFixed(0),
      r.fwdMs.toFixed(1),
      r.fwdBwdMs.toFixed(1),
      (r.fwdBwdMs / r.fwdMs).toFixed(2),
    ]),
  );
}

async function main() {
  const load = loadavg()[0]!;
  const rows: Row[] = [];
  for (const size of SIZES) {
    process.stdout.write(`benchmarking ${size.label} ...\n`);
    rows.push(await benchSize(size));
  }
  const tbl = table(rows);
  console.log(`\n${tbl}\n`);
  const body = [
    'One decoder block (token embedding Gather, RMSNorm, causal multi-head attention with an additive',
    'causal + padding mask, LayerNorm, gated SiLU FFN, LM head, cross-entropy over target tokens), float32,',
    'onnxruntime CPU provider, graph optimisation level "all", default thread count. "forward + backward" is the',
    'graph from `buildGradientGraph` returning the loss and its gradients w.r.t. every weight in one run;',
    `times are medians of N runs after ${WARMUP} warm-up runs (N = ${SIZES.map((s) => `${s.runs} ${s.label}`).join(', ')}), forward and`,
    'forward + backward runs interleaved so that load from other jobs affects both alike;',
    '"graph build" is shape probing plus gradient-graph construction.',
    '',
    tbl,
    '',
    ...provenance('pnpm bench:autodiff', `1-minute load average ${load.toFixed(1)} at the start`),
    '',
  ].join('\n');
  console.log(`updated ${updateBenchmarkSection(SECTION, body)}`);
}

runScript(main);
