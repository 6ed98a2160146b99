/**
 * `crispr report <results>... [--out report.html]`: one HTML page over any number of sweep
 * folders and run folders, with report.md and leaderboard.csv written beside it.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { consoleIO, defineCommand, optionSpecs, parseCommandLine, UsageError, UserError, type CliCommand, type CliIO } from '@crispr-bench/core/cli';
import { writeReport, type WrittenReport } from '../write.js';

const USAGE = `usage: crispr report <results>... [--out <file.html>]

Renders one self-contained HTML report (leaderboard, bias and accuracy against k, ablations,
transfer, per-instruction heatmap, bias-neuron map, run metadata) over any number of inputs:
sweep results folders (crispr sweep: manifest.json, cells.jsonl) and run folders or
results.json files (crispr run). Beside the HTML it writes report.md (a summary to paste into a
pull request) and leaderboard.csv (every row at every k).

options:
  --out <file.html>   where to write (default: <input>/report.html for one input, ./report.html for several)
`;

export const reportCommand: CliCommand = defineCommand({
  name: 'report',
  summary: 'render an HTML leaderboard (plus report.md, leaderboard.csv) from sweep and run results',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values, positionals } = parseCommandLine(argv, optionSpecs(['out']), USAGE, true);
    if (positionals.length === 0) throw new UsageError(`give at least one results folder\n\n${USAGE}`);
    for (const p of positionals) if (!existsSync(p)) throw new UserError(`${p} does not exist`);
    if (values.out !== undefined && !/\.html?$/i.test(values.out)) throw new UsageError(`--out must name an .html file, got '${values.out}'`);
    const first = positionals[0]!;
    const out = values.out ?? (positionals.length === 1 ? join(statSync(first).isDirectory() ? first : dirname(first), 'report.html') : 'report.html');
    let written: WrittenReport;
    try {
      written = writeReport(positionals, out);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    // Paths as the user gave them: the output folder, then the file names.
    const shown = dirname(out);
    io.out(`report written to ${out}`);
    io.out(`summary: ${join(shown, basename(written.markdown))}   every k: ${join(shown, basename(written.csv))}`);
    return 0;
  },
});
