/**
 * Renders a run's results.json as one static HTML page (handlebars). The report only presents
 * what the run computed; it recomputes nothing.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { checkResults, type RunResults, type MetricValue } from '@crispr-bench/results';
import { barChart, lineChart, type Series } from './charts.js';

const TEMPLATE = fileURLToPath(new URL('./templates/report.hbs', import.meta.url));
const COLORS: Record<string, string> = { crispr: '#c0392b', random: '#7f8c8d', original: '#2c3e50', cc: '#8e44ad', dc: '#16a085' };
const PALETTE = ['#c0392b', '#2980b9', '#27ae60', '#d35400', '#8e44ad', '#7f8c8d'];

function num(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined ? '—' : v.toFixed(digits);
}

function cell(m: MetricValue | undefined): { value: string; ci: string } {
  if (!m) return { value: '—', ci: '' };
  return { value: num(m.value), ci: m.lo !== null && m.hi !== null ? `${num(m.lo)}, ${num(m.hi)}` : '' };
}

export function renderReport(input: RunResults): string {
  const results = checkResults(input, 'results');
  const template = Handlebars.compile(readFileSync(TEMPLATE, 'utf8'), { strict: false });
  const keys = results.metricInfo.map((m) => m.key);
  const chosen = results.kSearch?.best;
  const rows = results.sweep.map((p) => ({ method: p.method, k: p.k, best: p.method === 'crispr' && p.k === chosen, cells: keys.map((k) => cell(p.metrics[k])) }));

  // One chart per headline metric: value against k for every pruning method, baselines as flat lines.
  const methods = [...new Set(results.sweep.map((p) => p.method))];
  const maxK = Math.max(0, ...results.sweep.map((p) => p.k));
  const charts = results.metricInfo.map((info) => {
    const series: Series[] = methods.map((method, i) => {
      const pts = results.sweep.filter((p) => p.method === method);
      const color = COLORS[method] ?? PALETTE[i % PALETTE.length]!;
      const points = pts.map((p) => ({ x: p.k, y: p.metrics[info.key]?.value ?? null, lo: p.metrics[info.key]?.lo, hi: p.metrics[info.key]?.hi }));
      // Pruning curves start from the unpruned model at k = 0.
      const orig = results.sweep.find((p) => p.method === 'original');
      if (method !== 'original' && orig && !pts.some((p) => p.k === 0)) {
        points.unshift({ x: 0, y: orig.metrics[info.key]?.value ?? null, lo: orig.metrics[info.key]?.lo, hi: orig.metrics[info.key]?.hi });
      }
      // A baseline evaluated once at k = 0 is drawn across the whole k range.
      if (points.length === 1 && maxK > 0) points.push({ ...points[0]!, x: maxK });
      return { label: method, color, points };
    });
    return lineChart(info.label, 'pruned neurons k', info.key, series, { zeroLine: info.better === 'zero', xScale: 'log1p' });
  });

  const byLayer = new Map<string, number>();
  for (const s of results.siteScores) {
    const key = `layer ${s.layer} ${s.kind}`;
    byLayer.set(key, (byLayer.get(key) ?? 0) + s.sumPositive);
  }
  const layerRows = [...byLayer.entries()].map(([label, value]) => ({ label, value })).sort((a, b) => b.value - a.value).slice(0, 24);

  const kSearch = results.kSearch
    ? {
        ...results.kSearch,
        bestValue: results.kSearch.bestValue.toFixed(4),
        chart: lineChart('k search on the dev split (golden section)', 'pruned neurons k', results.kSearch.objective, [
          { label: 'evaluated k', color: '#c0392b', points: results.kSearch.evaluated.map((e) => ({ x: e.k, y: e.value })) },
        ], { xScale: 'log1p' }),
      }
    : null;
  const across = results.sweep.some((p) => p.acrossInstructions)
    ? results.sweep
        .filter((p) => p.acrossInstructions)
        .map((p) => ({
          method: p.method,
          k: p.k,
          cells: keys.map((key) => {
            const a = p.acrossInstructions![key];
            return a?.mean === null || a?.mean === undefined ? '—' : `${a.mean.toFixed(3)} ± ${a.sd === null ? '—' : a.sd.toFixed(3)}`;
          }),
        }))
    : null;
  const instructionCount = Array.isArray(results.config.instructions) ? results.config.instructions.length : 0;
  return template({
    results,
    rows,
    across,
    instructionCount,
    kSearch,
    charts: charts.join('\n'),
    siteChart: layerRows.length ? barChart('Positive bias score by layer and module', layerRows) : '',
    neurons: results.topNeurons.map((n, i) => ({ ...n, rank: i + 1, score: n.score.toPrecision(4) })),
    config: Object.entries(results.config).map(([key, value]) => ({ key, value: typeof value === 'string' ? value : JSON.stringify(value) })),
    timings: Object.entries(results.timings).map(([key, value]) => ({ key, value: value.toFixed(1) })),
  });
}

export function renderReportFile(resultsPath: string): string {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(resultsPath, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read results ${resultsPath}: ${(e as Error).message}`);
  }
  return renderReport(checkResults(raw, resultsPath));
}
