/**
 * The sweep config (`crispr sweep <config.yaml>`): models x datasets x instruction sets x methods
 * and ablation variants x k. Read with the `yaml` package and checked with zod, so that a bad
 * config is refused before anything runs, with the key path, the value found and the form
 * expected. Paths inside the config are relative to the config file.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DEFAULT_ATTRIBUTION_BATCH, UserError } from '@crispr-bench/core';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';

const label = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'a label: letters, digits, . _ + - (it names files and cells)');

const model = z.strictObject({
  label,
  /** default (the embedded pronoun model), organism (the trained BBQ organism) or a model folder. */
  path: z.string().min(1),
  /** transformers.js variant of the folder's ONNX files (fp16, ...); default fp32. */
  variant: z.string().optional(),
  /** Labels of the datasets this model runs on (default: every dataset). */
  datasets: z.array(label).nonempty().optional(),
});

const instructions = z.strictObject({
  /** paper | own | <instruction file> (ignored by the pronoun set and the organism, which bring their own). */
  set: z.string().default('paper'),
  /**
   * How many of the set's instructions (in order) are used for attribution; the rest are held
   * out, evaluated only (the paper's robustness claim). Default: all of them.
   */
  attribution: z.number().int().positive().optional(),
});

const dataset = z.strictObject({
  label,
  /** pronoun | organism | bbq:<file or folder> | mc:<generic multiple-choice .jsonl> */
  source: z.string().regex(/^(pronoun|organism|bbq:.+|mc:.+)$/, 'pronoun, organism, bbq:<file or folder> or mc:<file.jsonl>'),
  /** bias: attributed on and evaluated; eval: evaluated under every ranking; retention: the same, reported as retention. */
  role: z.enum(['bias', 'eval', 'retention']).default('bias'),
  categories: z.array(z.string()).optional(),
  maxItems: z.number().int().positive().optional(),
  /** Share of a bias dataset's items used for attribution and the k search (dev); the rest is evaluated. */
  devFraction: z.number().gt(0).lt(1).default(0.5),
  template: z.string().optional(),
  instructions: instructions.default({ set: 'paper' }),
  /**
   * How answers are judged: score (the likelihood of each option, default) or generate (greedy
   * generation, matched to the options by the generation judge; unmatched answers are counted).
   */
  evaluation: z
    .strictObject({ mode: z.enum(['score', 'generate']).default('score'), maxNewTokens: z.number().int().positive().default(16) })
    .default({ mode: 'score', maxNewTokens: 16 }),
  /** A prompt + answer longer than the model's context: error (default), or cut the prompt's left or right. */
  truncate: z.enum(['error', 'left', 'right']).default('error'),
});

/** One CRISPR ablation: the paper's defaults with some settings changed. */
const variant = z.strictObject({
  objective: z.enum(['logprob', 'prob']).optional(),
  reduce: z.enum(['max', 'mean']).optional(),
  skill: z.boolean().optional(),
  lambda: z.number().nonnegative().optional(),
  confusionWeight: z.boolean().optional(),
  kinds: z.union([z.enum(['all', 'ffn', 'attention']), z.array(z.string()).nonempty()]).optional(),
});

const methods = z.strictObject({
  /** CRISPR ablation variants besides the paper's default ('default' is always run). */
  variants: z.array(z.union([z.literal('default'), variant])).default(['default']),
  random: z.boolean().default(true),
  cc: z.boolean().default(false),
  /** DC: how many random in-domain word strings make the prior (Fei et al. use 20); 0 = off. */
  dc: z.number().int().nonnegative().default(0),
  /** CRISPR (default variant) with a calibration baseline applied on top. */
  combined: z.array(z.enum(['cc', 'dc'])).default([]),
});

export const sweepConfigSchema = z.strictObject({
  title: z.string().default('crispr sweep'),
  /** Results folder (relative to the config file); --out overrides it. */
  out: z.string().optional(),
  models: z.array(model).nonempty(),
  datasets: z.array(dataset).nonempty(),
  methods: methods.default({ variants: ['default'], random: true, cc: false, dc: 0, combined: [] }),
  /** Numbers of pruned neurons; 'auto' chooses k on the dev split by golden-section search. */
  k: z
    .array(z.union([z.number().int().nonnegative(), z.literal('auto')]))
    .nonempty()
    .default([0, 1, 2, 4, 8, 16, 32]),
  kSearch: z.strictObject({ kMax: z.number().int().positive().default(64) }).default({ kMax: 64 }),
  /** Rank on `from`, evaluate on each of `to` (bias datasets always evaluate their own ranking). */
  transfer: z.array(z.strictObject({ from: label, to: z.array(label).nonempty() })).default([]),
  attribution: z
    .strictObject({ instances: z.number().int().positive().default(20), trials: z.number().int().positive().default(3) })
    .default({ instances: 20, trials: 3 }),
  bootstrap: z.number().int().positive().default(1000),
  seed: z.number().int().nonnegative().default(0),
  provider: z.enum(['cpu', 'cuda', 'webgpu']).default('cpu'),
  batch: z.number().int().positive().default(DEFAULT_ATTRIBUTION_BATCH),
  memoryMiB: z.number().int().positive().default(2048),
});

