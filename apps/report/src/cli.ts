#!/usr/bin/env node
/** `crispr-report <run dir | results.json> [--out report.html]`: writes the static HTML report. */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { renderReportFile } from './render.js';

const USAGE = 'usage: crispr-report <run dir | results.json> [--out report.html]\n';

/** Exit status: 0 written, 1 failed, 2 usage error (the same convention as `crispr`). */
export function reportMain(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    process.stderr.write(`crispr-report: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(USAGE);
    return 2;
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
