/**
 * The CRISPR pipeline (DESIGN.md §5): score -> biased labels -> attribution -> aggregation ->
 * ranking -> masks -> evaluation sweep -> results. Each stage checkpoints into the run folder.
 */
import os from 'node:os';
import type { AttributionExample, AttributionResult, NeuronSite } from '@crispr-bench/core';
import { acrossInstructions, bootstrap, bootstrapPaired } from '@crispr-bench/judges';
import { attributionSamples } from '@crispr-bench/datasets';
import { aggregate, type InstanceAttribution, type SiteVectors } from '../crispr/aggregate.js';
import { rankNeurons, masksForTopK, randomRanking, type RankedNeuron } from '../crispr/ranking.js';
import { goldenSectionK, type KSearchResult } from '../crispr/k-search.js';
import { RESULTS_SCHEMA_VERSION, type MetricBlock, type RunResults, type SweepPoint } from '../results/schema.js';
import { RunStore } from './store.js';
import type { EvalTask, Instruction, ScoredOptions } from './tasks.js';

/** What the pipeline needs from a model: scoring, tokenising for attribution, attribution. */
export interface ModelAccess {
  id: string;
  kind: 'seq2seq' | 'decoder-only';
  description: string;
  sites: NeuronSite[];
  /** log P(candidate | prompt) for every candidate of every prompt, under optional masks. */
  score(batch: { prompt: string; candidates: string[] }[], masks?: Record<string, Float32Array>): Promise<number[][]>;
  /** Token ids of prompt and candidate exactly as score() sees them. */
  encode(prompt: string, candidate: string): AttributionExample;
  attribute(examples: AttributionExample[], onProgress?: (done: number, total: number) => void): Promise<AttributionResult>;
  close?(): Promise<void>;
}

export interface PipelineConfig {
  title: string;
  out: string;
  /** Items used for attribution (dev) and for evaluation (test), as index lists into task.items. */
  split: { dev: number[]; test: number[] };
  attribution: { instances: number; trials: number; seed: number; lambda: number; skill: boolean; confusionWeight: boolean; objective: string; reduce: string; kinds: string };
  ks: number[];
  /** Choose k on the dev split by golden-section search over [0, kMax] (DESIGN.md §5 step 7). */
  kSearch?: { kMax: number };
  random: boolean;
  bootstrap: number;
  seed: number;
  provider: string;
  /** Anything else that identifies the run (model path, data path) for the config hash. */
  identity: Record<string, unknown>;
}

/** Element-wise mean of per-site vectors (trial sums, or per-instruction scores). */
export function meanOfVectors(vs: Record<string, ArrayLike<number>>[]): Record<string, Float64Array> {
  if (vs.length === 0) throw new Error('meanOfVectors: nothing to average');
  const out: Record<string, Float64Array> = {};
  for (const v of vs) {
    for (const [site, a] of Object.entries(v)) {
      const acc = out[site] ?? (out[site] = new Float64Array(a.length));
      if (acc.length !== a.length) throw new Error(`site '${site}' has width ${a.length} here, ${acc.length} elsewhere`);
      for (let u = 0; u < a.length; u++) acc[u]! += a[u]! / vs.length;
    }
  }
  return out;
}

export interface Progress {
  stage(name: string): void;
  step(done: number, total: number): void;
  note(line: string): void;
}

export const silentProgress: Progress = { stage: () => {}, step: () => {}, note: () => {} };

async function scoreItems(model: ModelAccess, task: EvalTask, indices: number[], instr: Instruction, masks?: Record<string, Float32Array>): Promise<ScoredOptions[]> {
  const batch = indices.map((i) => ({ prompt: task.prompt(task.items[i]!, instr), candidates: task.candidates(task.items[i]!) }));
  const lps = await model.score(batch, masks);
  return indices.map((i, r) => ({ item: task.items[i]!, instruction: instr.id, logprobs: lps[r]! }));
}

