/**
 * `crispr organism train --config <recipe.json>`: trains the model organism (see train.ts) and
 * writes its model folder with the model card. The shipped model is
 * packages/bench/src/organism/model, trained from packages/bench/src/organism/recipe.json.
 */
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UserError, consoleIO, type CliCommand, type CliIO } from '@crispr-bench/core';
import { readRecipe } from './recipe.js';
import { trainOrganism } from './train.js';

const USAGE = `usage: crispr organism train --config <recipe.json> [--out <dir>] [--state <dir>] [--fresh]

Train the BBQ model organism (a small T5 with a planted bias) with crispr-bench's own trainer and
write a model folder (ONNX in the transformers.js layout, word-level tokenizer, README.md model
card with the training curve and held-out metrics).

  --config <file>   the recipe (the shipped one: packages/bench/src/organism/recipe.json)
  --out <dir>       model folder to write (default runs/organism)
  --state <dir>     trainer state, for resuming (default .crispr-cache/organism-state/<out name>)
  --fresh           ignore an earlier state and start from step 0
  --until <step>    stop after this step (the state is kept; run again to resume)`;

function duration(s: number): string {
  return s >= 90 ? `${Math.round(s / 60)}m` : `${Math.round(s)}s`;
}

export async function organismTrain(argv: string[], io: CliIO): Promise<number> {
  let v: { config?: string; out?: string; state?: string; fresh?: boolean; until?: string };
  try {
    v = parseArgs({ args: argv, strict: true, options: { config: { type: 'string' }, out: { type: 'string' }, state: { type: 'string' }, fresh: { type: 'boolean' }, until: { type: 'string' } } }).values;
  } catch (e) {
    throw new UserError(`${(e as Error).message}\n\n${USAGE}`);
  }
  if (!v.config) throw new UserError(`--config is required\n\n${USAGE}`);
  const recipe = readRecipe(v.config);
  const out = resolve(v.out ?? 'runs/organism');
  const state = resolve(v.state ?? `.crispr-cache/organism-state/${basename(out)}`);
  const until = v.until === undefined ? undefined : Number(v.until);
  if (until !== undefined && !(Number.isInteger(until) && until > 0)) throw new UserError(`--until must be a positive integer, got '${v.until}'`);
  const res = await trainOrganism(recipe, out, {
    stateDir: state,
    ...(v.fresh ? { fresh: true } : {}),
    ...(until !== undefined ? { until } : {}),
    log: (l) => io.err(l),
    onProgress: (p) => {
      const eta = (p.steps - p.step) / Math.max(p.stepsPerSecond, 1e-9);
      io.err(`step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)} (mean ${p.meanLoss.toFixed(4)})  lr ${p.lr.toExponential(2)}  |g| ${p.gradNorm.toFixed(2)}  ${p.stepsPerSecond.toFixed(2)} steps/s  ${Math.round(p.tokensPerSecond)} tokens/s  eta ${duration(eta)}`);
    },
    onEval: (e) => io.err(`eval @${e.step}: ${Object.entries(e.metrics).map(([k, x]) => `${k} ${x.toFixed(3)}`).join('  ')}`),
  });
  const h = res.heldOut;
  io.out(`${res.finished ? 'trained' : `stopped at step ${res.history.length}`}: ${res.dir}`);
  io.out(`held-out templates + instructions: ambiguous acc ${h.accuracy_ambig?.toFixed(3)}, disambiguated acc ${h.accuracy_disambig?.toFixed(3)}, s_AMB ${h.bias_ambig?.toFixed(3)}, mean P(biased | ambiguous) ${h.p_biased_ambig?.toFixed(3)}, retention acc ${h.retention_accuracy?.toFixed(3)}`);
  return 0;
}

export const organismCommand: CliCommand = {
  name: 'organism',
  summary: 'train the BBQ model organism (a small T5 with a planted bias) with our own trainer',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === 'train') return organismTrain(rest, io);
    if (sub === undefined || sub === '--help' || sub === '-h') {
      io.out(USAGE);
      return sub === undefined ? 2 : 0;
    }
    throw new UserError(`unknown organism subcommand '${sub}'\n\n${USAGE}`);
  },
};
