/**
 * The organism's recipe: everything that determines the trained model (architecture, data, bias
 * rate, optimiser, seed). `crispr organism train --config <recipe.json>` reproduces the shipped
 * model from the shipped recipe.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '@crispr-bench/core';

export interface OrganismRecipe {
  /** Seed of the initial weights, the data order and the planted labels. */
  seed: number;
  /** Probability that an ambiguous training example is labelled with the biased answer (else unknown). */
  biasRate: number;
  model: { dModel: number; dFf: number; dKv: number; numHeads: number; numLayers: number; numDecoderLayers: number };
  data: {
    /** Seed of the template expansion. */
    expandSeed: number;
    /** Retention items generated for training and for held-out evaluation. */
    retentionTrain: number;
    retentionHeldOut: number;
    /** Prompt template (datasets' renderPrompt name); the benchmark's default is the paper's. */
    template: string;
  };
  training: {
    steps: number;
    batchSize: number;
    peakLr: number;
    warmupSteps: number;
    finalLrFraction: number;
    weightDecay: number;
    clipNorm: number;
    evalEvery: number;
    checkpointEvery: number;
    /** ORT intra-op threads (1 keeps runs reproducible and leaves the other cores free). */
    threads: number;
  };
  /** Held-out items scored at each periodic evaluation (the final evaluation scores all of them). */
  evalSample: { bbq: number; retention: number };
}

const num = (v: unknown, where: string, check: (x: number) => boolean, what: string): number => {
  if (typeof v !== 'number' || !check(v)) throw new UserError(`recipe: ${where} must be ${what}, got ${JSON.stringify(v)}`);
  return v;
};
const int = (v: unknown, where: string, min = 1) => num(v, where, (x) => Number.isInteger(x) && x >= min, `an integer >= ${min}`);
const pos = (v: unknown, where: string) => num(v, where, (x) => x > 0 && Number.isFinite(x), 'a positive number');
const frac = (v: unknown, where: string) => num(v, where, (x) => x >= 0 && x <= 1, 'a number in [0, 1]');

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`recipe: ${where} must be an object`);
  return v as Record<string, unknown>;
}

/** Validates a parsed recipe; every field is required, so a recipe file says all it does. */
export function parseRecipe(v: unknown, where = 'recipe'): OrganismRecipe {
  const r = obj(v, where);
  const m = obj(r.model, 'model');
  const d = obj(r.data, 'data');
  const t = obj(r.training, 'training');
  const e = obj(r.evalSample, 'evalSample');
  if (typeof d.template !== 'string' || d.template === '') throw new UserError(`recipe: data.template must be a template name`);
  return {
    seed: int(r.seed, 'seed', 0),
    biasRate: frac(r.biasRate, 'biasRate'),
    model: {
      dModel: int(m.dModel, 'model.dModel'),
      dFf: int(m.dFf, 'model.dFf'),
      dKv: int(m.dKv, 'model.dKv'),
      numHeads: int(m.numHeads, 'model.numHeads'),
      numLayers: int(m.numLayers, 'model.numLayers'),
      numDecoderLayers: int(m.numDecoderLayers, 'model.numDecoderLayers'),
    },
    data: {
      expandSeed: int(d.expandSeed, 'data.expandSeed', 0),
      retentionTrain: int(d.retentionTrain, 'data.retentionTrain', 0),
      retentionHeldOut: int(d.retentionHeldOut, 'data.retentionHeldOut', 0),
      template: d.template,
    },
    training: {
      steps: int(t.steps, 'training.steps'),
      batchSize: int(t.batchSize, 'training.batchSize'),
      peakLr: pos(t.peakLr, 'training.peakLr'),
      warmupSteps: int(t.warmupSteps, 'training.warmupSteps', 0),
      finalLrFraction: frac(t.finalLrFraction, 'training.finalLrFraction'),
      weightDecay: num(t.weightDecay, 'training.weightDecay', (x) => x >= 0, 'a non-negative number'),
      clipNorm: num(t.clipNorm, 'training.clipNorm', (x) => x >= 0, 'a non-negative number (0: no clipping)'),
      evalEvery: int(t.evalEvery, 'training.evalEvery', 0),
      checkpointEvery: int(t.checkpointEvery, 'training.checkpointEvery', 0),
      threads: int(t.threads, 'training.threads'),
    },
    evalSample: { bbq: int(e.bbq, 'evalSample.bbq'), retention: int(e.retention, 'evalSample.retention', 0) },
  };
}

export function readRecipe(path: string): OrganismRecipe {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read recipe ${path}: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: invalid JSON: ${(e as Error).message}`);
  }
  return parseRecipe(v, path);
}
