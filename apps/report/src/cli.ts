#!/usr/bin/env node
/** `crispr-report <run dir | results.json> [--out report.html]`: writes the static HTML report. */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { renderReportFile } from './render.js';

export function reportMain(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || positionals.length !== 1) {
    process.stdout.write('usage: crispr-report <run dir | results.json> [--out report.html]\n');
    return values.help ? 0 : 2;
  }
  const target = resolve(positionals[0]!);
  if (!existsSync(target)) {
    process.stderr.write(`crispr-report: ${target} does not exist\n`);
    return 1;
  }
  const resultsPath = statSync(target).isDirectory() ? join(target, 'results.json') : target;
  const out = resolve(values.out ?? join(dirname(resultsPath), 'report.html'));
  try {
    writeFileSync(out, renderReportFile(resultsPath));
  } catch (e) {
    process.stderr.write(`crispr-report: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`report written to ${out}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) process.exit(reportMain(process.argv.slice(2)));