export async function runPipeline(model: ModelAccess, task: EvalTask, cfg: PipelineConfig, progress: Progress = silentProgress): Promise<RunResults> {
  const hashInput = { ...cfg, out: undefined, title: undefined, task: task.name, model: model.id, items: task.items.length };
  const store = new RunStore(cfg.out, RunStore.hash(hashInput));
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const all = [...new Set([...cfg.split.dev, ...cfg.split.test])].sort((a, b) => a - b);
  const indexOf = new Map(task.items.map((it, i) => [it, i]));
  const evalInstructions = task.evalInstructions ?? task.instructions;

  // 1. Score the original model on every item under every instruction.
  progress.stage('scoring the original model');
  const original = new Map<string, ScoredOptions[]>();
  for (const instr of [...new Map([...task.instructions, ...evalInstructions].map((i) => [i.id, i])).values()]) {
    const name = `scores/original-${instr.id}.json`;
    let rows = store.read<{ index: number; logprobs: number[] }[]>(name);
    if (!rows) {
      const scored = await scoreItems(model, task, all, instr);
      rows = scored.map((s, r) => ({ index: all[r]!, logprobs: s.logprobs }));
      store.write(name, rows);
    }
    original.set(instr.id, rows.map((r) => ({ item: task.items[r.index]!, instruction: instr.id, logprobs: r.logprobs })));
  }
  timings.scoring = (Date.now() - t0) / 1000;

  // 2-6. Attribution, aggregated into B(n). One attribution run per instruction covers all its
  // trials, so that length buckets fill up; the checkpoint is each trial's weighted sum
  // sum_x a * B(n; i, x) (a few numbers per neuron), not the per-instance vectors.
  progress.stage('attributing');
  const t1 = Date.now();
  const devSet = new Set(cfg.split.dev);
  const aggOpts = { lambda: cfg.attribution.lambda, skill: cfg.attribution.skill, confusionWeight: cfg.attribution.confusionWeight };
  const perInstruction: Record<string, Float64Array>[] = [];
  let attributionItems = 0;
  let planReported = false;
  for (const instr of task.instructions) {
    const scored = original.get(instr.id)!.filter((s) => devSet.has(indexOf.get(s.item)!));
    const eligible = scored.map((s) => ({ s, t: task.biasedTarget(s) })).filter((x) => x.t !== null);
    if (eligible.length === 0) throw new Error(`no attribution instance has a biased label under instruction '${instr.id}'`);
    const name = `attribution/${instr.id}.json`;
    let cached = store.read<{ trial: number; instances: number; sum: Record<string, number[]> }[]>(name);
    if (!cached) {
      // Seeded, stratified samples, one per trial (datasets' attributionSamples; trial t has its own seed).
      const trials = attributionSamples(eligible.map((e) => e.s.item), { n: Math.min(cfg.attribution.instances, eligible.length), trials: cfg.attribution.trials, seed: cfg.attribution.seed });
      const examples: AttributionExample[] = [];
      const slots: { trial: number; e: (typeof eligible)[number]; biased: number; gold: number | null }[] = [];
      for (const tr of trials) {
        const picked = new Set(tr.items);
        for (const e of eligible.filter((x) => picked.has(x.s.item))) {
          const prompt = task.prompt(e.s.item, instr);
          const cands = task.candidates(e.s.item);
          const biased = examples.push(model.encode(prompt, cands[e.t!.biased]!)) - 1;
          const gold = cfg.attribution.skill && e.t!.gold !== null ? examples.push(model.encode(prompt, cands[e.t!.gold]!)) - 1 : null;
          slots.push({ trial: tr.trial, e, biased, gold });
        }
      }
      const res = await model.attribute(examples, (d, n) => progress.step(d, n));
      if (!planReported) {
        const mib = (res.plan.bytesPerExample / 2 ** 20).toFixed(1);
        progress.note(`attribution batch size ${res.plan.batchSize} (about ${mib} MiB per example; buckets ${res.plan.buckets.map((b) => `${b.batch}x${b.inputLength}x${b.targetLength}`).join(', ')})`);
        planReported = true;
      }
      const vec = (row: number): SiteVectors => Object.fromEntries(res.sites.map((s) => [s.name, s.values[row]!]));
      cached = trials.map((tr) => {
        const insts: InstanceAttribution[] = slots
          .filter((sl) => sl.trial === tr.trial)
          .map((sl) => ({ instruction: instr.id, trial: tr.trial, exampleId: `${sl.e.s.item.category}/${sl.e.s.item.id}`, confusion: sl.e.t!.confusion, biased: vec(sl.biased), gold: sl.gold === null ? null : vec(sl.gold) }));
        // One instruction and one trial: aggregate() returns exactly sum_x a * B(n; i, x).
        const sum = aggregate(insts, aggOpts);
        return { trial: tr.trial, instances: insts.length, sum: Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, Array.from(v)])) };
      });
      store.write(name, cached);
    }
    attributionItems += cached.reduce((a, c) => a + c.instances, 0);
    perInstruction.push(meanOfVectors(cached.map((c) => c.sum)));
  }
  // B(n) = mean over instructions of (mean over trials of the trial sums).
  const scores = meanOfVectors(perInstruction);
  const ranking = rankNeurons(scores);
  const siteByName = new Map(model.sites.map((s) => [s.name, s]));
  store.writePlain('ranking.json', {
    method: 'crispr',
    neurons: ranking.slice(0, 2000).map((n) => ({ ...n, layer: siteByName.get(n.site)?.layer, kind: siteByName.get(n.site)?.kind })),
  });
  timings.attribution = (Date.now() - t1) / 1000;

  const widths = Object.fromEntries(model.sites.map((s) => [s.name, s.width]));

  // 7a. Optionally choose k on the dev split (the attribution items' split, as in the paper).
  let kSearch: KSearchResult | undefined;
  if (cfg.kSearch) {
    const kMax = Math.min(cfg.kSearch.kMax, ranking.length);
    progress.stage(`choosing k on the dev split: golden-section search of ${task.selectionLabel} over [0, ${kMax}]`);
    const t = Date.now();
    kSearch = await goldenSectionK(async (k) => {
      const name = `ksearch/k${k}.json`;
      let v = store.read<number>(name);
      if (v === undefined) {
        const masks = masksForTopK(ranking, k, widths);
        const rows: ScoredOptions[] = [];
        for (const instr of task.instructions) rows.push(...(await scoreItems(model, task, cfg.split.dev, instr, masks)));
        v = task.selection(rows);
        store.write(name, v);
      }
      progress.note(`k = ${k}: ${v.toFixed(4)}`);
      return v;
    }, kMax);
    progress.note(`chosen k = ${kSearch.best} (${task.selectionLabel} ${kSearch.bestValue.toFixed(4)} on dev)`);
    timings.kSearch = (Date.now() - t) / 1000;
  }

  // 7b. Evaluation sweep on the test split: pruned top k, the random control, the original.
  progress.stage('evaluating the sweep');
  const t2 = Date.now();
  const testSet = new Set(cfg.split.test);
  const origTest = evalInstructions.flatMap((instr) => original.get(instr.id)!.filter((s) => testSet.has(indexOf.get(s.item)!)));
  const sweep: SweepPoint[] = [];
  const metricOf = (rows: ScoredOptions[]) => (idx: ArrayLike<number> | undefined) => task.metrics(rows, idx);
  const keys = task.metricInfo.map((m) => m.key);
  const summarise = (method: string, k: number, rows: ScoredOptions[]): SweepPoint => {
    const ci = bootstrap(rows.length, metricOf(rows), keys, { resamples: cfg.bootstrap, seed: cfg.seed });
    const block = (iv: Record<string, { estimate: number | null; lo: number | null; hi: number | null }>): MetricBlock =>
      Object.fromEntries(keys.map((key) => [key, { value: iv[key]!.estimate, lo: iv[key]!.lo, hi: iv[key]!.hi }]));
    const point: SweepPoint = { method, k, metrics: block(ci) };
    if (evalInstructions.length > 1) {
      // The paper's inter-instruction spread: the metric under each instruction, then mean and sd.
      const per: Record<string, Record<string, number | null>> = {};
      for (const instr of evalInstructions) per[instr.id] = task.metrics(rows.filter((r) => r.instruction === instr.id));
      const across = acrossInstructions(per, keys);
      point.acrossInstructions = Object.fromEntries(keys.map((key) => [key, { mean: across[key]!.mean, sd: across[key]!.sd, min: across[key]!.min, max: across[key]!.max }]));
    }
    if (method !== 'original') {
      // Rows are in the same item order as the original's, so position i is the same item.
      point.delta = block(bootstrapPaired(rows.length, metricOf(origTest), metricOf(rows), keys, { resamples: cfg.bootstrap, seed: cfg.seed }));
    }
    return point;
  };
  sweep.push(summarise('original', 0, origTest));
  const methods: { name: string; ranking: RankedNeuron[] }[] = [{ name: 'crispr', ranking }];
  if (cfg.random) methods.push({ name: 'random', ranking: randomRanking(widths, cfg.seed + 17) });
  const evalKs = [...new Set([...cfg.ks, ...(kSearch ? [kSearch.best] : [])])].filter((k) => k > 0).sort((a, b) => a - b);
  let done = 0;
  for (const m of methods) {
    for (const k of evalKs) {
      const name = `sweep/${m.name}-k${k}.json`;
      let rows = store.read<{ index: number; instruction: string; logprobs: number[] }[]>(name);
      if (!rows) {
        const masks = masksForTopK(m.ranking, k, widths);
        rows = [];
        for (const instr of evalInstructions) {
          const scored = await scoreItems(model, task, cfg.split.test, instr, masks);
          rows.push(...scored.map((s, r) => ({ index: cfg.split.test[r]!, instruction: instr.id, logprobs: s.logprobs })));
        }
        store.write(name, rows);
      }
      sweep.push(summarise(m.name, k, rows.map((r) => ({ item: task.items[r.index]!, instruction: r.instruction, logprobs: r.logprobs }))));
      progress.step(++done, methods.length * evalKs.length);
    }
  }
  timings.sweep = (Date.now() - t2) / 1000;

  const siteScores = model.sites.map((s) => {
    const v = scores[s.name];
    let max = -Infinity;
    let pos = 0;
    if (v) for (const x of v) {
      max = Math.max(max, x);
      if (x > 0) pos += x;
    }
    return { site: s.name, layer: s.layer, kind: s.kind, width: s.width, maxScore: Number.isFinite(max) ? max : 0, sumPositive: pos };
  });
  const cpus = os.cpus();
  const results: RunResults = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    title: cfg.title,
    createdAt: new Date().toISOString(),
    tool: { name: 'crispr-bench', version: '0.1.0' },
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, node: process.version, provider: cfg.provider },
    model: { id: model.id, kind: model.kind, sites: model.sites.length, neurons: model.sites.reduce((a, s) => a + s.width, 0), description: model.description },
    dataset: { name: task.name, items: task.items.length, attributionItems, evalItems: cfg.split.test.length, description: task.description },
    config: { ...cfg.attribution, ks: cfg.ks, ...(cfg.kSearch ? { kSearchMax: cfg.kSearch.kMax } : {}), random: cfg.random, bootstrap: cfg.bootstrap, seed: cfg.seed, instructions: task.instructions.map((i) => i.id), ...(task.evalInstructions ? { evalInstructions: evalInstructions.map((i) => i.id) } : {}) },
    ...(kSearch ? { kSearch: { objective: task.selectionLabel, best: kSearch.best, bestValue: kSearch.bestValue, evaluated: kSearch.evaluated } } : {}),
    metricInfo: task.metricInfo,
    sweep,
    topNeurons: ranking.slice(0, 20).map((n) => ({ ...n, layer: siteByName.get(n.site)?.layer ?? -1, kind: siteByName.get(n.site)?.kind ?? '?' })),
    siteScores,
    timings,
    notes: [],
  };
  store.writePlain('results.json', results);
  return results;
}

