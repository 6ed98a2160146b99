/**
 * Renders the report's inputs as one self-contained HTML page (handlebars; inline CSS, SVG and a
 * little JavaScript; nothing from the network), plus report.md and leaderboard.csv. The page only
 * presents what the inputs hold; it recomputes nothing.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import Handlebars from 'handlebars';
import type { MetricValue, RunResults } from '@crispr-bench/results';
import { checkResults } from '@crispr-bench/results';
import { lineChart, type Series } from './charts.js';
import type { MetricDef, ReportInput } from './model.js';
import { addRunResults, emptyInput } from './load.js';
import {
  ablations,
  accuracyMetric,
  curvePanels,
  datasetMetrics,
  heatmaps,
  leaderboard,
  leaderMetrics,
  methodLabel,
  neuronMaps,
  retentionSets,
  transferMatrices,
  type LeaderGroup,
  type LeaderRow,
} from './view.js';

const TEMPLATE = fileURLToPath(new URL('./templates/report.hbs', import.meta.url));
const COLORS: Record<string, string> = { crispr: '#c0392b', random: '#6c7a89', original: '#2c3e50' };

export const f3 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(3));
const signed = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : (v > 0 ? '+' : '') + v.toFixed(3));
const ci = (m: MetricValue | null | undefined): string => (m && m.lo !== null && m.hi !== null ? `${f3(m.lo)}, ${f3(m.hi)}` : '');

/**
 * JSON for a <script> element: `<`, `>` and `&` as \u escapes, so that no string in the data can
 * close the element (`</script>`) or open a comment (`<!--`); U+2028/9 for old parsers.
 */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export interface Column {
  label: string;
  title: string;
  numeric: boolean;
  csv: string[];
}
export interface Cell {
  text: string;
  ci: string;
  v: number | string | null;
  cls?: string;
}

/** The leaderboard's columns and each row's cells (the HTML table, the sort values, the markdown). */
export function leaderColumns(input: ReportInput): { columns: Column[]; cells: (r: LeaderRow) => Cell[]; metrics: MetricDef[]; retention: string[] } {
  const metrics = leaderMetrics(input);
  const retention = retentionSets(input);
  const multiRun = input.runs.length > 1;
  const columns: Column[] = [
    ...(multiRun ? [{ label: 'run', title: 'input folder', numeric: false, csv: ['run'] }] : []),
    { label: 'model', title: 'model', numeric: false, csv: ['model'] },
    { label: 'dataset', title: 'evaluation dataset', numeric: false, csv: ['dataset', 'role'] },
    { label: 'method', title: 'method and variant', numeric: false, csv: ['method', 'variant'] },
    { label: 'ranked on', title: 'dataset whose attributions ranked the neurons', numeric: false, csv: ['ranked_on'] },
    { label: 'k', title: 'pruned neurons (the chosen k; expand for every k)', numeric: true, csv: ['k', 'k_auto', 'chosen'] },
    { label: 'n', title: 'items x instructions evaluated', numeric: true, csv: ['n'] },
    ...metrics.flatMap((d) => [
      {
        label: d.key,
        title: `${d.label} (${d.better === 'zero' ? '0' : d.better} is best), 95% interval`,
        numeric: true,
        csv: [d.key, `${d.key}_lo`, `${d.key}_hi`],
      },
      {
        label: `Δ ${d.key}`,
        title: `change against the original on the same items, paired 95% interval`,
        numeric: true,
        csv: [`delta_${d.key}`, `delta_${d.key}_lo`, `delta_${d.key}_hi`],
      },
      {
        label: `${d.key} across instructions`,
        title: 'mean ± SD of the per-instruction values',
        numeric: true,
        csv: [`${d.key}_instr_mean`, `${d.key}_instr_sd`],
      },
    ]),
    ...retention.map((ds) => ({
      label: `retention ${ds}`,
      title: `accuracy on the retention task ${ds}`,
      numeric: true,
      csv: [`retention_${ds}`, `retention_${ds}_lo`, `retention_${ds}_hi`],
    })),
  ];
  const cells = (r: LeaderRow): Cell[] => [
    ...(multiRun ? [{ text: input.runs[r.run]!.label, ci: '', v: input.runs[r.run]!.label }] : []),
    { text: r.model, ci: '', v: r.model },
    { text: r.dataset, ci: '', v: r.dataset },
    { text: methodLabel(r), ci: '', v: methodLabel(r) },
    { text: r.rankedOn ?? '—', ci: '', v: r.rankedOn ?? null },
    { text: String(r.k), ci: '', v: r.k },
    { text: r.n === null ? '—' : String(r.n), ci: '', v: r.n },
    ...metrics.flatMap((d) => {
      const m = r.metrics[d.key];
      const dl = r.delta?.[d.key];
      const a = r.across[d.key];
      const sig = dl && dl.lo !== null && dl.hi !== null && (dl.lo > 0 || dl.hi < 0);
      return [
        { text: f3(m?.value), ci: ci(m), v: m?.value ?? null },
        { text: signed(dl?.value), ci: ci(dl), v: dl?.value ?? null, cls: sig ? 'sig' : undefined },
        { text: a && a.mean !== null ? `${f3(a.mean)} ± ${a.sd === null ? '—' : a.sd.toFixed(3)}` : '—', ci: '', v: a?.mean ?? null },
      ];
    }),
    ...retention.map((ds) => ({ text: f3(r.retention[ds]?.value), ci: ci(r.retention[ds]), v: r.retention[ds]?.value ?? null })),
  ];
  return { columns, cells, metrics, retention };
}

