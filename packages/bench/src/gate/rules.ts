/**
 * Gate rules (`crispr gate --rules gate.yaml`): per-metric thresholds and directions, the
 * bootstrap settings, and which config keys may differ between the baseline and the candidate.
 * Parsed with `yaml`, validated with `zod`; unknown keys are errors (a typo must not silently
 * leave a metric ungated).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { UsageError } from '@crispr-bench/core';

const better = z.enum(['higher', 'lower', 'zero']);
const metricRule = z
  .object({
    /** How far the metric may move the wrong way before the gate can fail (in the metric's units). */
    threshold: z.number().nonnegative().optional(),
    /** Which way is better; defaults to the dataset's metric definition in the manifest. */
    better: better.optional(),
    /** false: the metric is reported but never fails the gate. */
    gate: z.boolean().optional(),
  })
  .strict();

export const gateRulesSchema = z
  .object({
    /** Threshold for metrics with no rule of their own. */
    threshold: z.number().nonnegative().default(0.02),
    metrics: z.record(z.string(), metricRule).default({}),
    bootstrap: z
      .object({
        resamples: z.number().int().positive().default(1000),
        seed: z.number().int().default(0),
        level: z.number().gt(0).lt(1).default(0.95),
      })
      .strict()
      .default({ resamples: 1000, seed: 0, level: 0.95 }),
    /** Which cells to gate: every instruction's cell, or only those standing for all instructions (pooled '*', or a single instruction). */
    instructions: z.enum(['all', 'pooled']).default('all'),
    /** Top-level config keys allowed to differ (e.g. the model path when the candidate is a new export); title and out always may. */
    ignoreConfig: z.array(z.string()).default([]),
  })
  .strict();
export type GateRules = z.infer<typeof gateRulesSchema>;

/**
 * Defaults: bias scores may grow by 0.02 in distance from 0 and accuracies may fall by 0.02,
 * retention included (its accuracy is a metric of the retention dataset); the unmatched rate of
 * generation judging may rise by 0.02.
 */
export const DEFAULT_RULES: GateRules = gateRulesSchema.parse({});

/** The direction a metric has when neither the manifest nor the rules say. */
export function defaultBetter(key: string): 'higher' | 'lower' | 'zero' {
  if (key.startsWith('bias_') || key.startsWith('stereotype_')) return 'zero';
  if (key === 'unmatched' || key.endsWith('_loss')) return 'lower';
  return 'higher';
}

export function parseRules(text: string, where: string): GateRules {
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (e) {
    throw new UsageError(`${where}: not valid YAML: ${(e as Error).message}`);
  }
  const r = gateRulesSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
    throw new UsageError(`${where}: ${path}: ${issue.message}`);
  }
  return r.data;
}

export function loadRules(file: string | undefined): GateRules {
  if (file === undefined) return DEFAULT_RULES;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--rules: cannot read ${file}: ${(e as Error).message}`);
  }
  return parseRules(text, file);
}
