/**
 * The sweep engine (`crispr sweep`): runs the groups of cells of a plan (or of one shard of it)
 * into a results folder. Every stage is content-addressed: its checkpoint is named by the hash
 * of exactly what it read (model file bytes, rendered prompts and candidates, instruction text,
 * template, masks, settings, the stage's version), so a changed input recomputes what depends on
 * it and nothing else, and an unchanged sweep computes nothing. Cells are appended to
 * cells.jsonl as their group finishes; a killed sweep run again recomputes only what was lost.
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import {
  generateGreedy,
  loadModelFolder,
  releaseGenerationSessions,
  pathInside,
  runtimeVersion,
  UserError,
  type CliIO,
  type McItem,
  type ModelFolder,
} from '@crispr-bench/core';
import { splitDevTest } from '@crispr-bench/datasets';
import { argmax, averagePrior, bootstrap, bootstrapPaired, contextualCalibration, drawDomainWords, matchGeneration, softmax } from '@crispr-bench/judges';
import { SWEEP_SCHEMA, type CellRow, type Manifest, type PredictionRow, type RankingFile, type SweepMetricValue } from '@crispr-bench/results';
import { masksForTopK, randomRanking, rankNeurons, type RankedNeuron } from '../crispr/ranking.js';
import { goldenSectionK } from '../crispr/k-search.js';
import { makeDefaultModel } from '../default-model/index.js';
import { ORGANISM_MODEL_DIR } from '../organism/task.js';
import { attributeInstruction, checkSiteVectors, type SampleAttribution } from '../pipeline/attribution-stage.js';
import { hashFiles, modelFiles } from '../pipeline/fingerprint.js';
import { folderAccess } from '../pipeline/folder-access.js';
import { scoreWorkersFor } from '../pipeline/score-pool.js';
import { contextLimit, fitPrompts, type ContextLimit } from '../pipeline/lengths.js';
import { loadTask, sourceKind } from '../pipeline/load-task.js';
import type { ModelAccess, Progress } from '../pipeline/model-access.js';
import { meanOfVectors, neuronSetHash } from '../pipeline/run.js';
import { NonFiniteError, RunStore, contentHash, writeFileAtomic, type StageKey } from '../pipeline/store.js';
import { SCORE_CHUNK, scoreInChunks } from '../pipeline/score-chunks.js';
import type { EvalTask, Instruction, ScoredOptions } from '../pipeline/tasks.js';
import { configPath, resolveVariant, type CrisprSettings, type DatasetSpec, type SweepConfig } from './config.js';
import { makePlan, shardGroups, type PlanDataset } from './plan.js';
import { writeResultsCsv } from './results-csv.js';
import { formatDuration } from '../cli/progress.js';

/** Bumped when a stage's computation changes, so that old checkpoints are not reused. */
export const STAGE_VERSION = 2;
const TOOL_VERSION = '0.1.0';

export interface SweepRunOptions {
  config: SweepConfig;
  /** The config file's folder: relative paths in the config are relative to it. */
  baseDir: string;
  out: string;
  shard: { index: number; count: number } | null;
  /** Where attribution checkpoints and rankings are shared between shards (default: out). */
  rankingsDir?: string;
  progress: Progress;
  io: CliIO;
  /** Print the plan and stop. */
  dryRun?: boolean;
}

export interface SweepSummary {
  cells: CellRow[];
  planned: number;
  groups: number;
  computed: Record<string, number>;
  reused: Record<string, number>;
  seconds: number;
}

/** A dataset's shape in the sweep: its items, splits, instructions, prompts. */
interface DataCtx {
  spec: DatasetSpec;
  task: EvalTask;
  /** Instructions used for attribution (bias datasets) and all instructions evaluated. */
  attribution: Instruction[];
  evaluated: { instr: Instruction; use: 'attribution' | 'heldout' }[];
  dev: number[];
  test: number[];
  prompts: Map<string, Map<number, string>>;
}

interface ModelCtx {
  label: string;
  folder: ModelFolder;
  hash: string;
  limit: ContextLimit | null;
  scorer: ModelAccess;
  attributors: Map<string, ModelAccess>;
  /** Attribution runs shared by the variants that differ only in the aggregation. */
  attributions: Map<string, Promise<SampleAttribution>>;
  widths: Record<string, number>;
  data: Map<string, DataCtx>;
  description: string;
}

