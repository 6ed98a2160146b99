/**
 * From cells to what the page shows: leaderboard rows (one per run x model x dataset x method
 * variant, at its chosen k, with every k kept for expansion), curves against k, the ablation
 * table, the transfer matrix, the per-instruction heatmap and the bias-neuron map. This is
 * selection and presentation only; every number comes from the inputs (means and SDs across
 * instructions summarise the per-instruction cells).
 */
import type { MetricValue } from '@crispr-bench/results';
import type { MetricDef, ReportInput, ViewCell } from './model.js';

export interface LeaderRow {
  id: string;
  run: number;
  model: string;
  dataset: string;
  role: ViewCell['role'];
  method: string;
  variant: string;
  rankedOn: string | null;
  k: number;
  kAuto: boolean;
  /** How this row's k was picked (for the lead row of a group). */
  kNote: string;
  n: number | null;
  metrics: Record<string, MetricValue>;
  delta: Record<string, MetricValue> | null;
  across: Record<string, { mean: number | null; sd: number | null; count: number }>;
  /** Retention dataset -> accuracy on it at the same method and k. */
  retention: Record<string, MetricValue | null>;
}

export interface LeaderGroup {
  lead: LeaderRow;
  all: LeaderRow[];
}

const groupKey = (c: Pick<ViewCell, 'run' | 'model' | 'dataset' | 'method' | 'variant' | 'rankedOn'>) =>
  JSON.stringify([c.run, c.model, c.dataset, c.method, c.variant, c.rankedOn]);
const methodKey = (c: Pick<ViewCell, 'run' | 'model' | 'method' | 'variant' | 'rankedOn' | 'k'>) =>
  JSON.stringify([c.run, c.model, c.method, c.variant, c.rankedOn, c.k]);

export function methodLabel(r: { method: string; variant: string }): string {
  return r.variant && r.variant !== 'default' ? `${r.method} ${r.variant}` : r.method;
}

/** The metric a dataset is judged by in compact views: its ambiguous-context bias score, else its first bias metric. */
export function primaryMetric(defs: MetricDef[]): MetricDef | undefined {
  return defs.find((d) => d.key === 'biasAmbig') ?? defs.find((d) => d.better === 'zero' || d.better === 'lower') ?? defs[0];
}

/** The accuracy-like metric of a dataset (retention columns, accuracy curves). */
export function accuracyMetric(defs: MetricDef[]): MetricDef | undefined {
  return defs.find((d) => d.key === 'accuracy') ?? defs.find((d) => d.better === 'higher');
}

/** Higher is better: accuracy-like metrics as they are, bias metrics by their distance from 0 (or their value). */
function merit(defs: MetricDef[], m: Record<string, MetricValue>): number {
  let s = 0;
  for (const d of defs) {
    const v = m[d.key]?.value;
    if (v === null || v === undefined) continue;
    s += d.better === 'higher' ? v : d.better === 'lower' ? -v : -Math.abs(v);
  }
  return s;
}

function meanSd(values: number[]): { mean: number | null; sd: number | null; count: number } {
  // A spread across instructions needs two of them.
  if (values.length < 2) return { mean: null, sd: null, count: values.length };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : null;
  return { mean, sd, count: values.length };
}

/**
 * The cell that stands for all instructions of a (run, model, method, ranking, k, dataset): the
 * pooled '*' cell, or the only cell when the sweep evaluated a single instruction (a sweep writes
 * no pooled cell then).
 */
export function summaryCells(input: ReportInput): ViewCell[] {
  const byKey = new Map<string, ViewCell[]>();
  for (const c of input.cells) {
    const key = JSON.stringify([groupKey(c), c.k, c.kAuto]);
    (byKey.get(key) ?? byKey.set(key, []).get(key)!).push(c);
  }
  const out: ViewCell[] = [];
  for (const cells of byKey.values()) {
    const pooled = cells.find((c) => c.instruction === '*');
    if (pooled) out.push(pooled);
    else if (cells.length === 1) out.push(cells[0]!);
  }
  return out;
}

