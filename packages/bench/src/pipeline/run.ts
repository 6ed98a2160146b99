/**
 * The CRISPR pipeline (DESIGN.md §5): score -> biased labels -> attribution -> aggregation ->
 * ranking -> masks -> evaluation sweep -> results. Each stage checkpoints into the run folder.
 */
import os from 'node:os';
import { safeName, type McItem } from '@crispr-bench/core';
import { acrossInstructions, bootstrap, bootstrapPaired } from '@crispr-bench/judges';
import { attributeInstruction, checkSiteVectors, type AttributionSettings } from './attribution-stage.js';
import { silentProgress, type ModelAccess, type Progress } from './model-access.js';
import { rankNeurons, masksForTopK, randomRanking, type RankedNeuron } from '../crispr/ranking.js';
import { goldenSectionK, type KSearchResult } from '../crispr/k-search.js';
import { RESULTS_SCHEMA_VERSION, type MetricBlock, type RunResults, type SweepPoint } from '@crispr-bench/results';
import { NonFiniteError, RunStore, contentHash } from './store.js';
import { scoreInChunks } from './score-chunks.js';
import { fitPrompts, type ContextLimit, type Truncate } from './lengths.js';
import type { EvalTask, Instruction, ScoredOptions } from './tasks.js';

export interface PipelineConfig {
  title: string;
  out: string;
  /** Items used for attribution (dev) and for evaluation (test), as index lists into task.items. */
  split: { dev: number[]; test: number[] };
  attribution: AttributionSettings;
  ks: number[];
  /** Choose k on the dev split by golden-section search over [0, kMax] (DESIGN.md §5 step 7). */
  kSearch?: { kMax: number };
  random: boolean;
  bootstrap: number;
  seed: number;
  provider: string;
  /** Content hash of the model's files (fingerprint.ts): the model part of every stage key. */
  modelHash: string;
  /** The model's hard context length, or null (no hard limit, e.g. T5's relative positions). */
  contextLimit: ContextLimit | null;
  /** What to do with a prompt + candidate longer than contextLimit (default error). */
  truncate?: Truncate;
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

/** The pruned set of the top k (masks depend on the set, not on its order). */
export const neuronSetHash = (ranking: RankedNeuron[], k: number) =>
  contentHash(
    ranking
      .slice(0, k)
      .map((r) => `${r.site}#${r.unit}`)
      .sort(),
  );

const itemName = (item: McItem) => `${item.category}/${item.id}`;

export async function runPipeline(model: ModelAccess, task: EvalTask, cfg: PipelineConfig, progress: Progress = silentProgress): Promise<RunResults> {
  const store = new RunStore(cfg.out, (line) => progress.note(line));
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const all = [...new Set([...cfg.split.dev, ...cfg.split.test])].sort((a, b) => a - b);
  const indexOf = new Map(task.items.map((it, i) => [it, i]));
  // Attribution (and the k search) use the task's instructions; evaluation may use held-out ones.
  const evalInstructions = task.evalInstructions ?? task.instructions;
  const allInstructions = [...new Map([...task.instructions, ...evalInstructions].map((i) => [i.id, i])).values()];
  const instrFile = new Map(allInstructions.map((i) => [i.id, safeName(i.id)]));

  // 0. Length guard, before any session exists: every prompt + candidate must fit the context.
  progress.stage('checking prompt lengths');
  const prompts = new Map<string, Map<number, string>>();
  const lengthNotes: string[] = [];
  for (const instr of allInstructions) {
    prompts.set(
      instr.id,
      fitPrompts(
        model,
        task.items,
        all,
        instr.id,
        (it) => task.prompt(it, instr),
        (it) => task.candidates(it),
        cfg.contextLimit,
        cfg.truncate ?? 'error',
        lengthNotes,
      ),
    );
  }
  for (const n of lengthNotes) progress.note(n);
  const promptOf = (instr: Instruction, i: number) => prompts.get(instr.id)!.get(i)!;
  /** What scoring reads: the rendered prompts and candidates (so data, instruction and template). */
  const promptsHash = (instrs: readonly Instruction[], indices: readonly number[]) =>
    contentHash(instrs.map((instr) => indices.map((i) => [promptOf(instr, i), task.candidates(task.items[i]!)])));
  const base = { model: cfg.modelHash, provider: cfg.provider };

  /** Scores in chunks, counting progress on `tally` (shared by the instructions of one stage). */
  const scoreItems = async (
    indices: number[],
    instr: Instruction,
    what: string,
    tally: { done: number; total: number },
    masks?: Record<string, Float32Array>,
  ): Promise<ScoredOptions[]> => {
    const before = tally.done;
    const lps = await scoreInChunks(
      model,
      indices.map((i) => ({ prompt: promptOf(instr, i), candidates: task.candidates(task.items[i]!) })),
      masks,
      (done) => {
        tally.done = before + done;
        progress.step(tally.done, tally.total);
      },
    );
    const out: ScoredOptions[] = indices.map((i, r) => {
      const item = task.items[i]!;
      const bad = lps[r]!.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) {
        throw new NonFiniteError(
          `${what}: log P(candidate ${bad} ${JSON.stringify(task.candidates(item)[bad])} | item ${itemName(item)}, instruction '${instr.id}') is ${lps[r]![bad]}; stopped before saving anything of this stage (check the model with crispr inspect)`,
        );
      }
      return { item, instruction: instr.id, logprobs: lps[r]! };
    });
    return out;
  };