function curveCharts(input: ReportInput, groups: LeaderGroup[]) {
  return curvePanels(input, groups).map((p) => {
    const shown = p.defs.filter((d) => d.better !== 'higher');
    const acc = accuracyMetric(p.defs);
    if (acc) shown.push(acc);
    const maxK = Math.max(0, ...p.series.flatMap((s) => s.points.map((x) => x.k)));
    const charts = shown.map((d) => {
      const series: Series[] = p.series.map((s) => {
        const points = s.points.map((x) => ({ x: x.k, y: x.metrics[d.key]?.value ?? null, lo: x.metrics[d.key]?.lo, hi: x.metrics[d.key]?.hi }));
        // The original is one point at k = 0: drawn flat across the k range for reference.
        if (s.method === 'original' && maxK > 0) points.push({ ...points[0]!, x: maxK, lo: null, hi: null });
        return {
          label: s.label,
          color: COLORS[s.method] ?? '#2980b9',
          dashed: s.method === 'original',
          points: s.method === 'original' ? points.map((q) => ({ ...q, lo: null, hi: null })) : points,
        };
      });
      return lineChart(`${d.label}`, 'pruned neurons k', d.key, series, { zeroLine: d.better === 'zero', xScale: 'log1p' });
    });
    return { title: `${p.model} · ${p.dataset}`, run: input.runs[p.run]!.label, charts: charts.join('\n') };
  });
}

const heat = (v: number | null, better: string): string => {
  if (v === null) return '';
  // Bias metrics: red by distance from 0; accuracy-like: blue by value.
  const a = better === 'higher' ? Math.max(0, Math.min(1, v)) : Math.min(1, Math.abs(v));
  const [r, g, b] = better === 'higher' ? [41, 128, 185] : [192, 57, 43];
  return `background: rgba(${r}, ${g}, ${b}, ${(0.08 + 0.6 * a).toFixed(2)})`;
};

export interface Rendered {
  html: string;
  markdown: string;
  rows: Record<string, string | number | boolean | null>[];
}

