/**
 * `crispr judge`: score predictions made elsewhere against BBQ data. The glue lives in bench
 * because it needs both the BBQ loader (datasets) and the metrics (judges), which may not
 * depend on each other.
 */
import { readFile, stat } from 'node:fs/promises';
import {
  consoleIO,
  defineCommand,
  formatTable,
  intOption,
  jsonOutput,
  optionSpecs,
  parseCommandLine,
  requiredOption,
  UserError,
  type CliCommand,
  type CliIO,
} from '@crispr-bench/core/cli';
import { loadBbqDir, loadBbqFile, type BbqLoadResult } from '@crispr-bench/datasets';
import {
  BBQ_HEADLINE_KEYS,
  acrossInstructions,
  bbqIntervals,
  bbqMetrics,
  groupByCategory,
  judgePredictions,
  parsePredictions,
  type AcrossSummary,
  type BbqHeadlineKey,
  type BbqMetrics,
  type Interval,
  type PredictionLine,
  type ScoredItem,
} from '@crispr-bench/judges';

const USAGE = `usage: crispr judge --data <bbq.jsonl | folder> --predictions <preds.jsonl> --field <name> [options]

Scores predictions made elsewhere on BBQ: accuracy (overall, ambiguous, disambiguated), the BBQ
bias scores s_DIS and s_AMB (Parrish et al. 2022), and the unmatched rate, overall and per
category, with seeded bootstrap confidence intervals.

  --data <path>         a BBQ category file (official JSONL) or a folder of them (all *.jsonl)
  --predictions <path>  JSONL, one object per line: {"example_id": ..., "category"?: ..., "<field>": ...}
                        joined to the data by example_id and, when present, category
  --field <name>        the field holding the prediction: an option index (integer, 0-based)
                        or free text (matched to an option by the generation judge)
  --json <file|->       also write the metrics as JSON to <file>; - writes the JSON alone to
                        stdout (the table and warnings go to stderr)
  --bootstrap <n>       bootstrap resamples for the intervals (default 1000; 0 = none)
  --seed <n>            bootstrap seed (default 0)
  --strict              fail when an item has no prediction or a prediction matches no item
                        (default: report them and score the items that have predictions)
  --by <name>           group the predictions by this field (e.g. instruction): each group is
                        joined and scored on its own, the table and JSON gain one row per group
                        and the mean / standard deviation across groups (the paper's
                        inter-instruction spread); overall and byCategory pool every group
`;

const FIRST = 5;

function firstFew(list: readonly string[]): string {
  return list.slice(0, FIRST).join(', ') + (list.length > FIRST ? ', ...' : '');
}

