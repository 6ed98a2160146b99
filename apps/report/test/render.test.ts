import { describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport, reportMain, lineChart } from '../src/index.js';

const fixture = () => JSON.parse(readFileSync(new URL('./fixtures/results.json', import.meta.url), 'utf8'));

describe('report rendering', () => {
  it('renders every sweep row, metric and neuron, escaping text', () => {
    const html = renderReport(fixture());
    expect(html).toContain('<title>Fixture run');
    expect((html.match(/<tr class="[^"]*" data-method=/g) ?? []).length).toBe(4);
    expect(html).toContain('data-method="crispr" data-k="4"');
    expect(html).toContain('-0.020');
    expect(html).toContain('0.050, 0.150'); // interval of crispr k=2
    expect(html).toContain('model.layers.1.mlp.down_proj');
    expect(html).toContain('a &lt;note&gt; with markup');
    expect(html).not.toContain('<note>');
    // one chart per headline metric plus the site chart
    expect((html.match(/<svg class="chart"/g) ?? []).length).toBe(3);
    // undefined metrics print as a dash, not 0
    expect(html).toMatch(/data-method="random"[\s\S]*?—/);
  });

  it('rejects results of another schema version', () => {
    const r = fixture();
    r.schemaVersion = 99;
    expect(() => renderReport(r)).toThrow(/schemaVersion 99/);
  });

  it('plots points at their coordinates', () => {
    const svg = lineChart('t', 'x', 'y', [{ label: 's', color: '#000', points: [{ x: 0, y: 0 }, { x: 10, y: 1 }] }], { width: 200, height: 100 });
    const circles = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(circles).toHaveLength(2);
    expect(circles[0]![0]).toBeLessThan(circles[1]![0]!); // x grows to the right
    expect(circles[0]![1]).toBeGreaterThan(circles[1]![1]!); // y grows upward
  });

  it('the CLI writes report.html next to results.json and reports missing input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crispr-report-'));
    writeFileSync(join(dir, 'results.json'), JSON.stringify(fixture()));
    expect(reportMain([dir])).toBe(0);
    expect(existsSync(join(dir, 'report.html'))).toBe(true);
    expect(reportMain([join(dir, 'nope')])).toBe(1);
  });
});