export type SweepConfig = z.infer<typeof sweepConfigSchema>;
export type ModelSpec = SweepConfig['models'][number];
export type DatasetSpec = SweepConfig['datasets'][number];
export type VariantSpec = z.infer<typeof variant>;

/** The CRISPR settings of a variant, defaults filled in (DESIGN.md §5). */
export interface CrisprSettings {
  objective: 'logprob' | 'prob';
  reduce: 'max' | 'mean';
  skill: boolean;
  lambda: number;
  confusionWeight: boolean;
  kinds: string;
}

export const PAPER_DEFAULT: CrisprSettings = { objective: 'logprob', reduce: 'max', skill: true, lambda: 1, confusionWeight: true, kinds: 'all' };

/** A variant's settings and its label ('default', 'reduce=mean', 'skill=off+lambda=0.5', ...). */
export function resolveVariant(v: 'default' | VariantSpec): { label: string; settings: CrisprSettings } {
  if (v === 'default') return { label: 'default', settings: PAPER_DEFAULT };
  const kinds = v.kinds === undefined ? undefined : Array.isArray(v.kinds) ? v.kinds.join(',') : v.kinds;
  const { kinds: _k, ...rest } = v;
  const settings: CrisprSettings = { ...PAPER_DEFAULT, ...rest, ...(kinds !== undefined ? { kinds } : {}) };
  const parts: string[] = [];
  for (const key of Object.keys(PAPER_DEFAULT) as (keyof CrisprSettings)[]) {
    if (settings[key] === PAPER_DEFAULT[key]) continue;
    const val = settings[key];
    parts.push(`${key}=${typeof val === 'boolean' ? (val ? 'on' : 'off') : String(val)}`);
  }
  return { label: parts.length ? parts.join('+') : 'default', settings };
}

/** `items[3].role` style path of a zod issue. */
function issuePath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(top level)';
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = doc;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** Checks a parsed config; errors name the key path, the value and the expected form. */
export function parseSweepConfig(doc: unknown, file: string): SweepConfig {
  const r = sweepConfigSchema.safeParse(doc);
  if (!r.success) {
    const lines = r.error.issues.slice(0, 8).map((iss) => {
      const v = valueAt(doc, iss.path);
      const shown = v === undefined ? 'missing' : JSON.stringify(v);
      return `  ${issuePath(iss.path)}: ${iss.message} (found ${shown && shown.length > 80 ? `${shown.slice(0, 77)}...` : shown})`;
    });
    throw new UserError(`${file}: invalid sweep config\n${lines.join('\n')}`);
  }
  const cfg = r.data;
  const labels = new Set<string>();
  for (const [kind, list] of [
    ['models', cfg.models],
    ['datasets', cfg.datasets],
  ] as const) {
    for (const [i, x] of list.entries()) {
      if (labels.has(`${kind}:${x.label}`)) throw new UserError(`${file}: ${kind}[${i}].label: '${x.label}' is used twice (labels name cells and files)`);
      labels.add(`${kind}:${x.label}`);
    }
  }
  const byLabel = new Map(cfg.datasets.map((d) => [d.label, d]));
  cfg.transfer.forEach((t, i) => {
    const from = byLabel.get(t.from);
    if (!from) throw new UserError(`${file}: transfer[${i}].from: no dataset labelled '${t.from}' (datasets: ${[...byLabel.keys()].join(', ')})`);
    if (from.role !== 'bias') throw new UserError(`${file}: transfer[${i}].from: '${t.from}' has role ${from.role}; rankings come from bias datasets`);
    t.to.forEach((to, j) => {
      if (!byLabel.has(to)) throw new UserError(`${file}: transfer[${i}].to[${j}]: no dataset labelled '${to}' (datasets: ${[...byLabel.keys()].join(', ')})`);
    });
  });
  cfg.models.forEach((m, i) =>
    m.datasets?.forEach((d, j) => {
      if (!byLabel.has(d))
        throw new UserError(`${file}: models[${i}].datasets[${j}]: no dataset labelled '${d}' (datasets: ${[...byLabel.keys()].join(', ')})`);
    }),
  );
  cfg.datasets.forEach((d, i) => {
    if (d.evaluation.mode === 'generate' && d.source === 'pronoun')
      throw new UserError(
        `${file}: datasets[${i}].evaluation.mode: the pronoun set's frames have no answer to generate; it is scored by option likelihood only`,
      );
  });
  if (!cfg.datasets.some((d) => d.role === 'bias'))
    throw new UserError(`${file}: datasets: at least one dataset needs role bias (rankings are attributed on it)`);
  return cfg;
}

/** Reads a YAML sweep config; relative paths inside it become relative to its folder. */
export function loadSweepConfig(file: string): { config: SweepConfig; baseDir: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot read the sweep config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    if (e instanceof YAMLParseError) throw new UserError(`${file}: not valid YAML: ${e.message}`);
    throw e;
  }
  return { config: parseSweepConfig(doc, file), baseDir: dirname(resolve(file)) };
}

/** A path from the config, resolved against the config's folder. */
export function configPath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}
