/**
 * `crispr organism train --config <recipe.json>`: trains the model organism (see organism/train.ts) and
 * writes its model folder with the model card. The shipped model is
 * packages/bench/src/organism/model, trained from packages/bench/src/organism/recipe.json.
 */
import { basename, resolve } from 'node:path';
import {
  consoleIO,
  defineCommand,
  intOption,
  optionSpecs,
  parseCommandLine,
  requiredOption,
  runSubcommand,
  type CliCommand,
  type CliIO,
} from '@crispr-bench/core/cli';
import { readRecipe } from '../../organism/recipe.js';
import { trainOrganism } from '../../organism/train.js';

const TRAIN_USAGE = `usage: crispr organism train --config <recipe.json> [--out <dir>] [--state <dir>] [--fresh]

Train the BBQ model organism (a small T5 with a planted bias) with crispr-bench's own trainer and
write a model folder (ONNX in the transformers.js layout, word-level tokenizer, README.md model
card with the training curve and held-out metrics).

  --config <file>   the recipe (the shipped one: packages/bench/src/organism/recipe.json)
  --out <dir>       model folder to write (default runs/organism)
  --state <dir>     trainer state, for resuming (default .crispr-cache/organism-state/<out name>)
  --fresh           ignore an earlier state and start from step 0
  --until <step>    stop after this step (the state is kept; run again to resume)`;

const USAGE = `usage: crispr organism <subcommand> [options]

The BBQ model organism: a small T5 with a planted bias, trained by crispr-bench itself.

subcommands:
  train   train it from a recipe and write its model folder (crispr organism train --help)`;

function duration(s: number): string {
  return s >= 90 ? `${Math.round(s / 60)}m` : `${Math.round(s)}s`;
}

async function organismTrain(argv: string[], io: CliIO): Promise<number> {
  const v = parseCommandLine(argv, optionSpecs(['config', 'out', 'state', 'until'], ['fresh']), TRAIN_USAGE).values;
  const config = requiredOption('config', v.config, '<recipe.json>', TRAIN_USAGE);
  const until = intOption('until', v.until, { min: 1 });
  const recipe = readRecipe(config);
  const out = resolve(v.out ?? 'runs/organism');
  const state = resolve(v.state ?? `.crispr-cache/organism-state/${basename(out)}`);
  const res = await trainOrganism(recipe, out, {
    stateDir: state,
    ...(v.fresh ? { fresh: true } : {}),
    ...(until !== undefined ? { until } : {}),
    log: (l) => io.err(l),
    onProgress: (p) => {
      const eta = (p.steps - p.step) / Math.max(p.stepsPerSecond, 1e-9);
      io.err(
        `step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)} (mean ${p.meanLoss.toFixed(4)})  lr ${p.lr.toExponential(2)}  |g| ${p.gradNorm.toFixed(2)}  ${p.stepsPerSecond.toFixed(2)} steps/s  ${Math.round(p.tokensPerSecond)} tokens/s  eta ${duration(eta)}`,
      );
    },
    onEval: (e) =>
      io.err(
        `eval @${e.step}: ${Object.entries(e.metrics)
          .map(([k, x]) => `${k} ${x.toFixed(3)}`)
          .join('  ')}`,
      ),
  });
  const h = res.heldOut;
  io.out(`${res.finished ? 'trained' : `stopped at step ${res.history.length}`}: ${res.dir}`);
  io.out(
    `held-out templates + instructions: ambiguous acc ${h.accuracyAmbig?.toFixed(3)}, disambiguated acc ${h.accuracyDisambig?.toFixed(3)}, s_AMB ${h.biasAmbig?.toFixed(3)}, mean P(biased | ambiguous) ${h.pBiasedAmbig?.toFixed(3)}, retention acc ${h.retentionAccuracy?.toFixed(3)}`,
  );
  return 0;
}

export const organismTrainCommand: CliCommand = defineCommand({
  name: 'train',
  summary: 'train the model organism from a recipe and write its model folder',
  usage: TRAIN_USAGE,
  run: (argv, io = consoleIO) => organismTrain(argv, io),
});

export const organismCommand: CliCommand = defineCommand({
  name: 'organism',
  summary: 'train the BBQ model organism (a small T5 with a planted bias) with our own trainer',
  usage: USAGE,
  subcommands: [organismTrainCommand],
  run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    return runSubcommand(organismCommand, argv, io);
  },
});