export function datasetMetrics(input: ReportInput, dataset: string): MetricDef[] {
  return input.datasets.get(dataset)?.metrics ?? [];
}

export function leaderboard(input: ReportInput): LeaderGroup[] {
  const pooled = summaryCells(input);
  const perInstruction = new Map<string, ViewCell[]>();
  for (const c of input.cells) {
    if (c.instruction === '*') continue;
    const key = JSON.stringify([groupKey(c), c.k]);
    (perInstruction.get(key) ?? perInstruction.set(key, []).get(key)!).push(c);
  }
  const retention = new Map<string, ViewCell[]>();
  for (const c of pooled.filter((x) => x.role === 'retention')) (retention.get(methodKey(c)) ?? retention.set(methodKey(c), []).get(methodKey(c))!).push(c);
  const retentionSets = [...new Set(pooled.filter((c) => c.role === 'retention').map((c) => c.dataset))];

  const groups = new Map<string, ViewCell[]>();
  for (const c of pooled.filter((x) => x.role !== 'retention')) (groups.get(groupKey(c)) ?? groups.set(groupKey(c), []).get(groupKey(c))!).push(c);
  const out: LeaderGroup[] = [];
  for (const [gk, cells] of groups) {
    const defs = datasetMetrics(input, cells[0]!.dataset);
    // One row per k; a k listed in the sweep and also chosen by the search keeps the chosen cell.
    const byK = new Map<number, ViewCell>();
    for (const c of cells) if (!byK.has(c.k) || c.kAuto) byK.set(c.k, c);
    const all: LeaderRow[] = [...byK.values()]
      .sort((a, b) => a.k - b.k)
      .map((c) => {
        const instr = perInstruction.get(JSON.stringify([gk, c.k])) ?? [];
        const across: LeaderRow['across'] = {};
        for (const d of defs) {
          if (c.across?.[d.key]) across[d.key] = { ...c.across[d.key]!, count: 0 };
          else across[d.key] = meanSd(instr.map((x) => x.metrics[d.key]?.value).filter((v): v is number => typeof v === 'number'));
        }
        const ret: LeaderRow['retention'] = {};
        for (const rs of retentionSets) {
          const rc = (retention.get(methodKey(c)) ?? []).find((x) => x.dataset === rs);
          const acc = accuracyMetric(datasetMetrics(input, rs));
          ret[rs] = rc && acc ? (rc.metrics[acc.key] ?? null) : null;
        }
        return {
          id: `${gk}#${c.k}`,
          run: c.run,
          model: c.model,
          dataset: c.dataset,
          role: c.role,
          method: c.method,
          variant: c.variant,
          rankedOn: c.rankedOn,
          k: c.k,
          kAuto: c.kAuto,
          kNote: '',
          n: c.n,
          metrics: c.metrics,
          delta: c.delta,
          across,
          retention: ret,
        };
      });
    let lead = all.find((r) => r.kAuto);
    if (lead) lead.kNote = 'chosen on the dev split';
    else if (all.length === 1) {
      lead = all[0]!;
      lead.kNote = lead.method === 'original' || lead.k === 0 ? '' : 'only k';
    } else {
      lead = all.reduce((best, r) => (merit(defs, r.metrics) > merit(defs, best.metrics) ? r : best));
      lead.kNote = 'best of the swept k on these items (no dev search)';
    }
    out.push({ lead, all });
  }
  // Random pruning is the control for CRISPR at the same k: its row stands at CRISPR's chosen k when it was evaluated there.
  for (const g of out.filter((x) => x.lead.method === 'random' && !x.lead.kAuto)) {
    const same = (x: LeaderGroup) =>
      x.lead.run === g.lead.run &&
      x.lead.model === g.lead.model &&
      x.lead.dataset === g.lead.dataset &&
      x.lead.method === 'crispr' &&
      x.lead.variant === 'default';
    const crispr = out.find((x) => same(x) && x.lead.rankedOn === g.lead.dataset) ?? out.find(same);
    const at = crispr && g.all.find((r) => r.k === crispr.lead.k);
    if (at && at !== g.lead) {
      g.lead.kNote = '';
      g.lead = at;
      at.kNote = "CRISPR's chosen k";
    } else if (at) at.kNote = "CRISPR's chosen k";
  }
  return out;
}

