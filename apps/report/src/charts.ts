/**
 * Inline SVG charts. The report is one static HTML file with no scripts from the network, so the
 * plots are drawn here as SVG strings (line charts with interval bands, horizontal bars).
 */

export interface Series {
  label: string;
  color: string;
  points: { x: number; y: number | null; lo?: number | null; hi?: number | null }[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));

function ticks(lo: number, hi: number, n = 5): number[] {
  if (hi === lo) return [lo];
  const step = (hi - lo) / (n - 1);
  return Array.from({ length: n }, (_, i) => lo + i * step);
}

/** A line chart of y against x for several series, with shaded bootstrap intervals. */
export function lineChart(
  title: string,
  xLabel: string,
  yLabel: string,
  series: Series[],
  opts: { width?: number; height?: number; zeroLine?: boolean; xScale?: 'linear' | 'log1p' } = {},
): string {
  const W = opts.width ?? 520;
  const H = opts.height ?? 300;
  const m = { l: 56, r: 96, t: 28, b: 44 };
  // k grows geometrically in sweeps (1, 2, 4, ... 500), so log(1 + k) spacing keeps small k readable.
  const tx = opts.xScale === 'log1p' ? (x: number) => Math.log1p(Math.max(0, x)) : (x: number) => x;
  const pts = series.flatMap((s) => s.points.filter((p) => p.y !== null));
  if (pts.length === 0) return `<svg class="chart" role="img" aria-label="${esc(title)}" width="${W}" height="${H}"><text x="${W / 2}" y="${H / 2}" text-anchor="middle">${esc(title)}: no defined values</text></svg>`;
  const xs = pts.map((p) => p.x);
  const ys = pts.flatMap((p) => [p.y!, p.lo ?? p.y!, p.hi ?? p.y!]);
  if (opts.zeroLine) ys.push(0);
  let [x0, x1] = [Math.min(...xs.map(tx)), Math.max(...xs.map(tx))];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.08;
  y0 -= pad;
  y1 += pad;
  const sx = (x: number) => m.l + ((tx(x) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" class="chart-title">${esc(title)}</text>`);
  for (const t of ticks(y0, y1)) parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${sy(t)}" y2="${sy(t)}" class="grid"/><text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end" class="tick">${fmt(t)}</text>`);
  // x ticks at the data's x values, skipping any that would overlap the previous label.
  let lastTick = -Infinity;
  for (const t of [...new Set(xs)].sort((a, b) => a - b)) {
    if (sx(t) - lastTick < 20) continue;
    lastTick = sx(t);
    parts.push(`<text x="${sx(t)}" y="${H - m.b + 16}" text-anchor="middle" class="tick">${Number.isInteger(t) ? t : fmt(t)}</text>`);
  }
  if (opts.zeroLine && y0 < 0 && y1 > 0) parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${sy(0)}" y2="${sy(0)}" class="zero"/>`);
  parts.push(`<text x="${(W + m.l) / 2}" y="${H - 8}" text-anchor="middle" class="axis-label">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(H - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const def = s.points.filter((p) => p.y !== null).sort((a, b) => a.x - b.x);
    const band = def.filter((p) => p.lo != null && p.hi != null);
    if (band.length > 1) {
      const upper = band.map((p) => `${sx(p.x)},${sy(p.hi!)}`);
      const lower = band.map((p) => `${sx(p.x)},${sy(p.lo!)}`).reverse();
      parts.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${s.color}" opacity="0.15"/>`);
    }
    if (def.length > 1) parts.push(`<polyline points="${def.map((p) => `${sx(p.x)},${sy(p.y!)}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const p of def) parts.push(`<circle cx="${sx(p.x)}" cy="${sy(p.y!)}" r="3" fill="${s.color}" data-series="${esc(s.label)}" data-x="${p.x}" data-y="${p.y}"><title>${esc(s.label)}: k=${p.x}, ${fmt(p.y!)}</title></circle>`);
    parts.push(`<rect x="${W - m.r + 10}" y="${m.t + 4 + i * 16}" width="10" height="10" fill="${s.color}"/><text x="${W - m.r + 24}" y="${m.t + 13 + i * 16}" class="legend">${esc(s.label)}</text>`);
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
    parts.push(`<rect x="${m.l}" y="${y + 3}" width="${w}" height="${rowH - 6}" fill="${opts.color ?? '#4a6fa5'}"><title>${esc(r.label)}: ${fmt(r.value)}</title></rect>`);
    parts.push(`<text x="${m.l + w + 4}" y="${y + 13}" class="tick">${fmt(r.value)}</text>`);
  });
  return `<svg class="chart" role="img" aria-label="${esc(title)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${parts.join('')}</svg>`;
}
