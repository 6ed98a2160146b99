/**
 * CRISPR steps 2-5 for one instruction (DESIGN.md §5): seeded trial samples of the dev items the
 * task can attribute; the sampled items' scores, biased labels and confusion weights, and the
 * attribution of every (item, answer) the trials need, in one pass (for seq2seq one graph, the
 * encoder once per prompt); and per trial the weighted sum sum_x a * B(n; i, x). Only the sample
 * is scored: the original model's scores of the other dev items are never read. The checkpoint
 * holds those sums (a few numbers per neuron), not the per-instance vectors. `crispr run` and
 * `crispr sweep` both attribute here.
 */
import type { AttributionExample, AttributionResult, McItem } from '@crispr-bench/core';
import { attributionSamples } from '@crispr-bench/datasets';
import { aggregate, type InstanceAttribution, type SiteVectors } from '../crispr/aggregate.js';
import type { ModelAccess, Progress } from './model-access.js';
import { NonFiniteError, contentHash, type RunStore, type StageKey } from './store.js';
import { biasedTarget, type AttributionTarget, type EvalTask, type Instruction } from './tasks.js';

export interface AttributionSettings {
  instances: number;
  trials: number;
  seed: number;
  lambda: number;
  skill: boolean;
  confusionWeight: boolean;
  objective: string;
  reduce: string;
  kinds: string;
}

export interface TrialSum {
  trial: number;
  instances: number;
  sum: Record<string, number[]>;
}

const itemName = (item: McItem) => `${item.category}/${item.id}`;

export async function attributeInstruction(a: {
  model: ModelAccess;
  task: EvalTask;
  instruction: Instruction;
  /** The dev items: the sample is drawn from those the task can attribute, and only the sample is scored. */
  devItems: McItem[];
  promptOf: (item: McItem) => string;
  settings: AttributionSettings;
  /** The model part of the key (model hash, provider). */
  baseKey: StageKey;
  store: RunStore;
  /** The checkpoint's name, or a function of the key's hash (content-addressed checkpoints). */
  stageName: string | ((keyHash: string) => string);
  progress: Progress;
  /** Told the attribution plan (batch size, memory per example, buckets) once computed. */
  onPlan?: ((line: string) => void) | undefined;
  /**
   * Attribution results shared between calls that differ only in the aggregation (lambda, skill
   * term, confusion weight): with it, every slot's gold answer is attributed too, so that the
   * ablations of a sweep run one attribution per instruction instead of one each.
   */
  shared?: Map<string, Promise<SampleAttribution>> | undefined;
}): Promise<TrialSum[]> {
  const { model, task, instruction: instr, settings: cfg } = a;
  const eligible = a.devItems.map((item) => ({ item, t: task.attributionTarget(item) })).filter((x) => x.t !== null);
  if (eligible.length === 0) throw new Error(`no dev item gives a biased label to attribute under instruction '${instr.id}'`);
  // Seeded, stratified samples, one per trial (datasets' attributionSamples; trial t has its own seed).
  const trials = attributionSamples(
    eligible.map((e) => e.item),
    { n: Math.min(cfg.instances, eligible.length), trials: cfg.trials, seed: cfg.seed },
  );
  // Trials overlap (samples of the same eligible items): each item is scored and attributed once.
  const targetOf = new Map(eligible.map((e) => [e.item, e.t!]));
  const picked = [...new Set(trials.flatMap((tr) => tr.items))];
  // What this stage reads: the sampled items' prompts, candidates and targets, the trial
  // structure (so the sample's seed and size), and the settings of the attribution and the
  // aggregation. The scores it needs (biased labels, confusion weights) it computes itself.
  const key: StageKey = {
    ...a.baseKey,
    examples: contentHash([
      trials.map((tr) => [tr.trial, tr.items.map(itemName)]),
      picked.map((item) => [itemName(item), a.promptOf(item), task.candidates(item), targetOf.get(item)]),
    ]),
    objective: cfg.objective,
    reduce: cfg.reduce,
    kinds: cfg.kinds,
    lambda: String(cfg.lambda),
    skill: String(cfg.skill),
    confusionWeight: String(cfg.confusionWeight),
  };
  const aggOpts = { lambda: cfg.lambda, skill: cfg.skill, confusionWeight: cfg.confusionWeight };
  const name = typeof a.stageName === 'string' ? a.stageName : a.stageName(contentHash(key).slice(7));
  return a.store.stage(name, key, async () => {
    const run = () => attributeSample(model, task, instr, picked, targetOf, a.promptOf, cfg.skill || a.shared !== undefined, a.progress);
    let res: SampleAttribution;
    if (a.shared) {
      const sharedKey = contentHash([a.baseKey, key.examples, cfg.objective, cfg.reduce, cfg.kinds]);
      let p = a.shared.get(sharedKey);
      if (!p) a.shared.set(sharedKey, (p = run()));
      res = await p;
    } else res = await run();
    const plan = res.result.plan;
    const mib = (plan.bytesPerExample / 2 ** 20).toFixed(1);
    a.onPlan?.(
      `attribution batch size ${plan.batchSize} (about ${mib} MiB per example; buckets ${plan.buckets.map((b) => `${b.batch}x${b.inputLength}x${b.targetLength}`).join(', ')})`,
    );
    const vec = (row: number): SiteVectors => Object.fromEntries(res.result.sites.map((s) => [s.name, s.values[row]!]));
    return trials.map((tr) => {
      const inTrial = new Set(tr.items);
      // In dev order, as the sums have always been taken (float addition is not associative).
      const insts: InstanceAttribution[] = eligible
        .filter((e) => inTrial.has(e.item))
        .map(({ item }) => {
          const r = res.rows.get(item)!;
          return {
            instruction: instr.id,
            trial: tr.trial,
            exampleId: itemName(item),
            confusion: r.confusion,
            biased: vec(r.biased),
            gold: cfg.skill && r.gold !== null ? vec(r.gold) : null,
          };
        });
      // One instruction and one trial: aggregate() returns exactly sum_x a * B(n; i, x).
      const sum = aggregate(insts, aggOpts);
      checkSiteVectors(sum, `aggregating trial ${tr.trial} under instruction '${instr.id}'`);
      return { trial: tr.trial, instances: insts.length, sum: Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, Array.from(v)])) };
    });
  });
}