/** Retention datasets present anywhere (leaderboard columns). */
export function retentionSets(input: ReportInput): string[] {
  return [
    ...new Set(
      summaryCells(input)
        .filter((c) => c.role === 'retention')
        .map((c) => c.dataset),
    ),
  ];
}

/** Metric columns of the leaderboard: every non-retention dataset's metrics, in first-seen order. */
export function leaderMetrics(input: ReportInput): MetricDef[] {
  const seen = new Map<string, MetricDef>();
  for (const c of input.cells) {
    if (c.role === 'retention') continue;
    for (const d of datasetMetrics(input, c.dataset)) if (!seen.has(d.key)) seen.set(d.key, d);
  }
  return [...seen.values()];
}

export interface Panel {
  run: number;
  model: string;
  dataset: string;
  series: { label: string; method: string; points: { k: number; metrics: Record<string, MetricValue> }[] }[];
  defs: MetricDef[];
}

/** One panel per run, model and dataset: CRISPR (default variant, ranked on this dataset when it was) beside random pruning and the original. */
export function curvePanels(input: ReportInput, groups: LeaderGroup[]): Panel[] {
  const panels = new Map<string, Panel>();
  for (const g of groups) {
    const key = JSON.stringify([g.lead.run, g.lead.model, g.lead.dataset]);
    if (!panels.has(key))
      panels.set(key, { run: g.lead.run, model: g.lead.model, dataset: g.lead.dataset, series: [], defs: datasetMetrics(input, g.lead.dataset) });
  }
  for (const p of panels.values()) {
    const mine = groups.filter((g) => g.lead.run === p.run && g.lead.model === p.model && g.lead.dataset === p.dataset);
    const crisprs = mine.filter((g) => g.lead.method === 'crispr' && g.lead.variant === 'default');
    const crispr = crisprs.find((g) => g.lead.rankedOn === p.dataset) ?? crisprs[0];
    const random = mine.find((g) => g.lead.method === 'random');
    const original = mine.find((g) => g.lead.method === 'original');
    const withOrigin = (g: LeaderGroup) => {
      const pts = g.all.map((r) => ({ k: r.k, metrics: r.metrics }));
      // Pruning curves start from the unpruned model.
      if (original && !pts.some((x) => x.k === 0)) pts.unshift({ k: 0, metrics: original.lead.metrics });
      return pts;
    };
    if (crispr)
      p.series.push({
        label: crispr.lead.rankedOn && crispr.lead.rankedOn !== p.dataset ? `CRISPR (ranked on ${crispr.lead.rankedOn})` : 'CRISPR',
        method: 'crispr',
        points: withOrigin(crispr),
      });
    if (random) p.series.push({ label: 'random pruning', method: 'random', points: withOrigin(random) });
    if (original) p.series.push({ label: 'original', method: 'original', points: [{ k: 0, metrics: original.lead.metrics }] });
  }
  return [...panels.values()].filter((p) => p.series.length > 0);
}

export interface AblationTable {
  run: number;
  model: string;
  dataset: string;
  defs: MetricDef[];
  baseK: number;
  rows: { label: string; k: number; kNote: string; values: (number | null)[]; diffs: (number | null)[]; isDefault: boolean }[];
}