async function loadData(path: string): Promise<BbqLoadResult> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    throw new UserError(`--data: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return isDir ? await loadBbqDir(path) : await loadBbqFile(path);
  } catch (e) {
    throw new UserError(`--data: ${(e as Error).message}`);
  }
}

type CiJson = Record<string, { lo: number | null; hi: number | null; undefinedResamples: number }>;
type GroupJson = BbqMetrics & { ci?: CiJson };

function ciJson(ci: Record<string, Interval>): CiJson {
  const out: CiJson = {};
  for (const [k, v] of Object.entries(ci)) out[k] = { lo: v.lo, hi: v.hi, undefinedResamples: v.undefinedResamples };
  return out;
}

function fmt(v: number | null): string {
  return v === null ? 'n/a' : v.toFixed(4);
}

function table(rows: [string, BbqMetrics][]): string[] {
  const metric = (header: string, get: (m: BbqMetrics) => number | null) => ({
    header,
    value: ([, m]: [string, BbqMetrics]) => fmt(get(m)),
    align: 'right' as const,
  });
  return formatTable(
    rows,
    [
      { header: 'category', value: ([name]) => name },
      { header: 'n', value: ([, m]) => String(m.n), align: 'right' },
      metric('accuracy', (m) => m.accuracy),
      metric('acc_ambig', (m) => m.accuracyAmbig),
      metric('acc_disambig', (m) => m.accuracyDisambig),
      metric('biasDisambig', (m) => m.biasDisambig),
      metric('biasAmbig', (m) => m.biasAmbig),
      metric('unmatched', (m) => m.unmatched),
    ],
    { rule: true },
  );
}

export interface JudgeJson {
  data: string;
  predictions: string;
  field: string;
  overall: GroupJson;
  byCategory: Record<string, GroupJson>;
  /** With --by: the grouping field, per-group metrics and their spread across groups. */
  by?: string;
  byGroup?: Record<string, GroupJson>;
  acrossGroups?: Record<string, AcrossSummary>;
  join: {
    items: number;
    predictionLines: number;
    scored: number;
    missing: number;
    missingFirst: string[];
    orphans: number;
    orphansFirst: string[];
    unmatchedFirst: { item: string; line: number; text: string; reason: string }[];
    indexPredictions: number;
    textPredictions: number;
    biasExcludedFirst: string[];
    dataBadLines: number;
  };
  bootstrap: { resamples: number; seed: number; level: number } | null;
}

export const judgeCommand: CliCommand = defineCommand({
  name: 'judge',
  summary: 'score a predictions file on BBQ (accuracy, bias scores, intervals)',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values } = parseCommandLine(argv, optionSpecs(['data', 'predictions', 'field', 'json', 'bootstrap', 'seed', 'by'], ['strict']), USAGE);
    // --help is answered by defineCommand, like every command's.
    const dataPath = requiredOption('data', values.data, undefined, USAGE);
    const predPath = requiredOption('predictions', values.predictions, undefined, USAGE);
    const field = requiredOption('field', values.field, undefined, USAGE);
    const resamples = intOption('bootstrap', values.bootstrap, { default: 1000, min: 0 });
    const seed = intOption('seed', values.seed, { default: 0, min: 0 });
    const json = jsonOutput(io, values.json);
    io = json.io;

    const data = await loadData(dataPath);
    let predText: string;
    try {
      predText = await readFile(predPath, 'utf8');
    } catch (e) {
      throw new UserError(`--predictions: cannot read ${predPath}: ${(e as Error).message}`);
    }
    let judged: ReturnType<typeof judgePredictions>;
    let nLines = 0;
    const perGroup = new Map<string, ScoredItem[]>();
    try {
      const preds = parsePredictions(predText, predPath, field, values.by);
      nLines = preds.length;
      const groups = new Map<string, PredictionLine[]>();
      for (const p of preds) {
        const key = p.group ?? '';
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key)!.push(p);
      }
      if (groups.size === 0) groups.set('', []);
      const all: ReturnType<typeof judgePredictions>[] = [];
      for (const [key, lines] of groups) {
        const j = judgePredictions(data.items, lines, predPath);
        all.push(j);
        if (values.by) perGroup.set(key, j.scored);
      }
      // Pooled over the groups; with --by, an item missing from any group is reported.
      judged = {
        ...all[0]!,
        scored: all.flatMap((j) => j.scored),
        missing: [...new Set(all.flatMap((j) => j.missing))],
        orphans: all.flatMap((j) => j.orphans),
        unmatched: all.flatMap((j) => j.unmatched),
        nIndex: all.reduce((a, j) => a + j.nIndex, 0),
        nText: all.reduce((a, j) => a + j.nText, 0),
      };
    } catch (e) {
      throw new UserError((e as Error).message);
    }

    // Nothing is dropped silently: every gap in the join is reported.
    if (judged.missing.length > 0) {
      io.err(`warning: ${judged.missing.length} of ${data.items.length} items have no prediction and are not scored (first: ${firstFew(judged.missing)})`);
    }
    if (judged.orphans.length > 0) {
      io.err(`warning: ${judged.orphans.length} predictions match no item (first: ${firstFew(judged.orphans.map((o) => `line ${o.line} ${o.key}`))})`);
    }
    if (judged.unmatched.length > 0) {
      io.err(
        `note: ${judged.unmatched.length} outputs match no option and count as unmatched (first: ${firstFew(
          judged.unmatched.map((u) => `${u.item.category}/${u.item.id} line ${u.line} ${JSON.stringify(u.text.slice(0, 40))}`),
        )})`,
      );
    }
    if (data.underivedTarget.length > 0) {
      io.err(
        `note: ${data.underivedTarget.length} items have no derivable stereotyped target; they count for accuracy, not for the bias scores (first: ${firstFew(data.underivedTarget)})`,
      );
    }
    if (values.strict && (judged.missing.length > 0 || judged.orphans.length > 0)) {
      throw new UserError('--strict: the predictions do not cover exactly the items (see the warnings above)');
    }
    if (judged.scored.length === 0) {
      throw new UserError(`no prediction in ${predPath} matches an item of ${dataPath}`);
    }

    const group = (rows: ScoredItem[]): GroupJson => {
      const m: GroupJson = bbqMetrics(rows);
      if (resamples > 0) m.ci = ciJson(bbqIntervals(rows, { resamples, seed }));
      return m;
    };
    const overall = group(judged.scored);
    const byCategory: Record<string, GroupJson> = {};
    for (const [cat, rows] of groupByCategory(judged.scored)) byCategory[cat] = group(rows);

    const rows: [string, BbqMetrics][] = [...Object.entries(byCategory), ['overall', overall]];
    for (const l of table(rows)) io.out(l);
    let byGroup: Record<string, GroupJson> | undefined;
    let acrossGroups: Record<string, AcrossSummary> | undefined;
    if (values.by) {
      byGroup = {};
      for (const [key, scored] of perGroup) byGroup[key] = group(scored);
      acrossGroups = acrossInstructions(byGroup as unknown as Record<string, Record<BbqHeadlineKey, number | null>>, BBQ_HEADLINE_KEYS);
      io.out('');
      io.out(`by ${values.by}:`);
      for (const l of table(Object.entries(byGroup))) io.out(l);
      io.out('');
      io.out(`across ${perGroup.size} values of ${values.by} (mean ± sample sd):`);
      const across = acrossGroups;
      const lines = formatTable(
        BBQ_HEADLINE_KEYS,
        [
          { header: 'metric', value: (k) => k },
          { header: 'mean', value: (k) => fmt(across[k]!.mean), align: 'right' },
          { header: 'sd', value: (k) => fmt(across[k]!.sd), align: 'right' },
          { header: 'min', value: (k) => fmt(across[k]!.min), align: 'right' },
          { header: 'max', value: (k) => fmt(across[k]!.max), align: 'right' },
        ],
        { indent: '  ' },
      );
      for (const l of lines) io.out(l);
    }
    if (resamples > 0 && overall.ci) {
      io.out('');
      io.out(`overall 95% bootstrap intervals (${resamples} resamples, seed ${seed}):`);
      const ci = overall.ci;
      const lines = formatTable(
        BBQ_HEADLINE_KEYS,
        [
          { header: 'metric', value: (k) => k },
          { header: 'value', value: (k) => fmt(overall[k]), align: 'right' },
          { header: 'lo', value: (k) => fmt(ci[k]!.lo), align: 'right' },
          { header: 'hi', value: (k) => fmt(ci[k]!.hi), align: 'right' },
        ],
        { indent: '  ' },
      );
      for (const l of lines) io.out(l);
    }

    if (values.json) {
      const out: JudgeJson = {
        data: dataPath,
        predictions: predPath,
        field,
        overall,
        byCategory,
        ...(byGroup ? { by: values.by, byGroup, acrossGroups } : {}),
        join: {
          items: data.items.length,
          predictionLines: nLines,
          scored: judged.scored.length,
          missing: judged.missing.length,
          missingFirst: judged.missing.slice(0, 20),
          orphans: judged.orphans.length,
          orphansFirst: judged.orphans.slice(0, 20).map((o) => `line ${o.line} ${o.key}`),
          unmatchedFirst: judged.unmatched.slice(0, 20).map((u) => ({ item: `${u.item.category}/${u.item.id}`, line: u.line, text: u.text, reason: u.reason })),
          indexPredictions: judged.nIndex,
          textPredictions: judged.nText,
          biasExcludedFirst: data.underivedTarget.slice(0, 20),
          dataBadLines: data.skipped.length,
        },
        bootstrap: resamples > 0 ? { resamples, seed, level: 0.95 } : null,
      };
      json.write(out);
    }
    return 0;
  },
});
