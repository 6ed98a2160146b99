/**
 * `crispr report <results>... [--out report.html]`: one HTML page over any number of sweep
 * folders and run folders, with report.md and leaderboard.csv written beside it.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { consoleIO, parseCommandLine, UsageError, UserError, type CliCommand, type CliIO } from '@crispr-bench/core';
import { loadInputs } from './load.js';
import { renderAll } from './render.js';

const USAGE = `usage: crispr report <results>... [--out <file.html>]

Renders one self-contained HTML report (leaderboard, bias and accuracy against k, ablations,
transfer, per-instruction heatmap, bias-neuron map, run metadata) over any number of inputs:
sweep results folders (crispr sweep: manifest.json, cells.jsonl) and run folders or
results.json files (crispr run). Beside the HTML it writes report.md (a summary to paste into a
pull request) and leaderboard.csv (every row at every k).

options:
  --out <file.html>   where to write (default: <input>/report.html for one input, ./report.html for several)
`;

/**
 * A text cell that a spreadsheet would read as a formula (=, +, -, @ first) gets a leading
 * apostrophe: labels come from data and models, and a CSV opened in a spreadsheet must not run them.
 */
export function csvText(s: string): string {
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

export interface WrittenReport { html: string; markdown: string; csv: string }

/** Renders `inputs` and writes the three files; returns their paths. */
export function writeReport(inputs: string[], out: string): WrittenReport {
  const html = resolve(out);
  const dir = dirname(html);
  const rendered = renderAll(loadInputs(inputs, dir));
  mkdirSync(dir, { recursive: true });
  const markdown = join(dir, 'report.md');
  const csv = join(dir, 'leaderboard.csv');
  writeFileSync(html, rendered.html);
  writeFileSync(markdown, rendered.markdown);
  const header = rendered.rows.length ? Object.keys(rendered.rows[0]!) : [];
  writeFileSync(csv, stringify(rendered.rows, { header: true, columns: header, cast: { boolean: (b) => String(b), string: csvText } }));
  return { html, markdown, csv };
}

export const reportCommand: CliCommand = {
  name: 'report',
  summary: 'render an HTML leaderboard (plus report.md, leaderboard.csv) from sweep and run results',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values, positionals } = parseCommandLine(argv, { out: { type: 'string' } }, USAGE, true);
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
};