/** Each CRISPR variant (and random pruning) against the paper's default on the same ranking dataset, at the default's chosen k. */
export function ablations(input: ReportInput, groups: LeaderGroup[]): AblationTable[] {
  const out: AblationTable[] = [];
  const seen = new Set<string>();
  for (const g of groups) {
    const { run, model, dataset } = g.lead;
    const key = JSON.stringify([run, model, dataset]);
    if (seen.has(key)) continue;
    seen.add(key);
    const mine = groups.filter((x) => x.lead.run === run && x.lead.model === model && x.lead.dataset === dataset);
    const defaults = mine.filter((x) => x.lead.method === 'crispr' && x.lead.variant === 'default');
    const def = defaults.find((x) => x.lead.rankedOn === dataset) ?? defaults[0];
    if (!def) continue;
    const variants = mine.filter((x) => (x.lead.method === 'crispr' && x.lead.rankedOn === def.lead.rankedOn) || x.lead.method === 'random');
    if (variants.length < 2) continue;
    const defs = datasetMetrics(input, dataset);
    const k = def.lead.k;
    const rows = variants.map((v) => {
      // Compare at the default's k when the variant was evaluated there, else at the variant's own chosen k.
      const at = v.all.find((r) => r.k === k) ?? v.lead;
      const base = def.all.find((r) => r.k === at.k);
      const values = defs.map((d) => at.metrics[d.key]?.value ?? null);
      const diffs = defs.map((d, i) => {
        const b = base?.metrics[d.key]?.value;
        return values[i] === null || b === null || b === undefined ? null : values[i]! - b;
      });
      return { label: methodLabel(v.lead), k: at.k, kNote: at.k === k ? '' : 'own k', values, diffs, isDefault: v === def };
    });
    rows.sort((a, b) => Number(b.isDefault) - Number(a.isDefault));
    out.push({ run, model, dataset, defs, baseK: k, rows });
  }
  return out;
}

export interface TransferMatrix {
  run: number;
  model: string;
  sources: string[];
  targets: { dataset: string; metric: MetricDef }[];
  cells: ({ k: number; delta: MetricValue | null; gain: number | null } | null)[][];
}

/** CRISPR (default variant) ranked on dataset A, evaluated on dataset B: the change of B's headline metric against the original. */
export function transferMatrices(input: ReportInput, groups: LeaderGroup[]): TransferMatrix[] {
  const out: TransferMatrix[] = [];
  const pooled = summaryCells(input);
  const keys = new Set(pooled.map((c) => JSON.stringify([c.run, c.model])));
  for (const key of keys) {
    const [run, model] = JSON.parse(key) as [number, string];
    const crispr = pooled.filter((c) => c.run === run && c.model === model && c.method === 'crispr' && c.variant === 'default' && c.rankedOn);
    const sources = [...new Set(crispr.map((c) => c.rankedOn!))];
    const targetNames = [...new Set(crispr.map((c) => c.dataset))];
    if (sources.length < 2 && targetNames.length < 2) continue;
    const targets = targetNames
      .map((dataset) => {
        const defs = datasetMetrics(input, dataset);
        const role = input.datasets.get(dataset)?.role;
        return { dataset, metric: (role === 'retention' ? accuracyMetric(defs) : primaryMetric(defs)) ?? defs[0]! };
      })
      .filter((t) => t.metric);
    const cells = sources.map((a) =>
      targets.map((t) => {
        // The k chosen for the ranking on A (its own dataset's leaderboard row), else the largest k evaluated.
        const own = groups.find(
          (g) =>
            g.lead.run === run &&
            g.lead.model === model &&
            g.lead.method === 'crispr' &&
            g.lead.variant === 'default' &&
            g.lead.rankedOn === a &&
            g.lead.dataset === a,
        );
        const candidates = crispr.filter((c) => c.rankedOn === a && c.dataset === t.dataset);
        if (!candidates.length) return null;
        const c = candidates.find((x) => own && x.k === own.lead.k) ?? candidates.reduce((m, x) => (x.k > m.k ? x : m));
        const d = c.delta?.[t.metric.key] ?? null;
        const after = c.metrics[t.metric.key]?.value;
        let gain: number | null = null;
        if (d?.value !== null && d?.value !== undefined && after !== null && after !== undefined) {
          const before = after - d.value;
          gain = t.metric.better === 'higher' ? d.value : t.metric.better === 'lower' ? -d.value : Math.abs(before) - Math.abs(after);
        }
        return { k: c.k, delta: d, gain };
      }),
    );
    out.push({ run, model, sources, targets, cells });
  }
  return out;
}

