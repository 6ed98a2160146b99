import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { consoleIO, parseCommandLine, UsageError, UserError, type CliCommand, type CliIO, intOption } from '@crispr-bench/core/common';
import { assetsDir } from '../assets.js';
import { expandTemplateSet, toBbqJsonl, type ExpandMode } from '../bbq/expander.js';
import { BbqFetchError, fetchBbq } from '../bbq/fetch.js';
import { loadBbqDir, loadBbqFile, parseBbqJsonl } from '../bbq/loader.js';
import { EXPANDABLE_CATEGORIES, readTemplateSet } from '../bbq/templates.js';
import { formatBadLine, type BbqLoadResult } from '../bbq/types.js';

const USAGE = `usage: crispr data <subcommand> [options]

subcommands:
  expand   BBQ template CSVs -> BBQ-style JSONL for one category
  fetch    download the official BBQ files (pinned commit, sha256-checked)
  check    load BBQ JSONL (a file or a folder) and report counts and bad lines

crispr data expand --category <Cat> --out <file.jsonl> [--templates <dir>] [--seed <n>]
                   [--mode sample|exhaustive] [--max-items <n>]
  --templates   folder with <Category>.csv, vocabulary.csv, vocabulary_proper_names.csv
                (default: <assets>/bbq/templates)
  --category    one of ${EXPANDABLE_CATEGORIES.join(', ')}
  --mode        sample (default): BBQ's downsampling, seeded; exhaustive: every slot filler
  --max-items   stop with an error past this many items (default 2000000)

crispr data fetch bbq --out <dir> [--categories A,B] [--base-url <url>]
  Downloads data/<Category>.jsonl of nyu-mll/BBQ at commit bea11bd. Offline, it says what to
  download by hand and where to put it; files already in <dir> are verified, not downloaded.

crispr data check <file.jsonl | folder> [--on-bad-line error|skip] [--categories A,B]
`;


/** All our options are strings; values come back as a plain string map. */
function parse(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  allowPositionals: boolean,
): { values: Record<string, string | undefined>; positionals: string[] } {
  const r = parseCommandLine(argv, options, USAGE, allowPositionals);
  return { values: r.values as Record<string, string | undefined>, positionals: r.positionals };
}

function countsTable(r: BbqLoadResult): string[] {
  const counts = new Map<string, number>();
  for (const it of r.items) {
    const k = `${it.category}\t${it.condition}\t${it.polarity}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()].sort().map(([k, n]) => `  ${k.replaceAll('\t', ' / ')}: ${n}`);
}

async function expand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parse(argv, {
    templates: { type: 'string' }, category: { type: 'string' }, out: { type: 'string' },
    seed: { type: 'string' }, mode: { type: 'string' }, 'max-items': { type: 'string' },
  }, false);
  const category = values.category as string | undefined;
  const out = values.out as string | undefined;
  if (!category) throw new UsageError('expand: --category is required');
  if (!out) throw new UsageError('expand: --out is required');
  const mode = (values.mode as string | undefined) ?? 'sample';
  if (mode !== 'sample' && mode !== 'exhaustive') throw new UsageError(`--mode must be sample or exhaustive, got '${mode}'`);
  const templates = (values.templates as string | undefined) ?? join(assetsDir(), 'bbq', 'templates');
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
      seed: intOption(values.seed as string | undefined, 'seed', 0, 0),
      mode: mode as ExpandMode,
      maxItems: intOption(values['max-items'] as string | undefined, 'max-items', 2_000_000, 1),
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
  io.out(`stereotyped target not derivable: ${checked.underivedTarget.length}` +
    (checked.underivedTarget.length > 0 ? ` (${checked.underivedTarget.slice(0, 5).join(', ')}${checked.underivedTarget.length > 5 ? ', ...' : ''})` : ''));
  return 0;
}

async function fetchCmd(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, {
    out: { type: 'string' }, categories: { type: 'string' }, 'base-url': { type: 'string' }, timeout: { type: 'string' },
  }, true);
  if (positionals.length !== 1 || positionals[0] !== 'bbq') throw new UsageError(`fetch: expected 'bbq' (crispr data fetch bbq --out <dir>)`);
  const out = values.out as string | undefined;
  if (!out) throw new UsageError('fetch: --out <dir> is required');
  const cats = (values.categories as string | undefined)?.split(',').map((s) => s.trim()).filter(Boolean);
  try {
    const got = await fetchBbq({
      out, ...(cats ? { categories: cats } : {}),
      ...(values['base-url'] ? { baseUrl: values['base-url'] as string } : {}),
      timeoutMs: intOption(values.timeout as string | undefined, 'timeout', 60, 1) * 1000,
      log: (l) => io.out(l),
    });
    io.out(`${got.length} BBQ file(s) in ${out}: ${got.filter((g) => g.verified === 'sha256').length} sha256-verified, ` +
      `${got.filter((g) => g.verified === 'count').length} checked by line count and category (no pinned hash)`);
    return 0;
  } catch (e) {
    if (e instanceof BbqFetchError) throw new UserError(e.message);
    throw e;
  }
}

async function check(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, { 'on-bad-line': { type: 'string' }, categories: { type: 'string' } }, true);
  if (positionals.length !== 1) throw new UsageError('check: expected one path (a BBQ JSONL file or a folder of them)');
  const onBad = (values['on-bad-line'] as string | undefined) ?? 'error';
  if (onBad !== 'error' && onBad !== 'skip') throw new UsageError(`--on-bad-line must be error or skip, got '${onBad}'`);
  const path = positionals[0]!;
  const cats = (values.categories as string | undefined)?.split(',').map((s) => s.trim()).filter(Boolean);
  let r: BbqLoadResult;
  try {
    const isDir = (await stat(path)).isDirectory();
    r = isDir
      ? await loadBbqDir(path, { onBadLine: onBad, ...(cats ? { categories: cats } : {}) })
      : await loadBbqFile(path, { onBadLine: onBad });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  io.out(`${r.items.length} valid items`);
  io.out(countsTable(r).join('\n'));
  io.out(`stereotyped target not derivable: ${r.underivedTarget.length}`);
  if (r.skipped.length > 0) {
    io.err(`skipped ${r.skipped.length} bad line(s):`);
    for (const b of r.skipped) io.err(`  ${formatBadLine(b)}`);
  }
  return r.skipped.length > 0 ? 1 : 0;
}

/** `crispr data`: BBQ expansion, download and checks. */
export const dataCommand: CliCommand = {
  name: 'data',
  summary: 'BBQ data: expand templates, fetch official files, check JSONL',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === undefined) throw new UsageError(`missing subcommand\n\n${USAGE}`);
    if (sub === '--help' || sub === '-h') {
      io.out(USAGE);
      return 0;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(USAGE);
      return 0;
    }
    if (sub === 'expand') return expand(rest, io);
    if (sub === 'fetch') return fetchCmd(rest, io);
    if (sub === 'check') return check(rest, io);
    throw new UsageError(`unknown data subcommand '${sub}' (expand, fetch, check)\n\n${USAGE}`);
  },
};

