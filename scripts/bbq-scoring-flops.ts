/**
 * Useful GFLOP/s of a `crispr run`'s first scoring stage on BBQ with a decoder-only model (the
 * original model on the test split; attribution scores its own sample of dev): the FLOPs a
 * forward pass must do to score every candidate once (each prompt once, then each
 * candidate's tokens: linear layers, attention over the keys so far, the LM head at the candidate
 * positions), over the stage's time from the run's results.json, next to one large MatMul's
 * GFLOP/s in onnxruntime on this machine (the ceiling bench:attribution reports).
 *
 *   pnpm tsx scripts/bbq-scoring-flops.ts <run dir> --model <folder> --data <BBQ folder> --categories Religion
 *     [--instructions paper|own] [--max-items n] [--dev-fraction 0.5] [--seed 0]
 * The items and prompts are rebuilt as crispr run builds them (same datasets functions, same seed
 * 0 sample for --max-items); numbers only, nothing is written.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { answerStrings, loadBbqDir, renderPrompt, resolveInstructions, splitDevTest } from '../packages/datasets/src/index.js';
import { loadModelFolder, encodeScoringRows } from '../packages/core/src/index.js';
import { readJsonFile } from '../packages/core/src/common.js';
import { runResults } from '../packages/results/src/index.js';
import { matmulCeilingGflops } from './lib/matmul-ceiling.js';
import { runScript } from './lib/benchmarks-md.js';

const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    categories: { type: 'string' },
    instructions: { type: 'string', default: 'paper' },
    'max-items': { type: 'string' },
    'dev-fraction': { type: 'string', default: '0.5' },
    seed: { type: 'string', default: '0' },
  },
});

async function main(): Promise<void> {
  const runDir = positionals[0];
  if (!runDir || !v.model || !v.data)
    throw new Error('usage: bbq-scoring-flops.ts <run dir> --model <folder> --data <BBQ folder> [--categories a,b] [--instructions paper] [--max-items n]');
  const seconds = readJsonFile(join(runDir, 'results.json'), runResults).timings.scoring!;
  const folder = await loadModelFolder(v.model);
  if (folder.kind !== 'decoder-only') throw new Error('this count covers decoder-only models');
  const cfg = folder.config as { hidden_size: number; num_attention_heads: number; num_hidden_layers: number; head_dim?: number; vocab_size: number };
  let items = (await loadBbqDir(v.data, v.categories ? { categories: v.categories.split(',') } : {})).items;
  if (v['max-items'] !== undefined && Number(v['max-items']) < items.length) {
    const keep = new Set(splitDevTest(items, { devFraction: Number(v['max-items']) / items.length, seed: Number(v.seed) }).dev);
    items = items.filter((i) => keep.has(i));
  }
  // crispr run's split (its --dev-fraction and --seed): the stage scores the test part.
  const test = splitDevTest(items, { devFraction: Number(v['dev-fraction']), seed: Number(v.seed) }).test;
  const instr = await resolveInstructions(v.instructions!);
  const scoreItems = instr.instructions.flatMap((text) =>
    test.map((it) => ({ prompt: renderPrompt('default', text, it), candidates: answerStrings('default', it).map((a) => ` ${a}`) })),
  );
  // MACs per token of the linear layers (every site: its width x its input width, from the weight).
  let linear = 0;
  for (const s of folder.sites) {
    const w = folder.graph.graph.initializers.get(s.weight)!;
    linear += w.dims[0]! * w.dims[1]!;
  }
  const attnPerKey = 2 * cfg.num_attention_heads * (cfg.head_dim ?? cfg.hidden_size / cfg.num_attention_heads) * cfg.num_hidden_layers; // QK and PV
  const head = cfg.hidden_size * cfg.vocab_size;
  let macs = 0;
  let promptTokens = 0;
  let candTokens = 0;
  const rows = encodeScoringRows(folder, scoreItems);
  const seen = new Set<number>();
  for (const r of rows) {
    const P = r.firstPosition; // cached prompt tokens (all but the last)
    if (!seen.has(r.item)) {
      seen.add(r.item);
      promptTokens += P;
      macs += P * linear + attnPerKey * ((P * (P + 1)) / 2);
    }
    const n = r.target.length; // window: last prompt token + target[:-1]
    candTokens += n;
    for (let k = 0; k < n; k++) macs += linear + attnPerKey * (P + k + 1) + head;
  }
  const gflop = (2 * macs) / 1e9;
  const peak = await matmulCeilingGflops(2048, 5);
  console.log(`${scoreItems.length} prompts (${promptTokens} tokens, once each), ${rows.length} candidates (${candTokens} window tokens)`);
  console.log(
    `useful work ${gflop.toFixed(1)} GFLOP in ${seconds.toFixed(1)} s of scoring: ${(gflop / seconds).toFixed(2)} GFLOP/s; one 2048^3 MatMul: ${peak.toFixed(1)} GFLOP/s (${((100 * gflop) / seconds / peak).toFixed(1)}% of it)`,
  );
}

runScript(main);
