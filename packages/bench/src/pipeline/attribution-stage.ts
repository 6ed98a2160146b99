/**
 * CRISPR steps 2-5 for one instruction (DESIGN.md §5): from the original model's scores on the
 * dev items, the biased label and confusion weight of each, seeded trial samples, one
 * attribution run over every (item, answer) the trials need, and per trial the weighted sum
 * sum_x a * B(n; i, x). The checkpoint holds those sums (a few numbers per neuron), not the
 * per-instance vectors. `crispr run` and `crispr sweep` both attribute here.
 */
import type { AttributionExample, AttributionResult, McItem } from '@crispr-bench/core';
import { attributionSamples } from '@crispr-bench/datasets';
import { aggregate, type InstanceAttribution, type SiteVectors } from '../crispr/aggregate.js';
import type { ModelAccess, Progress } from './model-access.js';
import { NonFiniteError, contentHash, type RunStore, type StageKey } from './store.js';
import type { EvalTask, Instruction, ScoredOptions } from './tasks.js';

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
  /** The original model's scores of the dev items under this instruction. */
  devScored: ScoredOptions[];
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
  shared?: Map<string, Promise<AttributionResult>> | undefined;
}): Promise<TrialSum[]> {
  const { model, task, instruction: instr, settings: cfg } = a;
  const eligible = a.devScored.map((s) => ({ s, t: task.biasedTarget(s) })).filter((x) => x.t !== null);
  if (eligible.length === 0) throw new Error(`no attribution instance has a biased label under instruction '${instr.id}'`);
  // Seeded, stratified samples, one per trial (datasets' attributionSamples; trial t has its own seed).
  const trials = attributionSamples(
    eligible.map((e) => e.s.item),
    { n: Math.min(cfg.instances, eligible.length), trials: cfg.trials, seed: cfg.seed },
  );
  // Trials overlap (samples of the same eligible items): each (item, answer) is attributed once.
  const examples: AttributionExample[] = [];
  const exampleOf = new Map<string, number>();
  const describeRow: string[] = [];
  const attribute = (item: McItem, answer: number): number => {
    const key = `${itemName(item)}:${answer}`;
    let i = exampleOf.get(key);
    if (i === undefined) {
      const candidate = task.candidates(item)[answer]!;
      exampleOf.set(key, (i = examples.push(model.encode(a.promptOf(item), candidate)) - 1));
      describeRow[i] = `item ${itemName(item)}, instruction '${instr.id}', candidate ${JSON.stringify(candidate)}`;
    }
    return i;
  };
  const slots: { trial: number; e: (typeof eligible)[number]; biased: number; gold: number | null }[] = [];
  for (const tr of trials) {
    const picked = new Set(tr.items);
    for (const e of eligible.filter((x) => picked.has(x.s.item))) {
      const biased = attribute(e.s.item, e.t!.biased);
      const goldRow = (cfg.skill || a.shared) && e.t!.gold !== null ? attribute(e.s.item, e.t!.gold) : null;
      slots.push({ trial: tr.trial, e, biased, gold: cfg.skill ? goldRow : null });
    }
  }
  // What this stage reads: the token ids it attributes, the confusion weights from the scores,
  // the trial structure (so the sample's seed and size), and the settings of the attribution
  // and the aggregation.
  const key: StageKey = {
    ...a.baseKey,
    examples: contentHash(
      slots.map((sl) => [sl.trial, itemName(sl.e.s.item), sl.e.t!.confusion, examples[sl.biased], sl.gold === null ? null : examples[sl.gold]]),
    ),
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
    const run = async () => {
      const r = await model.attribute(examples, (d, total) => a.progress.step(d, total));
      checkAttribution(r, (row) => describeRow[row]!);
      return r;
    };
    let res: AttributionResult;
    if (a.shared) {
      const sharedKey = contentHash([a.baseKey, examples, cfg.objective, cfg.reduce, cfg.kinds]);
      let p = a.shared.get(sharedKey);
      if (!p) a.shared.set(sharedKey, (p = run()));
      res = await p;
    } else res = await run();
    const mib = (res.plan.bytesPerExample / 2 ** 20).toFixed(1);
    a.onPlan?.(
      `attribution batch size ${res.plan.batchSize} (about ${mib} MiB per example; buckets ${res.plan.buckets.map((b) => `${b.batch}x${b.inputLength}x${b.targetLength}`).join(', ')})`,
    );
    const vec = (row: number): SiteVectors => Object.fromEntries(res.sites.map((s) => [s.name, s.values[row]!]));
    return trials.map((tr) => {
      const insts: InstanceAttribution[] = slots
        .filter((sl) => sl.trial === tr.trial)
        .map((sl) => ({
          instruction: instr.id,
          trial: tr.trial,
          exampleId: itemName(sl.e.s.item),
          confusion: sl.e.t!.confusion,
          biased: vec(sl.biased),
          gold: sl.gold === null ? null : vec(sl.gold),
        }));
      // One instruction and one trial: aggregate() returns exactly sum_x a * B(n; i, x).
      const sum = aggregate(insts, aggOpts);
      checkSiteVectors(sum, `aggregating trial ${tr.trial} under instruction '${instr.id}'`);
      return { trial: tr.trial, instances: insts.length, sum: Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, Array.from(v)])) };
    });
  });
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
