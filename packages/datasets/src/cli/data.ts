/** `crispr data expand|fetch|check`: BBQ expansion, download and checks. */
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  choiceOption,
  consoleIO,
  defineCommand,
  formatFileProblem,
  intOption,
  listOption,
  optionSpecs,
  parseCommandLine,
  requiredOption,
  runSubcommand,
  UsageError,
  UserError,
  type CliCommand,
  type CliIO,
} from '@crispr-bench/core/common';
import { assetsDir } from '../assets.js';
import { expandTemplateSet, toBbqJsonl, type ExpandMode } from '../bbq/expander.js';
import { BbqFetchError, fetchBbq } from '../bbq/fetch.js';
import { loadBbqDir, loadBbqFile, parseBbqJsonl } from '../bbq/loader.js';
import { EXPANDABLE_CATEGORIES, readTemplateSet } from '../bbq/templates.js';
import type { BbqLoadResult } from '../bbq/types.js';

const EXPAND_USAGE = `usage: crispr data expand --category <Cat> --out <file.jsonl> [--templates <dir>] [--seed <n>]
                          [--mode sample|exhaustive] [--max-items <n>]

Expand the official BBQ template CSVs of one category into BBQ-style JSONL (checked by the loader
before it is written).

options:
  --templates <dir>   folder with <Category>.csv, vocabulary.csv, vocabulary_proper_names.csv
                      (default: <assets>/bbq/templates)
  --category <Cat>    one of ${EXPANDABLE_CATEGORIES.join(', ')}
  --out <file>        the JSONL to write
  --seed <n>          seed of the sampling (default 0)
  --mode <m>          sample (default): BBQ's downsampling, seeded; exhaustive: every slot filler
  --max-items <n>     stop with an error past this many items (default 2000000)`;

const FETCH_USAGE = `usage: crispr data fetch bbq --out <dir> [--categories A,B] [--base-url <url>] [--timeout <s>]

Download data/<Category>.jsonl of nyu-mll/BBQ at commit bea11bd. Offline, it says what to
download by hand and where to put it; files already in <dir> are verified, not downloaded.

options:
  --out <dir>          where to put the files
  --categories <A,B>   categories to fetch (default: all)
  --base-url <url>     a mirror of the repository's raw files
  --timeout <s>        seconds per request (default 60)`;

const CHECK_USAGE = `usage: crispr data check <file.jsonl | folder> [--on-bad-line error|skip] [--categories A,B]

Load BBQ JSONL (one file or a folder of them) and report counts by category, condition and
polarity, and every bad line. Exit status 1 when a line was skipped.

options:
  --on-bad-line <m>    error (default): stop at the first bad line; skip: report and go on
  --categories <A,B>   categories to load (folder input)`;

const USAGE = `usage: crispr data <subcommand> [options]

subcommands:
  expand   BBQ template CSVs -> BBQ-style JSONL for one category
  fetch    download the official BBQ files (pinned commit, sha256-checked)
  check    load BBQ JSONL (a file or a folder) and report counts and bad lines

${EXPAND_USAGE.replace('usage: ', '')}

${FETCH_USAGE.replace('usage: ', '')}

${CHECK_USAGE.replace('usage: ', '')}
`;

