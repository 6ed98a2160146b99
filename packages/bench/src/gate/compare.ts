/**
 * The regression gate: for every cell present in both the baseline and the candidate folder,
 * recompute each metric from the per-item predictions, and fail a metric when it moved the wrong
 * way by more than its threshold AND the paired 95% bootstrap interval of that move (the same
 * items resampled in both runs) excludes 0. Inputs that are not the same experiment (other
 * items, other config) are refused rather than compared.
 */
import type { McItem } from '@crispr-bench/core';
import {
  BBQ_HEADLINE_KEYS,
  PRONOUN_HEADLINE_KEYS,
  bbqMetrics,
  bootstrapPaired,
  checkScoredItem,
  pronounMetrics,
  type MultiStatistic,
  type PronounScored,
  type ScoredItem,
} from '@crispr-bench/judges';
import type { CellRow, Manifest, PredictionRow } from '@crispr-bench/results';
import { IncomparableError } from './errors.js';
import { readGateFolder, type GateFolder } from './folder.js';
import { defaultBetter, type GateRules } from './rules.js';

export type Better = 'higher' | 'lower' | 'zero';
export type DatasetKind = Manifest['datasets'][number]['kind'];

export interface GateRow {
  /** The cell: model, method/variant/ranking, k, dataset, instruction. */
  model: string;
  dataset: string;
  role: string;
  method: string;
  variant: string;
  rankedOn: string | null;
  /** The k compared ('23' or, for a k chosen by search in each run, 'auto 23→25'). */
  k: string;
  instruction: string;
  /** The cell stands for all instructions: the pooled '*' cell, or the only one when a single instruction was evaluated. */
  summary: boolean;
  n: number;
  metric: string;
  better: Better;
  baseline: number | null;
  candidate: number | null;
  /** How far the metric moved the wrong way (negative: it improved); bias scores by their distance from 0. */
  worse: number | null;
  lo: number | null;
  hi: number | null;
  threshold: number;
  status: 'pass' | 'fail' | 'n/a';
  /** Why it passed or failed, in a few words. */
  why: string;
}

export interface GateResult {
  rows: GateRow[];
  failed: GateRow[];
  cellsCompared: number;
  notes: string[];
}

/** The metrics the gate can recompute from prediction rows, per dataset kind. */
export const GATE_METRICS: Record<DatasetKind, readonly string[]> = {
  bbq: [...BBQ_HEADLINE_KEYS, 'retentionAccuracy'],
  pronoun: PRONOUN_HEADLINE_KEYS,
  mc: ['accuracy'],
};

/** An item as the judges see it, rebuilt from a prediction row (the gate never needs the text). */
export function itemOf(r: PredictionRow): McItem {
  return {
    id: r.id,
    category: r.category,
    fields: {},
    options: Array.from({ length: r.options }, (_, i) => String(i)),
    label: r.label,
    unknownIndex: r.unknownIndex,
    targetIndex: r.targetIndex,
    polarity: r.polarity,
    condition: r.condition,
  };
}

/** The metrics of one run's rows over item positions (all rows, or a bootstrap resample). */
export function metricStat(kind: DatasetKind, rows: readonly PredictionRow[]): (idx: ArrayLike<number> | undefined) => Record<string, number | null> {
  const items = rows.map(itemOf);
  if (kind === 'pronoun') {
    // Scores are log-probabilities; the judge normalises the pair.
    const scored: PronounScored[] = rows.map((r, i) => ({ item: items[i]!, probs: r.scores.map((s) => Math.exp(s)), pred: r.pred }));
    return (idx) => ({ ...pronounMetrics(scored, idx) });
  }
  const scored: ScoredItem[] = rows.map((r, i) => ({ item: items[i]!, pred: r.pred }));
  if (kind === 'mc') return (idx) => ({ ...bbqMetrics(scored, idx) });
  // A BBQ task may carry retention items in the same rows (the model organism: category
  // 'retention'): they count for retentionAccuracy only, as the sweep computed them.
  const retention = rows.map((r) => r.category === RETENTION_CATEGORY);
  if (!retention.some(Boolean)) return (idx) => ({ ...bbqMetrics(scored, idx) });
  // Resampled calls skip the judges' item checks; run them once here.
  for (const s of scored) checkScoredItem(s);
  return (idx) => {
    const all = idx ? Array.from(idx) : scored.map((_, i) => i);
    const bbq = all.filter((i) => !retention[i]);
    const ret = all.filter((i) => retention[i]);
    const correct = ret.filter((i) => rows[i]!.pred !== null && rows[i]!.pred === rows[i]!.label).length;
    return { ...bbqMetrics(scored, bbq), retentionAccuracy: ret.length ? correct / ret.length : null };
  };
}

