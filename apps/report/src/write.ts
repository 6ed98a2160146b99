/** Writes the report of any number of sweep and run folders: the HTML page, report.md and leaderboard.csv beside it. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { loadInputs } from './load.js';
import { renderAll } from './render.js';

/**
 * A text cell that a spreadsheet would read as a formula (=, +, -, @ first) gets a leading
 * apostrophe: labels come from data and models, and a CSV opened in a spreadsheet must not run them.
 */
export function csvText(s: string): string {
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

export interface WrittenReport {
  html: string;
  markdown: string;
  csv: string;
}

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
