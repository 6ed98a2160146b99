/**
 * The HTML report in a real browser: it loads with no console errors or network requests,
 * its tables have the run's rows and its charts are drawn with visible size.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderReport } from '@crispr-bench/report';
import { chromiumAvailable, launchChromium, CHROMIUM_PATH } from './browser/chromium.js';

const fixture = JSON.parse(readFileSync(new URL('../apps/report/test/fixtures/results.json', import.meta.url), 'utf8'));

describe.skipIf(!chromiumAvailable())(`report in Chromium (${CHROMIUM_PATH}; .ci/run installs it)`, () => {
  it('renders tables and charts without errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crispr-report-browser-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, renderReport(fixture));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => !r.url().startsWith('file:') && requests.push(r.url()));
      await page.goto(pathToFileURL(file).href);
      expect(await page.title()).toContain('Fixture run');
      expect(await page.locator('#summary-table tbody tr').count()).toBe(fixture.sweep.length);
      expect(await page.locator('#neuron-table tbody tr').count()).toBe(fixture.topNeurons.length);
      const charts = page.locator('svg.chart');
      expect(await charts.count()).toBe(3);
      for (let i = 0; i < 3; i++) {
        const box = await charts.nth(i).boundingBox();
        expect(box!.width).toBeGreaterThan(100);
        expect(box!.height).toBeGreaterThan(50);
      }
      // the crispr series has a point per k with its value
      expect(await page.locator('circle[data-series="crispr"]').count()).toBe(6); // k = 0 (the original), 2 and 4, for each of the two metrics
      await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
