/**
 * `crispr gate --baseline <results> --candidate <results> [--rules gate.yaml]`: the CI regression
 * gate over two sweep results folders. Exit 0: no regression; 1: a regression; 2: bad usage or
 * inputs that cannot be compared (said plainly).
 */
import { writeFileSync } from 'node:fs';
import {
  choiceOption,
  consoleIO,
  defineCommand,
  optionSpecs,
  parseCommandLine,
  UsageError,
  UserError,
  type CliCommand,
  type CliIO,
} from '@crispr-bench/core/cli';
import { compareFolders } from '../../gate/compare.js';
import { gateMarkdown } from '../../gate/format.js';
import { IncomparableError } from '../../gate/errors.js';
import { loadRules } from '../../gate/rules.js';

const USAGE = `usage: crispr gate --baseline <results> --candidate <results> [--rules <gate.yaml>] [options]

Compares two sweep results folders (crispr sweep) cell by cell (model, method, variant, ranking,
k, dataset, instruction): bias scores, accuracies and retention are recomputed from each folder's
per-item predictions, and a metric fails when it moves the wrong way by more than its threshold
and the paired 95% bootstrap interval of the move (the same items resampled in both) excludes 0.
Prints a markdown table; exit 0 pass, 1 regression, 2 bad usage or incomparable inputs
(different items or configs).

  --baseline <dir>     the reference results folder (e.g. from the main branch)
  --candidate <dir>    the results folder to check
  --rules <file>       YAML: threshold (default 0.02), metrics.<key>.{threshold, better, gate},
                       bootstrap.{resamples, seed, level}, instructions (all | pooled),
                       ignoreConfig (config keys allowed to differ)
  --show <rows>        passed rows to list: pooled (default), all, failed (failures always listed)
  --out <file.md>      also write the markdown to a file (e.g. for a pull-request comment)
`;

export const gateCommand: CliCommand = defineCommand({
  name: 'gate',
  summary: 'regression gate for CI: compare a candidate sweep folder against a baseline',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values, positionals } = parseCommandLine(argv, optionSpecs(['baseline', 'candidate', 'rules', 'show', 'out']), USAGE, true);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'\n\n${USAGE}`);
    if (!values.baseline || !values.candidate) throw new UsageError(`--baseline and --candidate are required\n\n${USAGE}`);
    const show = choiceOption('show', values.show, ['pooled', 'all', 'failed'] as const, 'pooled');
    const rules = loadRules(values.rules);
    let result: ReturnType<typeof compareFolders>;
    try {
      result = compareFolders(values.baseline, values.candidate, rules);
    } catch (e) {
      if (e instanceof IncomparableError) {
        // Said here rather than through the generic usage hint: the inputs, not the flags, are at fault.
        io.err(`crispr gate: cannot compare: ${e.message}`);
        return 2;
      }
      throw e;
    }
    const text = gateMarkdown(result, show);
    io.out(text);
    if (values.out) {
      try {
        writeFileSync(values.out, `${text}\n`);
      } catch (e) {
        throw new UserError(`--out: cannot write ${values.out}: ${(e as Error).message}`);
      }
    }
    return result.failed.length ? 1 : 0;
  },
});
