/**
 * `crispr judge`: score predictions made elsewhere against BBQ data. The glue lives in bench
 * because it needs both the BBQ loader (datasets) and the metrics (judges), which may not
 * depend on each other.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { consoleIO, UserError, type CliCommand, type CliIO, intOption } from '@crispr-bench/core';
import { loadBbqDir, loadBbqFile, type BbqLoadResult } from '@crispr-bench/datasets';
import {
  BBQ_HEADLINE_KEYS,
  bbqIntervals,
  bbqMetrics,
  groupByCategory,
  judgePredictions,
  parsePredictions,
  type BbqMetrics,
  type Interval,
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
  --json <file>         also write the metrics as JSON to <file>
  --bootstrap <n>       bootstrap resamples for the intervals (default 1000; 0 = none)
  --seed <n>            bootstrap seed (default 0)
  --strict              fail when an item has no prediction or a prediction matches no item
                        (default: report them and score the items that have predictions)
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

type CiJson = Record<string, { lo: number | null; hi: number | null; undefined_resamples: number }>;
type GroupJson = BbqMetrics & { ci?: CiJson };

function ciJson(ci: Record<string, Interval>): CiJson {
  const out: CiJson = {};
  for (const [k, v] of Object.entries(ci)) out[k] = { lo: v.lo, hi: v.hi, undefined_resamples: v.undefined_resamples };
  return out;
}

function fmt(v: number | null): string {
  return v === null ? 'n/a' : v.toFixed(4);
}

function table(rows: [string, BbqMetrics][]): string[] {
  const head = ['category', 'n', 'accuracy', 'acc_ambig', 'acc_disambig', 'bias_disambig', 'bias_ambig', 'unmatched'];
  const body = rows.map(([name, m]) => [
    name,
    String(m.n),
    fmt(m.accuracy),
    fmt(m.accuracy_ambig),
    fmt(m.accuracy_disambig),
    fmt(m.bias_disambig),
    fmt(m.bias_ambig),
    fmt(m.unmatched),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
}

export interface JudgeJson {
  data: string;
  predictions: string;
  field: string;
  overall: GroupJson;
  by_category: Record<string, GroupJson>;
  join: {
    items: number;
    prediction_lines: number;
    scored: number;
    missing: number;
    missing_first: string[];
    orphans: number;
    orphans_first: string[];
    unmatched_first: { item: string; line: number; text: string; reason: string }[];
    index_predictions: number;
    text_predictions: number;
    bias_excluded_first: string[];
    data_bad_lines: number;
  };
  bootstrap: { resamples: number; seed: number; level: number } | null;
}

export const judgeCommand: CliCommand = {
  name: 'judge',
  summary: 'score a predictions file on BBQ (accuracy, bias scores, intervals)',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          data: { type: 'string' },
          predictions: { type: 'string' },
          field: { type: 'string' },
          json: { type: 'string' },
          bootstrap: { type: 'string' },
          seed: { type: 'string' },
          strict: { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (e) {
      throw new UserError(`${(e as Error).message}\n\n${USAGE}`);
    }
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    for (const req of ['data', 'predictions', 'field'] as const) {
      if (!values[req]) throw new UserError(`--${req} is required\n\n${USAGE}`);
    }
    const dataPath = values.data!, predPath = values.predictions!, field = values.field!;
    const resamples = intOption(values.bootstrap, 'bootstrap', 1000, 0);
    const seed = intOption(values.seed, 'seed', 0, 0);

    const data = await loadData(dataPath);
    let predText: string;
    try {
      predText = await readFile(predPath, 'utf8');
    } catch (e) {
      throw new UserError(`--predictions: cannot read ${predPath}: ${(e as Error).message}`);
    }
    let judged;
    let nLines: number;
    try {
      const preds = parsePredictions(predText, predPath, field);
      nLines = preds.length;
      judged = judgePredictions(data.items, preds, predPath);
    } catch (e) {
      throw new UserError((e as Error).message);
    }

    // Nothing is dropped silently: every gap in the join is reported.
    if (judged.missing.length > 0) {
      io.err(`warning: ${judged.missing.length} of ${data.items.length} items have no prediction and are not scored (first: ${firstFew(judged.missing)})`);
    }
    if (judged.orphans.length > 0) {
      io.err(
        `warning: ${judged.orphans.length} predictions match no item (first: ${firstFew(judged.orphans.map((o) => `line ${o.line} ${o.key}`))})`,
      );
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
    const by_category: Record<string, GroupJson> = {};
    for (const [cat, rows] of groupByCategory(judged.scored)) by_category[cat] = group(rows);

    const rows: [string, BbqMetrics][] = [...Object.entries(by_category), ['overall', overall]];
    for (const l of table(rows)) io.out(l);
    if (resamples > 0 && overall.ci) {
      io.out('');
      io.out(`overall 95% bootstrap intervals (${resamples} resamples, seed ${seed}):`);
      for (const k of BBQ_HEADLINE_KEYS) {
        const c = overall.ci[k]!;
        io.out(`  ${k.padEnd(18)} ${fmt(overall[k])}  [${fmt(c.lo)}, ${fmt(c.hi)}]`);
      }
    }

    if (values.json) {
      const out: JudgeJson = {
        data: dataPath,
        predictions: predPath,
        field,
        overall,
        by_category,
        join: {
          items: data.items.length,
          prediction_lines: nLines,
          scored: judged.scored.length,
          missing: judged.missing.length,
          missing_first: judged.missing.slice(0, 20),
          orphans: judged.orphans.length,
          orphans_first: judged.orphans.slice(0, 20).map((o) => `line ${o.line} ${o.key}`),
          unmatched_first: judged.unmatched
            .slice(0, 20)
            .map((u) => ({ item: `${u.item.category}/${u.item.id}`, line: u.line, text: u.text, reason: u.reason })),
          index_predictions: judged.n_index,
          text_predictions: judged.n_text,
          bias_excluded_first: data.underivedTarget.slice(0, 20),
          data_bad_lines: data.skipped.length,
        },
        bootstrap: resamples > 0 ? { resamples, seed, level: 0.95 } : null,
      };
      try {
        await writeFile(values.json, JSON.stringify(out, null, 2) + '\n');
      } catch (e) {
        throw new UserError(`--json: cannot write ${values.json}: ${(e as Error).message}`);
      }
      io.out(`\nwrote ${values.json}`);
    }
    return 0;
  },
};
