/** `crispr prune`: a model folder with the top-k ranked neurons zeroed. */
import { existsSync } from 'node:fs';
import { UserError, consoleIO, defineCommand, optionSpecs, parseCommandLine, type CliCommand, type CliIO } from '../types/cli.js';
import { pruneFolder, readRanking } from '../models/prune.js';
import { intOption, requiredOption } from '../types/cli-options.js';

const PRUNE_USAGE = `usage: crispr prune --model <dir> --neurons <ranking.json> --k <n> --out <dir>

Write a copy of the model folder with the top k neurons of the ranking zeroed (their weight
columns and biases), loadable by @huggingface/transformers like the source.

ranking.json: { "neurons": [ { "site": "<site name>", "unit": 12, "score": 0.3 }, ... ] },
best first (a bare array of such objects is accepted too).

options:
  --model <dir>         source model folder
  --neurons <file>      ranking file
  --k <n>               number of neurons to prune (the first n of the ranking)
  --out <dir>           output folder (must not be the source)`;

export const pruneCommand: CliCommand = defineCommand({
  name: 'prune',
  summary: 'write a model folder with the top-k ranked neurons zeroed',
  usage: PRUNE_USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values } = parseCommandLine(argv, optionSpecs(['model', 'neurons', 'k', 'out']), PRUNE_USAGE);
    const model = requiredOption('model', values.model, undefined, PRUNE_USAGE);
    const rankingPath = requiredOption('neurons', values.neurons, undefined, PRUNE_USAGE);
    const k = intOption('k', requiredOption('k', values.k, undefined, PRUNE_USAGE), { min: 0 })!;
    const out = requiredOption('out', values.out, undefined, PRUNE_USAGE);
    if (!existsSync(model)) throw new UserError(`${model}: no such folder`);
    if (!existsSync(rankingPath)) throw new UserError(`${rankingPath}: no such file`);
    let result: Awaited<ReturnType<typeof pruneFolder>>;
    try {
      result = await pruneFolder(model, readRanking(rankingPath), k, out);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    const perSite = new Map<string, number>();
    for (const n of result.neurons) perSite.set(n.site, (perSite.get(n.site) ?? 0) + 1);
    io.out(`pruned ${result.neurons.length} neurons in ${perSite.size} sites -> ${result.outDir}`);
    io.out(`  wrote ${result.pruned.join(', ')}; copied ${result.copied.join(', ')}`);
    if (result.skipped.length) io.err(`  left out (weights this tool cannot prune): ${result.skipped.join(', ')}`);
    return 0;
  },
});