/** The category of retention items folded into a BBQ task's rows (packages/bench/src/organism/task.ts). */
export const RETENTION_CATEGORY = 'retention';

/** The move in the wrong direction from a to b. */
export function worsening(better: Better, a: number, b: number): number {
  return better === 'higher' ? a - b : better === 'lower' ? b - a : Math.abs(b) - Math.abs(a);
}

const itemKey = (r: PredictionRow) => JSON.stringify([r.instruction, r.category, r.id]);
const cellKey = (c: CellRow) => JSON.stringify([c.model, c.method, c.variant, c.rankedOn, c.kAuto ? 'auto' : c.k, c.dataset, c.instruction]);

function rowsOf(folder: GateFolder, c: CellRow): PredictionRow[] {
  const all = folder.predictions(c.predictions);
  return c.instruction === '*' ? all : all.filter((r) => r.instruction === c.instruction);
}

/** Config keys that name or place a run rather than define the experiment. */
const NOT_EXPERIMENT = ['title', 'out'];

/** Top-level config keys whose values differ (JSON equality), ignoring `ignore`. */
function configDiff(a: Record<string, unknown>, b: Record<string, unknown>, ignore: string[]): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !ignore.includes(k) && !NOT_EXPERIMENT.includes(k));
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

const ITEM_FIELDS = ['options', 'label', 'unknownIndex', 'targetIndex', 'polarity', 'condition'] as const;

/** Pairs the two runs' rows item by item; refuses when the items differ. */
function pairRows(where: string, a: PredictionRow[], b: PredictionRow[]): [PredictionRow[], PredictionRow[]] {
  const bByKey = new Map(b.map((r) => [itemKey(r), r]));
  const aKeys = new Set(a.map(itemKey));
  const onlyA = a.filter((r) => !bByKey.has(itemKey(r)));
  const onlyB = b.filter((r) => !aKeys.has(itemKey(r)));
  if (onlyA.length || onlyB.length || a.length !== b.length) {
    const ex = (r: PredictionRow | undefined) => (r ? `${r.category}/${r.id} (instruction ${r.instruction})` : '');
    throw new IncomparableError(
      `different items in ${where}: the baseline has ${a.length} prediction rows, the candidate ${b.length}; ` +
        `${onlyA.length} only in the baseline${onlyA.length ? `, e.g. ${ex(onlyA[0])}` : ''}; ${onlyB.length} only in the candidate${onlyB.length ? `, e.g. ${ex(onlyB[0])}` : ''}. ` +
        "The gate compares the same items under the same instructions; re-run the candidate on the baseline's data.",
    );
  }
  const pairedB = a.map((r) => {
    const o = bByKey.get(itemKey(r))!;
    for (const f of ITEM_FIELDS) {
      if (r[f] !== o[f])
        throw new IncomparableError(
          `different items in ${where}: item ${r.category}/${r.id} has ${f} ${String(r[f])} in the baseline and ${String(o[f])} in the candidate (another version of the data set?)`,
        );
    }
    return o;
  });
  return [a, pairedB];
}