function countsTable(r: BbqLoadResult): string[] {
  const counts = new Map<string, number>();
  for (const it of r.items) {
    const k = `${it.category}\t${it.condition}\t${it.polarity}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()].sort().map(([k, n]) => `  ${k.replaceAll('\t', ' / ')}: ${n}`);
}

async function expand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandLine(argv, optionSpecs(['templates', 'category', 'out', 'seed', 'mode', 'max-items']), EXPAND_USAGE);
  const category = requiredOption('category', values.category);
  const out = requiredOption('out', values.out);
  const mode = choiceOption<ExpandMode>('mode', values.mode, ['sample', 'exhaustive'], 'sample');
  const seed = intOption('seed', values.seed, { default: 0, min: 0 });
  const maxItems = intOption('max-items', values['max-items'], { default: 2_000_000, min: 1 });
  const templates = values.templates ?? join(assetsDir(), 'bbq', 'templates');
  try {
    await stat(templates);
  } catch {
    throw new UserError(`templates folder not found: ${templates} (pass --templates <dir> with the official BBQ template CSVs)`);
  }
  const warnings: string[] = [];
  let recs: ReturnType<typeof expandTemplateSet>;
  try {
    const set = await readTemplateSet(templates, category);
    recs = expandTemplateSet(set, {
      seed,
      mode,
      maxItems,
      onWarning: (w) => warnings.push(w),
    });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const text = toBbqJsonl(recs);
  // Validate what we write with the loader, so the output is exactly what loadBbqFile accepts.
  const checked = parseBbqJsonl(text, out);
  try {
    await writeFile(out, text);
  } catch (e) {
    throw new UserError(`cannot write ${out}: ${(e as Error).message}`);
  }
  for (const w of warnings) io.err(`warning: ${w}`);
  io.out(`wrote ${recs.length} items (${recs.length / 4} filled templates x 4) to ${out}`);
  io.out(countsTable(checked).join('\n'));
  io.out(
    `stereotyped target not derivable: ${checked.underivedTarget.length}` +
      (checked.underivedTarget.length > 0 ? ` (${checked.underivedTarget.slice(0, 5).join(', ')}${checked.underivedTarget.length > 5 ? ', ...' : ''})` : ''),
  );
  return 0;
}

async function fetchCmd(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, optionSpecs(['out', 'categories', 'base-url', 'timeout']), FETCH_USAGE, true);
  if (positionals.length !== 1 || positionals[0] !== 'bbq') throw new UsageError(`fetch: expected 'bbq' (crispr data fetch bbq --out <dir>)`);
  const out = requiredOption('out', values.out, '<dir>');
  const cats = listOption('categories', values.categories);
  const timeout = intOption('timeout', values.timeout, { default: 60, min: 1 });
  try {
    const got = await fetchBbq({
      out,
      ...(cats ? { categories: cats } : {}),
      ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
      timeoutMs: timeout * 1000,
      log: (l) => io.out(l),
    });
    io.out(
      `${got.length} BBQ file(s) in ${out}: ${got.filter((g) => g.verified === 'sha256').length} sha256-verified, ` +
        `${got.filter((g) => g.verified === 'count').length} checked by line count and category (no pinned hash)`,
    );
    return 0;
  } catch (e) {
    if (e instanceof BbqFetchError) throw new UserError(e.message);
    throw e;
  }
}

async function check(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, optionSpecs(['on-bad-line', 'categories']), CHECK_USAGE, true);
  if (positionals.length !== 1) throw new UsageError('check: expected one path (a BBQ JSONL file or a folder of them)');
  const onBad = choiceOption('on-bad-line', values['on-bad-line'], ['error', 'skip'], 'error');
  const path = positionals[0]!;
  const cats = listOption('categories', values.categories);
  let r: BbqLoadResult;
  try {
    const isDir = (await stat(path)).isDirectory();
    r = isDir ? await loadBbqDir(path, { onBadLine: onBad, ...(cats ? { categories: cats } : {}) }) : await loadBbqFile(path, { onBadLine: onBad });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  io.out(`${r.items.length} valid items`);
  io.out(countsTable(r).join('\n'));
  io.out(`stereotyped target not derivable: ${r.underivedTarget.length}`);
  if (r.skipped.length > 0) {
    io.err(`skipped ${r.skipped.length} bad line(s):`);
    for (const b of r.skipped) io.err(`  ${formatFileProblem(b)}`);
  }
  return r.skipped.length > 0 ? 1 : 0;
}

const expandCommand = defineCommand({
  name: 'expand',
  summary: 'BBQ template CSVs -> BBQ-style JSONL for one category',
  usage: EXPAND_USAGE,
  run: (argv, io = consoleIO) => expand(argv, io),
});
const fetchCommand = defineCommand({
  name: 'fetch',
  summary: 'download the official BBQ files (pinned commit, sha256-checked)',
  usage: FETCH_USAGE,
  run: (argv, io = consoleIO) => fetchCmd(argv, io),
});
const checkCommand = defineCommand({
  name: 'check',
  summary: 'load BBQ JSONL (a file or a folder) and report counts and bad lines',
  usage: CHECK_USAGE,
  run: (argv, io = consoleIO) => check(argv, io),
});

/** `crispr data`: BBQ expansion, download and checks. */
export const dataCommand: CliCommand = defineCommand({
  name: 'data',
  summary: 'BBQ data: expand templates, fetch official files, check JSONL',
  usage: USAGE,
  subcommands: [expandCommand, fetchCommand, checkCommand],
  run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    return runSubcommand(dataCommand, argv, io);
  },
});