/** Renders the HTML page, the markdown summary and the CSV rows from loaded inputs. */
export function renderAll(input: ReportInput): Rendered {
  if (input.cells.length === 0) throw new Error('the inputs hold no evaluated cells');
  const groups = leaderboard(input);
  const full = leaderColumns(input);
  const { metrics, retention } = full;
  // Columns empty in every row (a metric no dataset here has, no spread without instructions) are left out.
  const allRows = groups.flatMap((g) => g.all.map((r) => full.cells(r)));
  const keep = full.columns.map((c, i) => !c.numeric || allRows.some((row) => row[i]!.v !== null));
  const columns = full.columns.filter((_, i) => keep[i]);
  const cells = (r: LeaderRow) => full.cells(r).filter((_, i) => keep[i]);
  const styled = (cs: Cell[]) => cs.map((c, i) => ({ ...c, cls: [columns[i]!.numeric ? '' : 'text', c.cls ?? ''].join(' ').trim() }));
  const groupViews = groups.map((g, i) => ({
    id: `g${i}`,
    model: g.lead.model,
    dataset: g.lead.dataset,
    method: g.lead.method,
    kNote: g.lead.kNote,
    kAuto: g.lead.kAuto,
    more: g.all.length > 1 ? g.all.length : 0,
    lead: styled(cells(g.lead)),
    others: g.all.filter((r) => r !== g.lead).map((r) => ({ k: r.k, cells: styled(cells(r)) })),
  }));
  const filters = {
    models: [...new Set(groups.map((g) => g.lead.model))],
    datasets: [...new Set(groups.map((g) => g.lead.dataset))],
    methods: [...new Set(groups.map((g) => g.lead.method))],
  };
  const data = {
    columns: columns.map((c) => c.label),
    groups: groupViews.map((g) => ({ id: g.id, model: g.model, dataset: g.dataset, method: g.method, v: g.lead.map((c) => c.v) })),
  };
  const runLabel = (i: number) => (input.runs.length > 1 ? input.runs[i]!.label : '');
  const template = Handlebars.compile(readFileSync(TEMPLATE, 'utf8'), { strict: false });
  const html = template({
    title: input.runs.length === 1 ? input.runs[0]!.title : `Leaderboard over ${input.runs.length} runs`,
    runs: input.runs,
    columns,
    groups: groupViews,
    filters,
    dataJson: scriptJson(data),
    panels: curveCharts(input, groups),
    ablations: ablations(input, groups).map((t) => ({
      caption: `${t.model} · ${t.dataset}`,
      run: runLabel(t.run),
      baseK: t.baseK,
      defs: t.defs,
      rows: t.rows.map((r) => ({ ...r, values: r.values.map(f3), diffs: r.diffs.map((d) => (r.isDefault ? '' : signed(d))) })),
    })),
    transfers: transferMatrices(input, groups).map((t) => ({
      caption: t.model,
      run: runLabel(t.run),
      targets: t.targets,
      rows: t.sources.map((s, i) => ({
        source: s,
        cells: t.cells[i]!.map((c) =>
          c === null
            ? { text: '—', ci: '', style: '' }
            : {
                text: signed(c.delta?.value),
                ci: ci(c.delta),
                k: c.k,
                sig: !!(c.delta && c.delta.lo !== null && c.delta.hi !== null && (c.delta.lo > 0 || c.delta.hi < 0)),
                style: c.gain === null ? '' : `background: ${c.gain > 0 ? 'rgba(39, 174, 96, 0.18)' : c.gain < 0 ? 'rgba(192, 57, 43, 0.18)' : 'transparent'}`,
              },
        ),
      })),
    })),
    heatmaps: heatmaps(input, groups).map((h) => ({
      caption: `${h.model} · ${h.dataset}`,
      run: runLabel(h.run),
      metric: h.metric,
      instructions: h.instructions,
      rows: h.rows.map((r) => ({ label: r.label, k: r.k, cells: r.values.map((v) => ({ text: f3(v), style: heat(v, h.metric.better) })) })),
    })),
    neuronMaps: neuronMaps(input, groups).map((n) => {
      const max = Math.max(1, ...n.counts.flat());
      return {
        caption: `${n.model} · ranked on ${n.rankedOn}${n.variant && n.variant !== 'default' ? ` · ${n.variant}` : ''}`,
        run: runLabel(n.run),
        k: n.k,
        kinds: n.kinds,
        rows: n.layers.map((l, i) => ({
          layer: l,
          cells: n.counts[i]!.map((c) => ({
            text: c ? String(c) : '',
            style: c ? `background: rgba(142, 68, 173, ${(0.1 + 0.7 * (c / max)).toFixed(2)})` : '',
          })),
        })),
      };
    }),
  });
  return { html, markdown: markdownSummary(input, groups, retention), rows: csvRows(input, groups, full.columns, metrics, retention) };
}