export interface Heatmap {
  run: number;
  model: string;
  dataset: string;
  metric: MetricDef;
  instructions: { id: string; heldout: boolean }[];
  rows: { label: string; k: number; values: (number | null)[] }[];
}

/** The headline metric under each instruction, one row per method at its chosen k. */
export function heatmaps(input: ReportInput, groups: LeaderGroup[]): Heatmap[] {
  const out: Heatmap[] = [];
  const panels = new Map<string, LeaderGroup[]>();
  for (const g of groups) {
    const key = JSON.stringify([g.lead.run, g.lead.model, g.lead.dataset]);
    (panels.get(key) ?? panels.set(key, []).get(key)!).push(g);
  }
  for (const [key, gs] of panels) {
    const [run, model, dataset] = JSON.parse(key) as [number, string, string];
    const cells = input.cells.filter((c) => c.run === run && c.model === model && c.dataset === dataset && c.instruction !== '*');
    const instructions: Heatmap['instructions'] = [];
    for (const c of cells)
      if (!instructions.some((i) => i.id === c.instruction)) instructions.push({ id: c.instruction, heldout: c.instructionUse === 'heldout' });
    const metric = primaryMetric(datasetMetrics(input, dataset));
    if (instructions.length < 2 || !metric) continue;
    const rows = gs.map((g) => ({
      label: methodLabel(g.lead) + (g.lead.rankedOn && g.lead.rankedOn !== dataset ? ` (ranked on ${g.lead.rankedOn})` : ''),
      k: g.lead.k,
      values: instructions.map((i) => {
        const c = cells.find(
          (x) => x.instruction === i.id && x.k === g.lead.k && x.method === g.lead.method && x.variant === g.lead.variant && x.rankedOn === g.lead.rankedOn,
        );
        return c?.metrics[metric.key]?.value ?? null;
      }),
    }));
    out.push({ run, model, dataset, metric, instructions, rows });
  }
  return out;
}

export interface NeuronMap {
  run: number;
  model: string;
  rankedOn: string;
  variant: string;
  k: number;
  layers: string[];
  kinds: string[];
  counts: number[][];
}

/** The row of a neuron in the map: its layer, with the stack for encoder-decoder models (their layer numbers repeat). */
function layerRow(n: { site: string; layer: number }): { label: string; order: number } {
  const stack = n.site.split('.')[0];
  if (stack === 'encoder') return { label: `encoder ${n.layer}`, order: n.layer };
  if (stack === 'decoder') return { label: `decoder ${n.layer}`, order: 1e6 + n.layer };
  return { label: String(n.layer), order: n.layer };
}

/** Where a ranking's top-k neurons are: counts by layer and module kind (k = its chosen k). */
export function neuronMaps(input: ReportInput, groups: LeaderGroup[]): NeuronMap[] {
  return input.rankings.map((r) => {
    const g =
      groups.find(
        (x) =>
          x.lead.run === r.run &&
          x.lead.model === r.model &&
          x.lead.method === 'crispr' &&
          x.lead.variant === r.variant &&
          x.lead.rankedOn === r.rankedOn &&
          x.lead.dataset === r.rankedOn,
      ) ??
      groups.find(
        (x) => x.lead.run === r.run && x.lead.model === r.model && x.lead.method === 'crispr' && x.lead.variant === r.variant && x.lead.rankedOn === r.rankedOn,
      );
    const k = Math.min(r.neurons.length, g && g.lead.k > 0 ? g.lead.k : r.neurons.length);
    const top = r.neurons.slice(0, k);
    const rows = new Map<string, number>();
    for (const n of top) rows.set(layerRow(n).label, layerRow(n).order);
    const layers = [...rows.entries()].sort((a, b) => a[1] - b[1]).map(([label]) => label);
    const kinds = [...new Set(top.map((n) => n.kind))].sort();
    const counts = layers.map((l) => kinds.map((kd) => top.filter((n) => layerRow(n).label === l && n.kind === kd).length));
    return { run: r.run, model: r.model, rankedOn: r.rankedOn, variant: r.variant, k, layers, kinds, counts };
  });
}