const CONTENT_FREE = 'N/A';

export function configHash(cfg: SweepConfig): string {
  const { out: _out, ...rest } = cfg;
  return contentHash(rest);
}

function gitRevision(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dirname(new URL(import.meta.url).pathname), stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

/** An item with its content replaced (the content-free input of CC, or DC's random words). */
function contentFreeItem(item: McItem, text: string): McItem {
  const keys = Object.keys(item.fields);
  return { ...item, fields: Object.fromEntries(keys.map((k, i) => [k, i === 0 ? text : ''])) };
}

export async function runSweep(o: SweepRunOptions): Promise<SweepSummary> {
  const t0 = Date.now();
  const cfg = o.config;
  const { progress } = o;
  const out = o.out;
  mkdirSync(out, { recursive: true });
  mkdirSync(join(out, 'logs'), { recursive: true });
  const logFile = join(out, 'logs', o.shard ? `sweep-shard-${o.shard.index}.log` : 'sweep.log');
  const log = (line: string) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
  const store = new RunStore(out, log);
  const shared = o.rankingsDir ? new RunStore(o.rankingsDir, log) : store;

  /** A content-addressed stage: its file is named by the hash of its key. */
  const stage = async <T>(kind: string, key: StageKey, compute: () => Promise<T>, where: RunStore = store): Promise<{ data: T; hash: string }> => {
    const full = { ...key, stage: `${kind}@${STAGE_VERSION}` };
    const hash = contentHash(full);
    const data = await where.stage(`stages/${kind}/${hash.slice(7)}.json`, full, compute);
    return { data, hash };
  };

  // Datasets and the plan: instructions do not depend on the model (candidates do: see dataFor).
  const variants = cfg.methods.variants.map(resolveVariant);
  const variantByLabel = new Map(variants.map((v) => [v.label, v.settings]));
  if (variantByLabel.size !== variants.length) throw new UserError('methods.variants: two variants have the same settings');
  const planData: PlanDataset[] = [];
  const specs = new Map(cfg.datasets.map((d) => [d.label, d]));
  const taskCache = new Map<string, EvalTask>();
  const taskFor = async (d: DatasetSpec, kind: 'seq2seq' | 'decoder-only') => {
    const key = `${d.label}|${kind}`;
    let t = taskCache.get(key);
    if (!t) {
      const source = d.source.startsWith('bbq:')
        ? configPath(o.baseDir, d.source.slice(4))
        : d.source.startsWith('mc:')
          ? `mc:${configPath(o.baseDir, d.source.slice(3))}`
          : d.source;
      const own = d.source === 'organism' || d.source === 'pronoun';
      const set = d.instructions.set === 'paper' || d.instructions.set === 'own' ? d.instructions.set : configPath(o.baseDir, d.instructions.set);
      t = await loadTask(
        { source, categories: d.categories, instructions: own ? undefined : set, template: own ? undefined : d.template, maxItems: d.maxItems, seed: cfg.seed },
        kind,
      );
      if (t.items.length === 0)
        throw new UserError(`datasets '${d.label}': no items (source ${d.source}${d.categories ? `, categories ${d.categories.join(', ')}` : ''})`);
      taskCache.set(key, t);
    }
    return t;
  };
  const instructionsOf = (d: DatasetSpec, t: EvalTask): DataCtx['evaluated'] => {
    if (t.evalInstructions) {
      // The organism: attribution under its training instructions, held-out ones evaluated too.
      const attr = new Set(t.instructions.map((i) => i.id));
      return [
        ...t.instructions.map((instr) => ({ instr, use: 'attribution' as const })),
        ...t.evalInstructions.filter((i) => !attr.has(i.id)).map((instr) => ({ instr, use: 'heldout' as const })),
      ];
    }
    const a = d.role === 'bias' ? (d.instructions.attribution ?? t.instructions.length) : 0;
    if (d.instructions.attribution !== undefined && d.instructions.attribution > t.instructions.length) {
      throw new UserError(
        `datasets '${d.label}'.instructions.attribution: ${d.instructions.attribution}, but the set '${d.instructions.set}' has ${t.instructions.length} instructions`,
      );
    }
    return t.instructions.map((instr, i) => ({ instr, use: i < a ? ('attribution' as const) : ('heldout' as const) }));
  };
  for (const d of cfg.datasets) {
    const t = await taskFor(d, 'seq2seq');
    planData.push({ label: d.label, role: d.role, mode: d.evaluation.mode, instructions: instructionsOf(d, t).map((e) => ({ id: e.instr.id, use: e.use })) });
  }
  const ks = cfg.k.map((k) => k);
  const plan = makePlan({
    models: cfg.models.map((m) => ({ label: m.label, datasets: m.datasets ?? cfg.datasets.map((d) => d.label) })),
    datasets: planData,
    variants: variants.map((v) => v.label),
    random: cfg.methods.random,
    cc: cfg.methods.cc,
    dc: cfg.methods.dc > 0,
    combined: cfg.methods.combined,
    ks,
    transfer: cfg.transfer,
  });
  const mine = shardGroups(plan, o.shard);
  const planned = mine.reduce((a, g) => a + g.cells.length, 0);
  progress.note(
    `plan: ${plan.length} groups, ${plan.reduce((a, g) => a + g.cells.length, 0)} cells${o.shard ? `; shard ${o.shard.index}/${o.shard.count}: ${mine.length} groups, ${planned} cells` : ''}`,
  );
  if (o.dryRun) {
    for (const g of mine) o.io.out(`${g.cells[0]!.id.replace(/\/[^/]*$/, '')}  (${g.cells.length} cells)`);
    return { cells: [], planned, groups: mine.length, computed: {}, reused: {}, seconds: (Date.now() - t0) / 1000 };
  }

  // The manifest is written first (unfinished) and again at the end.
  const manifest: Manifest = {
    schema: SWEEP_SCHEMA,
    title: cfg.title,
    configHash: configHash(cfg),
    config: cfg as unknown as Record<string, unknown>,
    versions: { tool: TOOL_VERSION, node: process.version, onnxruntime: runtimeVersion(), stages: STAGE_VERSION },
    git: gitRevision(),
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      os: `${os.platform()} ${os.release()}`,
      provider: cfg.provider,
    },
    shard: o.shard,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    models: [],
    datasets: [],
    cells: { planned, finished: 0 },
    timings: {},
  };
  const writeManifest = () => writeFileAtomic(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeManifest();
  // cells.jsonl is rebuilt by every run (from checkpoints where they exist): rows never mix runs.
  const cellsFile = join(out, 'cells.jsonl');
  writeFileSync(cellsFile, '');

  const models = new Map<string, ModelCtx>();
  const modelFor = async (label: string): Promise<ModelCtx> => {
    const have = models.get(label);
    if (have) return have;
    // One model in memory at a time (groups come model by model in plan order).
    for (const [l, m] of models) {
      for (const a of new Set([m.scorer, ...m.attributors.values()])) await a.close?.();
      models.delete(l);
    }
    const spec = cfg.models.find((m) => m.label === label)!;
    let dir: string;
    let description: string;
    if (spec.path === 'default') {
      const made = await makeDefaultModel(join(out, 'models', 'default'), { overwrite: true });
      dir = made.dir;
      description = made.description;
    } else if (spec.path === 'organism') {
      dir = ORGANISM_MODEL_DIR;
      description = 'the BBQ model organism: a small T5 trained by crispr-bench with a planted bias';
    } else {
      dir = configPath(o.baseDir, spec.path);
      if (!existsSync(dir)) throw new UserError(`models '${label}'.path: ${spec.path} does not exist`);
      description = `model folder ${spec.path}`;
    }
    progress.stage(`loading model '${label}'`);
    const folder = await loadModelFolder(dir, spec.variant ? { variant: spec.variant } : {});
    const hash = await hashFiles(dir, modelFiles(dir, folder.files));
    const scorer = folderAccess(folder, {
      attribution: { session: { provider: cfg.provider } },
      provider: cfg.provider,
      description,
      scoreWorkers: scoreWorkersFor(folder, cfg.provider),
      ...(spec.variant ? { variant: spec.variant } : {}),
    });
    const ctx: ModelCtx = {
      label,
      folder,
      hash,
      limit: contextLimit(folder.config),
      scorer,
      attributors: new Map(),
      attributions: new Map(),
      widths: Object.fromEntries(folder.sites.map((s) => [s.name, s.width])),
      data: new Map(),
      description,
    };
    models.set(label, ctx);
    if (!manifest.models.some((m) => m.label === label)) {
      manifest.models.push({ label, kind: folder.kind, sites: folder.sites.length, neurons: folder.sites.reduce((a, s) => a + s.width, 0), description });
    }
    return ctx;
  };
  const attributorFor = (m: ModelCtx, s: CrisprSettings): ModelAccess => {
    const key = `${s.objective}|${s.reduce}|${s.kinds}`;
    let a = m.attributors.get(key);
    if (!a) {
      const kinds =
        s.kinds === 'all' || s.kinds === 'ffn'
          ? s.kinds
          : s.kinds === 'attention'
            ? [...new Set(m.folder.sites.map((x) => x.kind).filter((k) => k.startsWith('attn_') || k.startsWith('cross_')))]
            : s.kinds.split(',');
      a = folderAccess(m.folder, {
        attribution: {
          objective: s.objective,
          reduce: s.reduce,
          kinds,
          maxBatch: cfg.batch,
          memoryLimitMiB: cfg.memoryMiB,
          session: { provider: cfg.provider },
        },
        provider: cfg.provider,
      });
      m.attributors.set(key, a);
    }
    return a;
  };

  const dataFor = async (m: ModelCtx, label: string): Promise<DataCtx> => {
    const have = m.data.get(label);
    if (have) return have;
    const spec = specs.get(label)!;
    const task = await taskFor(spec, m.folder.kind);
    const evaluated = instructionsOf(spec, task);
    const all = task.items.map((_, i) => i);
    let dev: number[] = [];
    let test = all;
    if (spec.role === 'bias') {
      const index = new Map(task.items.map((it, i) => [it, i]));
      const split = splitDevTest(task.items, { devFraction: spec.devFraction, seed: cfg.seed });
      dev = split.dev.map((i) => index.get(i)!);
      test = split.test.map((i) => index.get(i)!);
    }
    const notes: string[] = [];
    const prompts = new Map<string, Map<number, string>>();
    for (const { instr } of evaluated) {
      prompts.set(
        instr.id,
        fitPrompts(
          m.scorer,
          task.items,
          all,
          instr.id,
          (it) => task.prompt(it, instr),
          (it) => task.candidates(it),
          m.limit,
          spec.truncate,
          notes,
        ),
      );
    }
    for (const n of notes) progress.note(`${label}: ${n}`);
    const ctx: DataCtx = { spec, task, attribution: evaluated.filter((e) => e.use === 'attribution').map((e) => e.instr), evaluated, dev, test, prompts };
    m.data.set(label, ctx);
    if (!manifest.datasets.some((d) => d.label === label)) {
      manifest.datasets.push({
        label,
        kind: sourceKind(spec.source === 'organism' ? 'bbq' : spec.source),
        role: spec.role,
        items: task.items.length,
        metricInfo: task.metricInfo,
        description: task.description,
      });
    }
    return ctx;
  };

  const originalScores = new Map<string, { rows: number[][]; hash: string }>();
  /** log P(candidate | prompt) of `indices` under one instruction, with optional masks; cached by content. */
  const scores = async (
    m: ModelCtx,
    d: DataCtx,
    instr: Instruction,
    indices: number[],
    masks: { key: string; masks: Record<string, Float32Array> } | null,
    what: string,
    promptOf?: (i: number) => string,
  ): Promise<{ rows: number[][]; hash: string }> => {
    // The original model's scores of the test split are read by every group of a dataset: kept in
    // memory instead of re-read (and re-hashed) from their checkpoint for each group.
    const memoKey = !masks && !promptOf && indices === d.test ? `${m.label}|${d.spec.label}|${instr.id}` : null;
    const hit = memoKey ? originalScores.get(memoKey) : undefined;
    if (hit) return hit;
    const prompt = promptOf ?? ((i: number) => d.prompts.get(instr.id)!.get(i)!);
    const key = {
      model: m.hash,
      provider: cfg.provider,
      prompts: contentHash(indices.map((i) => [prompt(i), d.task.candidates(d.task.items[i]!)])),
      neurons: masks?.key ?? 'none',
    };
    const r = await stage('scores', key, async () => {
      progress.stage(`${m.label}: scoring ${what}, instruction '${instr.id}'`);
      const rows = await scoreInChunks(
        m.scorer,
        indices.map((i) => ({ prompt: prompt(i), candidates: d.task.candidates(d.task.items[i]!) })),
        masks?.masks,
        (done, total) => progress.step(done, total),
      );
      rows.forEach((lp, r) => {
        const bad = lp.findIndex((x) => !Number.isFinite(x));
        if (bad >= 0) {
          const item = d.task.items[indices[r]!]!;
          throw new NonFiniteError(
            `${m.label}, ${what}: log P(candidate ${bad} | item ${item.category}/${item.id}, instruction '${instr.id}') is ${lp[bad]}; stopped before saving (check the model with crispr inspect)`,
          );
        }
      });
      return rows;
    });
    const res = { rows: r.data, hash: r.hash };
    if (memoKey) originalScores.set(memoKey, res);
    return res;
  };

  const rankings = new Map<string, RankedNeuron[]>();
  /** CRISPR ranking of one variant on one bias dataset (steps 2-7 of DESIGN.md §5). */
  const rankingFor = async (m: ModelCtx, on: string, variant: string): Promise<RankedNeuron[]> => {
    const id = `${m.label}|${on}|${variant}`;
    const have = rankings.get(id);
    if (have) return have;
    const d = await dataFor(m, on);
    const settings = variantByLabel.get(variant)!;
    const access = attributorFor(m, settings);
    const perInstruction: Record<string, number[]>[][] = [];
    for (const [n, instr] of d.attribution.entries()) {
      progress.stage(`${m.label}: attributing on '${on}', variant ${variant}, instruction '${instr.id}' (${n + 1}/${d.attribution.length})`);
      const index = new Map(d.task.items.map((it, i) => [it, i]));
      const trials = await attributeInstruction({
        model: access,
        task: d.task,
        instruction: instr,
        devItems: d.dev.map((i) => d.task.items[i]!),
        promptOf: (item) => d.prompts.get(instr.id)!.get(index.get(item)!)!,
        settings: { ...settings, kinds: settings.kinds, instances: cfg.attribution.instances, trials: cfg.attribution.trials, seed: cfg.seed },
        baseKey: { model: m.hash, provider: cfg.provider },
        store: shared,
        stageName: (hash) => `stages/attribution/${hash}.json`,
        progress,
        onPlan: (line) => log(`${m.label} on ${on}: ${line}`),
        shared: m.attributions,
      });
      perInstruction.push(trials.map((t) => t.sum));
    }
    const b = meanOfVectors(perInstruction.map((trials) => meanOfVectors(trials)));
    checkSiteVectors(b, `averaging the bias scores of ${m.label} on '${on}' (${variant})`);
    const ranking = rankNeurons(b);
    rankings.set(id, ranking);
    const sites = new Map(m.folder.sites.map((s) => [s.name, s]));
    const file: RankingFile = {
      schema: SWEEP_SCHEMA,
      model: m.label,
      rankedOn: on,
      method: 'crispr',
      variant,
      settings: { ...settings },
      neurons: ranking
        .slice(0, 2000)
        .map((r) => ({ site: r.site, unit: r.unit, score: r.score, layer: sites.get(r.site)?.layer ?? -1, kind: sites.get(r.site)?.kind ?? '?' })),
    };
    writeFileAtomic(pathInside(out, `rankings/${m.label}/${on}/${fileStem('crispr', variant, null)}.json`), `${JSON.stringify(file)}\n`);
    return ranking;
  };
  const masksOf = (m: ModelCtx, ranking: RankedNeuron[], k: number) => ({ key: neuronSetHash(ranking, k), masks: masksForTopK(ranking, k, m.widths) });

  const autoKs = new Map<string, number>();
  /** k chosen by golden-section search of the task's selection criterion on the dev split. */
  const autoK = async (m: ModelCtx, on: string, variant: string): Promise<number> => {
    const id = `${m.label}|${on}|${variant}`;
    if (autoKs.has(id)) return autoKs.get(id)!;
    const ranking = await rankingFor(m, on, variant);
    const d = await dataFor(m, on);
    const kMax = Math.min(cfg.kSearch.kMax, ranking.length);
    const res = await goldenSectionK(async (k) => {
      const masks = k === 0 ? null : masksOf(m, ranking, k);
      const rows: ScoredOptions[] = [];
      for (const instr of d.attribution) {
        const s = await scores(m, d, instr, d.dev, masks, `the dev split of '${on}' with the top ${k} pruned (k search)`);
        rows.push(...d.dev.map((i, r) => ({ item: d.task.items[i]!, instruction: instr.id, logprobs: s.rows[r]! })));
      }
      return d.task.selection(rows);
    }, kMax);
    log(
      `${m.label} on ${on} (${variant}): k search chose ${res.best} (${d.task.selectionLabel} ${res.bestValue.toFixed(4)}; evaluated ${res.evaluated.map((e) => e.k).join(', ')})`,
    );
    autoKs.set(id, res.best);
    return res.best;
  };

  /** The calibration prior of every evaluated item (CC: "N/A"; DC: random in-domain words), under masks. */
  const calibrationPrior = async (
    m: ModelCtx,
    d: DataCtx,
    instr: Instruction,
    kind: 'cc' | 'dc',
    masks: { key: string; masks: Record<string, Float32Array> } | null,
  ): Promise<number[][]> => {
    const texts =
      kind === 'cc'
        ? [CONTENT_FREE]
        : drawDomainWords(
            d.task.items.map((it) => Object.values(it.fields).join(' ')),
            { count: cfg.methods.dc, seed: cfg.seed },
          );
    const priors: number[][][] = [];
    for (const [j, text] of texts.entries()) {
      const cfItems = d.task.items.map((it) => contentFreeItem(it, text));
      const fitted = fitPrompts(
        m.scorer,
        cfItems,
        d.test,
        instr.id,
        (it) => d.task.prompt(it, instr),
        (it) => d.task.candidates(it),
        m.limit,
        'left',
        [],
      );
      const s = await scores(
        m,
        d,
        instr,
        d.test,
        masks,
        `${kind === 'cc' ? 'the content-free input' : `domain words ${j + 1}/${texts.length}`} of '${d.spec.label}'`,
        (i) => fitted.get(i)!,
      );
      priors.push(s.rows.map((lp) => softmax(lp)));
    }
    return d.test.map((_, r) => averagePrior(priors.map((p) => p[r]!)));
  };

  /** Greedy answers of `indices` under one instruction and masks, matched to the options; cached by content. */
  const generated = async (
    m: ModelCtx,
    d: DataCtx,
    instr: Instruction,
    indices: number[],
    masks: { key: string; masks: Record<string, Float32Array> } | null,
    what: string,
  ): Promise<ScoredOptions[]> => {
    const prompt = (i: number) => d.prompts.get(instr.id)!.get(i)!;
    const maxNewTokens = d.spec.evaluation.maxNewTokens;
    const key = {
      model: m.hash,
      provider: cfg.provider,
      prompts: contentHash(indices.map(prompt)),
      neurons: masks?.key ?? 'none',
      maxNewTokens: String(maxNewTokens),
    };
    const r = await stage('generations', key, async () => {
      progress.stage(`${m.label}: generating answers on ${what}, instruction '${instr.id}'`);
      const texts: string[] = [];
      for (let off = 0; off < indices.length; off += SCORE_CHUNK) {
        const part = indices.slice(off, off + SCORE_CHUNK);
        texts.push(...(await generateGreedy(m.folder, part.map(prompt), { maxNewTokens, provider: cfg.provider, ...(masks ? { masks: masks.masks } : {}) })));
        progress.step(Math.min(off + SCORE_CHUNK, indices.length), indices.length);
      }
      return texts;
    });
    return indices.map((i, row) => {
      const item = d.task.items[i]!;
      const match = matchGeneration(r.data[row]!, { options: d.task.candidates(item).map((c) => c.trim()), unknownIndex: item.unknownIndex });
      return { item, instruction: instr.id, logprobs: [], pred: match.index };
    });
  };

  const metricKeys = (d: DataCtx) => d.task.metricInfo.map((x) => x.key);
  /** Metrics with bootstrap intervals, and the paired change against the original. Cached: statistics are their own stage. */
  const statistics = async (
    d: DataCtx,
    rows: ScoredOptions[],
    orig: ScoredOptions[] | null,
  ): Promise<{ metrics: Record<string, SweepMetricValue>; delta: Record<string, SweepMetricValue> | null }> => {
    const keys = metricKeys(d);
    const key = {
      rows: contentHash(rows.map((r) => [r.item.category, r.item.id, r.instruction, r.logprobs, r.pred ?? null])),
      original: orig ? contentHash(orig.map((r) => [r.item.category, r.item.id, r.instruction, r.logprobs, r.pred ?? null])) : 'none',
      metrics: d.task.name,
      bootstrap: String(cfg.bootstrap),
      seed: String(cfg.seed),
    };
    const r = await stage('statistics', key, async () => {
      const stat = (rs: ScoredOptions[]) => (idx: ArrayLike<number> | undefined) => d.task.metrics(rs, idx);
      const block = (iv: Record<string, { estimate: number | null; lo: number | null; hi: number | null }>) =>
        Object.fromEntries(keys.map((k) => [k, { value: iv[k]!.estimate, lo: iv[k]!.lo, hi: iv[k]!.hi }]));
      const metrics = block(bootstrap(rows.length, stat(rows), keys, { resamples: cfg.bootstrap, seed: cfg.seed }));
      const delta = orig ? block(bootstrapPaired(rows.length, stat(orig), stat(rows), keys, { resamples: cfg.bootstrap, seed: cfg.seed })) : null;
      return { metrics, delta };
    });
    return r.data;
  };

  const stores = shared === store ? [store] : [store, shared];
  const tally = (which: 'computed' | 'reused') => {
    const r: Record<string, number> = {};
    for (const st of stores) for (const [k, n] of Object.entries(st.counts[which])) r[k] = (r[k] ?? 0) + n;
    return r;
  };
  const computedCount = () => Object.values(tally('computed')).reduce((a, b) => a + b, 0);
  const cells: CellRow[] = [];
  const plannedCells = new Set(mine.flatMap((g) => g.cells.map((c) => c.id)));
  let doneGroups = 0;
  const tLoop = Date.now();
  for (const g of mine) {
    const tg = Date.now();
    const before = computedCount();
    const eta = doneGroups ? ` (ETA ${formatDuration((((Date.now() - tLoop) / doneGroups) * (mine.length - doneGroups)) / 1000)})` : '';
    progress.stage(`group ${++doneGroups}/${mine.length}${eta}: ${g.cells[0]!.id.replace(/\/[^/]*$/, '')}`);
    const m = await modelFor(g.model);
    const d = await dataFor(m, g.dataset);
    let k = g.k === 'auto' ? 0 : g.k;
    let masks: { key: string; masks: Record<string, Float32Array> } | null = null;
    if (g.method !== 'original' && g.method !== 'cc' && g.method !== 'dc') {
      const on = g.rankedOn!;
      // Random pruning and CRISPR + calibration take the k the default variant chose.
      if (g.k === 'auto') k = await autoK(m, on, g.method === 'crispr' ? g.variant : 'default');
      const ranking = g.method === 'random' ? randomRanking(m.widths, cfg.seed + 17) : await rankingFor(m, on, g.method === 'crispr' ? g.variant : 'default');
      masks = k === 0 ? null : masksOf(m, ranking, k);
    }
    const calibration: 'cc' | 'dc' | null = g.method === 'cc' || g.method === 'crispr+cc' ? 'cc' : g.method === 'dc' || g.method === 'crispr+dc' ? 'dc' : null;
    const perInstr = new Map<string, { rows: ScoredOptions[]; orig: ScoredOptions[] }>();
    const predictions: PredictionRow[] = [];
    for (const { instr } of d.evaluated) {
      const what = g.method === 'original' ? `'${g.dataset}' (original model)` : `'${g.dataset}' with ${g.method} top ${k} pruned`;
      let rows: ScoredOptions[];
      let origRows: ScoredOptions[];
      if (d.spec.evaluation.mode === 'generate') {
        origRows = await generated(m, d, instr, d.test, null, `'${g.dataset}' (original model)`);
        rows = masks ? await generated(m, d, instr, d.test, masks, what) : origRows;
      } else {
        const orig = await scores(m, d, instr, d.test, null, `'${g.dataset}' (original model)`);
        const s = masks ? await scores(m, d, instr, d.test, masks, what) : orig;
        let lps = s.rows;
        if (calibration) {
          const prior = await calibrationPrior(m, d, instr, calibration, masks);
          // The judges' calibration (DC's prior is already the average of its priors).
          lps = lps.map((lp, r) => contextualCalibration(softmax(lp), prior[r]!).probs.map(Math.log));
        }
        rows = d.test.map((i, r) => ({ item: d.task.items[i]!, instruction: instr.id, logprobs: lps[r]! }));
        origRows = d.test.map((i, r) => ({ item: d.task.items[i]!, instruction: instr.id, logprobs: orig.rows[r]! }));
      }
      perInstr.set(instr.id, { rows, orig: origRows });
      for (const r of rows) predictions.push(predictionOf(r));
    }
    const predFile = `predictions/${g.model}/${g.dataset}/${fileStem(g.method, g.variant, g.rankedOn)}-k${g.k}.jsonl`;
    writeFileAtomic(pathInside(out, predFile), `${predictions.map((p) => JSON.stringify(p)).join('\n')}\n`);
    const groupComputed = computedCount() > before;
    const rowsOfCells: CellRow[] = [];
    for (const c of g.cells) {
      const part = c.instruction === '*' ? [...perInstr.values()] : [perInstr.get(c.instruction)!];
      const rows = part.flatMap((p) => p.rows);
      const orig = part.flatMap((p) => p.orig);
      const st = await statistics(d, rows, g.method === 'original' ? null : orig);
      rowsOfCells.push({
        schema: SWEEP_SCHEMA,
        index: c.index,
        id: c.id,
        model: g.model,
        method: g.method,
        variant: g.variant,
        rankedOn: g.rankedOn,
        k,
        kAuto: g.k === 'auto',
        dataset: g.dataset,
        role: d.spec.role,
        instruction: c.instruction,
        instructionUse: c.use,
        n: rows.length,
        ...(d.spec.evaluation.mode === 'generate' ? { unmatched: rows.filter((r) => r.pred === null).length } : {}),
        metrics: st.metrics,
        delta: st.delta,
        predictions: predFile,
        timing: { seconds: 0, computed: groupComputed },
      });
    }
    const seconds = (Date.now() - tg) / 1000;
    for (const row of rowsOfCells) {
      row.timing.seconds = Math.round((seconds / rowsOfCells.length) * 1000) / 1000;
      // One flushed line per cell: a crash loses at most the group in progress.
      appendFileSync(cellsFile, `${JSON.stringify(row)}\n`);
      cells.push(row);
    }
    manifest.cells.finished = cells.length;
    writeManifest();
  }
  for (const m of models.values()) for (const a of new Set([m.scorer, ...m.attributors.values()])) await a.close?.();
  await releaseGenerationSessions();

  if (cells.length !== plannedCells.size) throw new Error(`internal: ${cells.length} cells written, ${plannedCells.size} planned`);
  writeResultsCsv(join(out, 'results.csv'), cells, manifest);
  manifest.finishedAt = new Date().toISOString();
  manifest.timings = { total: (Date.now() - t0) / 1000 };
  writeManifest();
  const count = (r: Record<string, number>) =>
    Object.entries(r)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'nothing';
  const computed = tally('computed');
  const reused = tally('reused');
  log(`computed: ${count(computed)}; reused: ${count(reused)}`);
  return { cells, planned, groups: mine.length, computed, reused, seconds: (Date.now() - t0) / 1000 };
}

/** A file name part for a method (labels are checked by the config schema to be file-safe). */
function fileStem(method: string, variant: string, rankedOn: string | null): string {
  const v = variant.replace(/[^A-Za-z0-9._+-]/g, '-');
  return `${method}${v ? `-${v}` : ''}${rankedOn ? `-on-${rankedOn}` : ''}`;
}

function predictionOf(r: ScoredOptions): PredictionRow {
  const it = r.item;
  return {
    id: it.id,
    category: it.category,
    instruction: r.instruction,
    options: it.options.length,
    label: it.label,
    unknownIndex: it.unknownIndex,
    targetIndex: it.targetIndex,
    polarity: it.polarity,
    condition: it.condition,
    scores: r.logprobs,
    pred: r.pred !== undefined ? r.pred : argmax(r.logprobs),
  };
}