export function compareFolders(baselineDir: string, candidateDir: string, rules: GateRules): GateResult {
  const base = readGateFolder(baselineDir, 'baseline');
  const cand = readGateFolder(candidateDir, 'candidate');
  return compareLoaded(base, cand, rules);
}

export function compareLoaded(base: GateFolder, cand: GateFolder, rules: GateRules): GateResult {
  const notes: string[] = [];
  const diff = configDiff(base.manifest.config, cand.manifest.config, rules.ignoreConfig);
  if (diff.length) {
    throw new IncomparableError(
      `different configs: ${diff.map((k) => `'${k}'`).join(', ')} differ${diff.length === 1 ? 's' : ''} between the baseline and the candidate ` +
        `(config hashes ${base.manifest.configHash.slice(0, 12)} and ${cand.manifest.configHash.slice(0, 12)}). ` +
        'Gate runs of the same sweep config, or list the keys that may differ under ignoreConfig in the rules file.',
    );
  }
  const kinds = new Map<string, { kind: DatasetKind; metricInfo: Manifest['datasets'][number]['metricInfo'] }>();
  for (const d of base.manifest.datasets) kinds.set(d.label, { kind: d.kind, metricInfo: d.metricInfo });
  for (const d of cand.manifest.datasets) {
    const b = kinds.get(d.label);
    if (b && b.kind !== d.kind) throw new IncomparableError(`different datasets: '${d.label}' is ${b.kind} in the baseline and ${d.kind} in the candidate`);
  }

  const candByKey = new Map(cand.cells.map((c) => [cellKey(c), c]));
  const baseKeys = new Set(base.cells.map(cellKey));
  const onlyBase = base.cells.filter((c) => !candByKey.has(cellKey(c)));
  const onlyCand = cand.cells.filter((c) => !baseKeys.has(cellKey(c)));
  if (onlyBase.length) notes.push(`${onlyBase.length} cell(s) only in the baseline (not gated), e.g. ${onlyBase[0]!.id}`);
  if (onlyCand.length) notes.push(`${onlyCand.length} cell(s) only in the candidate (not gated), e.g. ${onlyCand[0]!.id}`);

  // Which baseline cells stand for all instructions of their (model, method, ranking, k, dataset).
  const groupOf = (c: CellRow) => JSON.stringify([c.model, c.method, c.variant, c.rankedOn, c.kAuto ? 'auto' : c.k, c.dataset]);
  const groupCells = new Map<string, CellRow[]>();
  for (const c of base.cells) (groupCells.get(groupOf(c)) ?? groupCells.set(groupOf(c), []).get(groupOf(c))!).push(c);
  const isSummary = (c: CellRow) => c.instruction === '*' || groupCells.get(groupOf(c))!.length === 1;

  const rows: GateRow[] = [];
  const mismatched: string[] = [];
  let compared = 0;
  for (const bc of base.cells) {
    const cc = candByKey.get(cellKey(bc));
    if (!cc) continue;
    const summary = isSummary(bc);
    if (rules.instructions === 'pooled' && !summary) continue;
    const ds = kinds.get(bc.dataset);
    if (!ds) throw new IncomparableError(`the baseline's cell ${bc.id} names dataset '${bc.dataset}', which its manifest does not list`);
    const [a, b] = pairRows(`cell ${bc.id}`, rowsOf(base, bc), rowsOf(cand, cc));
    if (a.length === 0) continue;
    compared++;
    const computable = new Set(GATE_METRICS[ds.kind]);
    // The dataset's own metrics first (their direction from the manifest), then rules for other computable metrics.
    const metrics = new Map<string, Better>();
    for (const m of ds.metricInfo) if (computable.has(m.key)) metrics.set(m.key, m.better);
    for (const key of Object.keys(rules.metrics)) if (computable.has(key) && !metrics.has(key)) metrics.set(key, defaultBetter(key));
    for (const [key, rule] of Object.entries(rules.metrics)) if (rule.better && metrics.has(key)) metrics.set(key, rule.better);
    const skipped = ds.metricInfo.filter((m) => !computable.has(m.key)).map((m) => m.key);
    const note = `${bc.dataset}: ${skipped.join(', ')} cannot be recomputed from per-item predictions and are not gated`;
    if (skipped.length && !notes.includes(note)) notes.push(note);
    const keys = [...metrics.keys()];
    const statA = metricStat(ds.kind, a),
      statB = metricStat(ds.kind, b);
    // Bootstrap the transformed metrics so that B - A is exactly the wrong-way move.
    const harm =
      (stat: typeof statA): MultiStatistic<string> =>
      (idx) => {
        const v = stat(idx);
        const out: Record<string, number | null> = {};
        for (const [k, better] of metrics) {
          const x = v[k];
          out[k] = x === null || x === undefined ? null : better === 'higher' ? -x : better === 'lower' ? x : Math.abs(x);
        }
        return out;
      };
    const iv = bootstrapPaired(a.length, harm(statA), harm(statB), keys, rules.bootstrap);
    const va = statA(undefined),
      vb = statB(undefined);
    // The recomputed values should be the ones each folder recorded; a difference means the gate reads the rows otherwise than the sweep did.
    for (const [c, v] of [
      [bc, va],
      [cc, vb],
    ] as const) {
      for (const key of keys) {
        const rec = c.metrics[key]?.value;
        const x = v[key] ?? null;
        if (rec !== undefined && ((rec === null) !== (x === null) || (rec !== null && x !== null && Math.abs(rec - x) > 1e-9)))
          mismatched.push(`${c.id} ${key}: recorded ${rec}, recomputed ${x}`);
      }
    }
    for (const [key, better] of metrics) {
      const rule = rules.metrics[key];
      const threshold = rule?.threshold ?? rules.threshold;
      const x = va[key] ?? null,
        y = vb[key] ?? null;
      const i = iv[key]!;
      let status: GateRow['status'];
      let why: string;
      if (x === null || y === null || i.estimate === null) {
        status = 'n/a';
        why = 'undefined in a run';
      } else if (i.estimate <= threshold) {
        status = 'pass';
        why = i.estimate <= 0 ? 'no worse' : 'within threshold';
      } else if (i.lo === null || i.lo <= 0) {
        status = 'pass';
        why = 'interval includes 0';
      } else if (rule?.gate === false) {
        status = 'pass';
        why = 'worse, not gated';
      } else {
        status = 'fail';
        why = 'worse beyond threshold, interval excludes 0';
      }
      rows.push({
        model: bc.model,
        dataset: bc.dataset,
        role: bc.role,
        method: bc.method,
        variant: bc.variant,
        rankedOn: bc.rankedOn,
        k: bc.kAuto ? (bc.k === cc.k ? `auto ${bc.k}` : `auto ${bc.k}→${cc.k}`) : String(bc.k),
        instruction: bc.instruction,
        summary,
        n: a.length,
        metric: key,
        better,
        baseline: x,
        candidate: y,
        worse: i.estimate,
        lo: i.lo,
        hi: i.hi,
        threshold,
        status,
        why,
      });
    }
  }
  if (compared === 0) {
    throw new IncomparableError(
      `nothing to compare: no cell (model, method, variant, ranking, k, dataset, instruction) is in both folders ` +
        `(baseline ${base.cells.length} cells, candidate ${cand.cells.length})`,
    );
  }
  if (mismatched.length)
    notes.push(
      `${mismatched.length} metric value(s) recomputed from the predictions differ from cells.jsonl (the gate uses the recomputed ones), e.g. ${mismatched[0]}`,
    );
  return { rows, failed: rows.filter((r) => r.status === 'fail'), cellsCompared: compared, notes };
}