  // 1. Score the original model on the test split under every evaluation instruction. (Attribution
  // scores its own sample of the dev split.)
  const original = new Map<string, ScoredOptions[]>();
  const test = cfg.split.test;
  for (const [n, instr] of evalInstructions.entries()) {
    progress.stage(`scoring the original model, instruction '${instr.id}' (${n + 1}/${evalInstructions.length})`);
    const rows = await store.stage(`scores/original-${instrFile.get(instr.id)}.json`, { ...base, prompts: promptsHash([instr], test) }, async () => {
      const scored = await scoreItems(test, instr, `scoring the original model`, { done: 0, total: test.length });
      return scored.map((s, r) => ({ index: test[r]!, logprobs: s.logprobs }));
    });
    original.set(
      instr.id,
      rows.map((r) => ({ item: task.items[r.index]!, instruction: instr.id, logprobs: r.logprobs })),
    );
  }
  timings.scoring = (Date.now() - t0) / 1000;

  // 2-6. Attribution, aggregated into B(n). One attribution run per instruction covers all its
  // trials, so that length buckets fill up; the checkpoint is each trial's weighted sum
  // sum_x a * B(n; i, x) (a few numbers per neuron), not the per-instance vectors.
  const t1 = Date.now();
  const perInstruction: Record<string, Float64Array>[] = [];
  let attributionItems = 0;
  let planReported = false;
  for (const [n, instr] of task.instructions.entries()) {
    progress.stage(`attributing, instruction '${instr.id}' (${n + 1}/${task.instructions.length})`);
    const trials = await attributeInstruction({
      model,
      task,
      instruction: instr,
      devItems: cfg.split.dev.map((i) => task.items[i]!),
      promptOf: (item) => promptOf(instr, indexOf.get(item)!),
      settings: cfg.attribution,
      baseKey: base,
      store,
      stageName: `attribution/${instrFile.get(instr.id)}.json`,
      progress,
      onPlan: planReported
        ? undefined
        : (line) => {
            progress.note(line);
            planReported = true;
          },
    });
    attributionItems += trials.reduce((a, c) => a + c.instances, 0);
    perInstruction.push(meanOfVectors(trials.map((c) => c.sum)));
  }
  // B(n) = mean over instructions of (mean over trials of the trial sums).
  const scores = meanOfVectors(perInstruction);
  checkSiteVectors(scores, 'averaging the bias scores over instructions');
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
    const devPrompts = promptsHash(task.instructions, cfg.split.dev);
    kSearch = await goldenSectionK(async (k) => {
      const key = { ...base, prompts: devPrompts, neurons: neuronSetHash(ranking, k) };
      const v = await store.stage(`ksearch/k${k}.json`, key, async () => {
        const masks = masksForTopK(ranking, k, widths);
        const rows: ScoredOptions[] = [];
        const tally = { done: 0, total: cfg.split.dev.length * task.instructions.length };
        for (const instr of task.instructions)
          rows.push(...(await scoreItems(cfg.split.dev, instr, `scoring the dev split with the top ${k} neurons pruned`, tally, masks)));
        return task.selection(rows);
      });
      progress.note(`k = ${k}: ${v.toFixed(4)}`);
      return v;
    }, kMax);
    progress.note(`chosen k = ${kSearch.best} (${task.selectionLabel} ${kSearch.bestValue.toFixed(4)} on dev)`);
    timings.kSearch = (Date.now() - t) / 1000;
  }

  // 7b. Evaluation sweep on the test split: pruned top k, the random control, the original.
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
      point.acrossInstructions = Object.fromEntries(
        keys.map((key) => [key, { mean: across[key]!.mean, sd: across[key]!.sd, min: across[key]!.min, max: across[key]!.max }]),
      );
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
  const testPrompts = promptsHash(evalInstructions, cfg.split.test);
  let point = 0;
  for (const m of methods) {
    for (const k of evalKs) {
      progress.stage(`evaluating the sweep: ${m.name}, k = ${k} (${++point}/${methods.length * evalKs.length})`);
      const key = { ...base, prompts: testPrompts, neurons: neuronSetHash(m.ranking, k) };
      const rows = await store.stage(`sweep/${safeName(m.name)}-k${k}.json`, key, async () => {
        const masks = masksForTopK(m.ranking, k, widths);
        const out: { index: number; instruction: string; logprobs: number[] }[] = [];
        const tally = { done: 0, total: cfg.split.test.length * evalInstructions.length };
        for (const instr of evalInstructions) {
          const scored = await scoreItems(cfg.split.test, instr, `scoring the test split, ${m.name} top ${k} pruned`, tally, masks);
          out.push(...scored.map((s, r) => ({ index: cfg.split.test[r]!, instruction: instr.id, logprobs: s.logprobs })));
        }
        return out;
      });
      sweep.push(
        summarise(
          m.name,
          k,
          rows.map((r) => ({ item: task.items[r.index]!, instruction: r.instruction, logprobs: r.logprobs })),
        ),
      );
    }
  }
  timings.sweep = (Date.now() - t2) / 1000;

  const siteScores = model.sites.map((s) => {
    const v = scores[s.name];
    let max = -Infinity;
    let pos = 0;
    if (v)
      for (const x of v) {
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
    config: {
      ...cfg.attribution,
      ks: cfg.ks,
      ...(cfg.kSearch ? { kSearchMax: cfg.kSearch.kMax } : {}),
      random: cfg.random,
      bootstrap: cfg.bootstrap,
      seed: cfg.seed,
      instructions: task.instructions.map((i) => i.id),
      ...(task.evalInstructions ? { evalInstructions: evalInstructions.map((i) => i.id) } : {}),
    },
    ...(kSearch ? { kSearch: { objective: task.selectionLabel, best: kSearch.best, bestValue: kSearch.bestValue, evaluated: kSearch.evaluated } } : {}),
    metricInfo: task.metricInfo,
    sweep,
    topNeurons: ranking.slice(0, 20).map((n) => ({ ...n, layer: siteByName.get(n.site)?.layer ?? -1, kind: siteByName.get(n.site)?.kind ?? '?' })),
    siteScores,
    timings,
    notes: [...lengthNotes, ...store.log],
  };
  store.writePlain('results.json', results);
  return results;
}
