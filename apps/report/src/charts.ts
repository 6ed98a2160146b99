/**
 * Inline SVG charts. The report is one static HTML file with no scripts from the network, so the
 * plots are drawn here as SVG strings (line charts with interval bands, horizontal bars).
 */

export interface Series {
  label: string;
  color: string;
  /** Drawn dashed (a baseline held flat across k). */
  dashed?: boolean;
  points: { x: number; y: number | null; lo?: number | null; hi?: number | null }[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));

/** A round step (1, 2 or 5 times a power of ten) near span / (count - 1). */
export function niceStep(span: number, count = 5): number {
  const raw = span / Math.max(1, count - 1);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p - 1e-9; // 0.02 / 4 is 0.005000000000000001: still a step of 5
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/**
 * Axis bounds widened to multiples of a round step, and the ticks on them, printed with as many
 * decimals as the step needs (0.2, 0.4, ... rather than 0.976, 0.684).
 */
export function niceTicks(lo: number, hi: number, count = 5): { lo: number; hi: number; ticks: number[]; labels: string[] } {
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  const step = niceStep(hi - lo, count);
  const a = Math.floor(lo / step + 1e-9),
    b = Math.ceil(hi / step - 1e-9);
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: number[] = [];
  for (let i = a; i <= b; i++) ticks.push(Number((i * step).toFixed(digits)));
  return { lo: a * step, hi: b * step, ticks, labels: ticks.map((t) => (Object.is(t, -0) ? 0 : t).toFixed(digits)) };
}

/** A line chart of y against x for several series, with shaded bootstrap intervals; the legend sits under the plot so long labels fit narrow screens. */
export function lineChart(
  title: string,
  xLabel: string,
  yLabel: string,
  series: Series[],
  opts: { width?: number; height?: number; zeroLine?: boolean; xScale?: 'linear' | 'log1p' } = {},
): string {
  const W = opts.width ?? 520;
  const plotH = opts.height ?? 260;
  const m = { l: 56, r: 16, t: 28, b: 44 };
  const H = plotH + 8 + series.length * 16;
  // k grows geometrically in sweeps (1, 2, 4, ... 500), so log(1 + k) spacing keeps small k readable.
  const log = opts.xScale === 'log1p';
  const tx = log ? (x: number) => Math.log1p(Math.max(0, x)) : (x: number) => x;
  const pts = series.flatMap((s) => s.points.filter((p) => p.y !== null));
  if (pts.length === 0)
    return `<svg class="chart" role="img" aria-label="${esc(title)}" viewBox="0 0 ${W} ${plotH}" width="${W}" height="${plotH}"><text x="${W / 2}" y="${plotH / 2}" text-anchor="middle">${esc(title)}: no defined values</text></svg>`;
  const xs = pts.map((p) => p.x);
  const ys = pts.flatMap((p) => [p.y!, p.lo ?? p.y!, p.hi ?? p.y!]);
  if (opts.zeroLine) ys.push(0);
  const yAxis = niceTicks(Math.min(...ys), Math.max(...ys));
  const [y0, y1] = [yAxis.lo, yAxis.hi];
  // Linear x: round ticks too. log1p x: the data's own k values (whole numbers).
  const xAxis = log ? null : niceTicks(Math.min(...xs), Math.max(...xs));
  let [x0, x1] = xAxis ? [xAxis.lo, xAxis.hi] : [tx(Math.min(...xs)), tx(Math.max(...xs))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  const sx = (x: number) => m.l + ((tx(x) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => plotH - m.b - ((y - y0) / (y1 - y0)) * (plotH - m.t - m.b);
  const r2 = (v: number) => Math.round(v * 100) / 100;
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" class="chart-title">${esc(title)}</text>`);
  yAxis.ticks.forEach((t, i) =>
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${r2(sy(t))}" y2="${r2(sy(t))}" class="grid"/><text x="${m.l - 6}" y="${r2(sy(t) + 4)}" text-anchor="end" class="tick ytick">${yAxis.labels[i]}</text>`,
    ),
  );
  const xt = xAxis ? xAxis.ticks.map((t, i) => ({ t, label: xAxis.labels[i]! })) : [...new Set(xs)].sort((a, b) => a - b).map((t) => ({ t, label: String(t) }));
  // Skip a tick label that would overlap the previous one.
  let lastTick = -Infinity;
  for (const { t, label } of xt) {
    if (sx(t) - lastTick < 8 + 7 * label.length) continue;
    lastTick = sx(t);
    parts.push(`<text x="${r2(sx(t))}" y="${plotH - m.b + 16}" text-anchor="middle" class="tick xtick">${label}</text>`);
  }
  if (opts.zeroLine && y0 < 0 && y1 > 0) parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${r2(sy(0))}" y2="${r2(sy(0))}" class="zero"/>`);
  parts.push(`<text x="${(W + m.l) / 2}" y="${plotH - 8}" text-anchor="middle" class="axis-label">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(plotH - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const def = s.points.filter((p) => p.y !== null).sort((a, b) => a.x - b.x);
    const band = def.filter((p) => p.lo != null && p.hi != null);
    if (band.length > 1) {
      const upper = band.map((p) => `${r2(sx(p.x))},${r2(sy(p.hi!))}`);
      const lower = band.map((p) => `${r2(sx(p.x))},${r2(sy(p.lo!))}`).reverse();
      parts.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${s.color}" opacity="0.15"/>`);
    }
    if (def.length > 1)
      parts.push(
        `<polyline points="${def.map((p) => `${r2(sx(p.x))},${r2(sy(p.y!))}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
      );
    for (const p of def)
      parts.push(
        `<circle cx="${r2(sx(p.x))}" cy="${r2(sy(p.y!))}" r="3" fill="${s.color}" data-series="${esc(s.label)}" data-x="${p.x}" data-y="${p.y}"><title>${esc(s.label)}: k=${p.x}, ${fmt(p.y!)}</title></circle>`,
      );
    const ly = plotH + 4 + i * 16;
    parts.push(
      `<rect x="${m.l}" y="${ly}" width="10" height="10" fill="${s.color}"/><text x="${m.l + 16}" y="${ly + 9}" class="legend">${esc(s.label)}</text>`,
    );
  });
  return `<svg class="chart" role="img" aria-label="${esc(title)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${parts.join('')}</svg>`;
}