/** The attribution of a sample: per item, its confusion weight and its rows (y_hat; gold or null). */
export interface SampleAttribution {
  result: AttributionResult;
  rows: Map<McItem, { confusion: number; biased: number; gold: number | null }>;
}

/**
 * Scores the sampled items and attributes their biased labels (and gold answers, with `withGold`).
 * Items whose y_hat is chosen from the scores and whose gold answer is attributed go through
 * scoreAndAttribute (one graph for seq2seq); the rest are scored, then attributed.
 */
async function attributeSample(
  model: ModelAccess,
  task: EvalTask,
  instr: Instruction,
  items: McItem[],
  targetOf: Map<McItem, AttributionTarget>,
  promptOf: (item: McItem) => string,
  withGold: boolean,
  progress: Progress,
): Promise<SampleAttribution> {
  const describe = (item: McItem, c: number) => `item ${itemName(item)}, instruction '${instr.id}', candidate ${JSON.stringify(task.candidates(item)[c])}`;
  const checkScores = (item: McItem, lp: readonly number[]) => {
    const bad = lp.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0)
      throw new NonFiniteError(
        `attribution: log P(candidate) is ${lp[bad]} for ${describe(item, bad)}; stopped before saving (check the model with crispr inspect)`,
      );
  };
  const rows = new Map<McItem, { confusion: number; biased: number; gold: number | null }>();
  if (withGold && items.every((it) => targetOf.get(it)!.gold !== null)) {
    const res = await model.scoreAndAttribute(
      items.map((item) => ({ prompt: promptOf(item), candidates: task.candidates(item), gold: targetOf.get(item)!.gold! })),
      (d, total) => progress.step(d, total),
    );
    items.forEach((item, i) => {
      checkScores(item, res.logprobs[i]!);
      const t = biasedTarget(targetOf.get(item)!, res.logprobs[i]!);
      // One definition of y_hat (biasedLabel): the graph's choice must agree with it.
      if (t.biased !== res.biased[i])
        throw new Error(`attribution: the graph chose candidate ${res.biased[i]} as the biased label of item ${itemName(item)}, the scores give ${t.biased}`);
      rows.set(item, { confusion: t.confusion, biased: 2 * i, gold: 2 * i + 1 });
    });
    checkAttribution(res.attribution, (row) => describe(items[row >> 1]!, row % 2 ? targetOf.get(items[row >> 1]!)!.gold! : res.biased[row >> 1]!));
    return { result: res.attribution, rows };
  }
  progress.step(0, items.length);
  const scores = await model.score(items.map((item) => ({ prompt: promptOf(item), candidates: task.candidates(item) })));
  const examples: AttributionExample[] = [];
  const described: string[] = [];
  const add = (item: McItem, c: number) => {
    described.push(describe(item, c));
    return examples.push(model.encode(promptOf(item), task.candidates(item)[c]!)) - 1;
  };
  items.forEach((item, i) => {
    checkScores(item, scores[i]!);
    const t = biasedTarget(targetOf.get(item)!, scores[i]!);
    const biased = add(item, t.biased);
    rows.set(item, { confusion: t.confusion, biased, gold: withGold && t.gold !== null ? add(item, t.gold) : null });
  });
  const result = await model.attribute(examples, (d, total) => progress.step(d, total));
  checkAttribution(result, (row) => described[row]!);
  return { result, rows };
}

/**
 * The first NaN or infinity in an attribution result stops the stage, naming the example (via
 * `describe(row)`), the site and the unit; nothing of the stage is saved.
 */
export function checkAttribution(res: AttributionResult, describe: (row: number) => string): void {
  for (let row = 0; row < res.logprob.length; row++) {
    if (!Number.isFinite(res.logprob[row]!))
      throw new NonFiniteError(
        `attribution: log P(target) is ${res.logprob[row]} for ${describe(row)}; stopped before saving (check the model with crispr inspect)`,
      );
    if (!Number.isFinite(res.objective[row]!))
      throw new NonFiniteError(`attribution: the objective is ${res.objective[row]} for ${describe(row)}; stopped before saving`);
  }
  for (const s of res.sites) {
    for (let row = 0; row < s.values.length; row++) {
      const v = s.values[row]!;
      for (let u = 0; u < v.length; u++) {
        if (!Number.isFinite(v[u]!)) throw new NonFiniteError(`attribution: site ${s.name} unit ${u} is ${v[u]} for ${describe(row)}; stopped before saving`);
      }
    }
  }
}

/** The first non-finite score in per-site vectors stops the stage, naming the site and unit. */
export function checkSiteVectors(vs: Record<string, ArrayLike<number>>, what: string): void {
  for (const [site, v] of Object.entries(vs)) {
    for (let u = 0; u < v.length; u++)
      if (!Number.isFinite(v[u]!)) throw new NonFiniteError(`${what}: site ${site} unit ${u} is ${v[u]}; stopped before saving`);
  }
}