function csvRows(input: ReportInput, groups: LeaderGroup[], columns: Column[], metrics: MetricDef[], retention: string[]) {
  const header = columns.flatMap((c) => c.csv);
  const out: Record<string, string | number | boolean | null>[] = [];
  for (const g of groups) {
    for (const r of g.all) {
      const row: Record<string, string | number | boolean | null> = {
        run: input.runs[r.run]!.label,
        model: r.model,
        dataset: r.dataset,
        role: r.role,
        method: r.method,
        variant: r.variant,
        ranked_on: r.rankedOn,
        k: r.k,
        k_auto: r.kAuto,
        chosen: r === g.lead,
        n: r.n,
      };
      for (const d of metrics) {
        const m = r.metrics[d.key],
          dl = r.delta?.[d.key],
          a = r.across[d.key];
        Object.assign(row, {
          [d.key]: m?.value ?? null,
          [`${d.key}_lo`]: m?.lo ?? null,
          [`${d.key}_hi`]: m?.hi ?? null,
          [`delta_${d.key}`]: dl?.value ?? null,
          [`delta_${d.key}_lo`]: dl?.lo ?? null,
          [`delta_${d.key}_hi`]: dl?.hi ?? null,
          [`${d.key}_instr_mean`]: a?.mean ?? null,
          [`${d.key}_instr_sd`]: a?.sd ?? null,
        });
      }
      for (const ds of retention) {
        const m = r.retention[ds];
        Object.assign(row, { [`retention_${ds}`]: m?.value ?? null, [`retention_${ds}_lo`]: m?.lo ?? null, [`retention_${ds}_hi`]: m?.hi ?? null });
      }
      out.push(Object.fromEntries(header.map((h) => [h, row[h] ?? null])));
    }
  }
  return out;
}

/** Markdown for a pull request: escapes the characters that would break a table or render as markup. */
export function mdText(s: string): string {
  return s.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

function markdownSummary(input: ReportInput, groups: LeaderGroup[], retention: string[]): string {
  const lines: string[] = [];
  lines.push(`## crispr-bench: ${mdText(input.runs.length === 1 ? input.runs[0]!.title : `leaderboard over ${input.runs.length} runs`)}`, '');
  for (const r of input.runs) lines.push(`- \`${r.path.replace(/`/g, "'")}\`: ${mdText(r.title)} (${r.kind})`);
  lines.push(
    '',
    'Each row is a method at its chosen k ("dev": chosen on the dev split; otherwise the best swept k on these items). Δ: change against the original on the same items, with its paired 95% bootstrap interval.',
  );
  const multiRun = input.runs.length > 1;
  // One table per dataset: datasets have different metrics.
  for (const dataset of [...new Set(groups.map((g) => g.lead.dataset))]) {
    const defs = datasetMetrics(input, dataset);
    const rows = groups.filter((g) => g.lead.dataset === dataset).map((g) => g.lead);
    lines.push('', `### ${mdText(dataset)}`, '');
    const head = [
      ...(multiRun ? ['run'] : []),
      'model',
      'method',
      'k',
      ...defs.map((d) => d.key),
      ...defs.map((d) => `Δ ${d.key} [95% CI]`),
      ...retention.map((r) => `retention ${r}`),
    ];
    const textCols = multiRun ? 3 : 2;
    lines.push(`| ${head.map(mdText).join(' | ')} |`, `|${head.map((_, i) => (i < textCols ? ' --- ' : ' ---: ')).join('|')}|`);
    for (const r of rows) {
      const cellsMd = [
        ...(multiRun ? [input.runs[r.run]!.label] : []),
        r.model,
        methodLabel(r) + (r.rankedOn && r.rankedOn !== r.dataset ? ` (ranked on ${r.rankedOn})` : ''),
        `${r.k}${r.kAuto ? ' (dev)' : ''}`,
        ...defs.map((d) => f3(r.metrics[d.key]?.value)),
        ...defs.map((d) => {
          const dl = r.delta?.[d.key];
          if (!dl) return '—';
          const c = ci(dl);
          return `${signed(dl.value)}${c ? ` [${c}]` : ''}`;
        }),
        ...retention.map((ds) => f3(r.retention[ds]?.value)),
      ];
      lines.push(`| ${cellsMd.map(mdText).join(' | ')} |`);
    }
  }
  lines.push('', 'Full report: `report.html` (opens from the file system); every k: `leaderboard.csv`.', '');
  return lines.join('\n');
}

/** One `crispr run` results object as a page (the single-run case of the same renderer). */
export function renderReport(results: RunResults, dir = process.cwd()): string {
  const input = emptyInput();
  addRunResults(input, checkResults(results, 'results'), resolve(dir), 'results.json');
  return renderAll(input).html;
}