/** Horizontal bars, one per row (e.g. summed bias score per layer and module kind). */
export function barChart(title: string, rows: { label: string; value: number }[], opts: { width?: number; color?: string } = {}): string {
  const W = opts.width ?? 520;
  const rowH = 18;
  const m = { l: 150, r: 60, t: 28, b: 10 };
  const H = m.t + m.b + rowH * Math.max(1, rows.length);
  const max = Math.max(1e-12, ...rows.map((r) => Math.abs(r.value)));
  const parts = [`<text x="${W / 2}" y="16" text-anchor="middle" class="chart-title">${esc(title)}</text>`];
  rows.forEach((r, i) => {
    const y = m.t + i * rowH;
    const w = (Math.abs(r.value) / max) * (W - m.l - m.r);
    parts.push(`<text x="${m.l - 6}" y="${y + 13}" text-anchor="end" class="tick">${esc(r.label)}</text>`);
    parts.push(
      `<rect x="${m.l}" y="${y + 3}" width="${w}" height="${rowH - 6}" fill="${opts.color ?? '#4a6fa5'}"><title>${esc(r.label)}: ${fmt(r.value)}</title></rect>`,
    );
    parts.push(`<text x="${m.l + w + 4}" y="${y + 13}" class="tick">${fmt(r.value)}</text>`);
  });
  return `<svg class="chart" role="img" aria-label="${esc(title)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${parts.join('')}</svg>`;
}
