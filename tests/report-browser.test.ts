/**
 * The HTML report in a real browser (Debian's Chromium): a report over several runs (two sweep
 * folders and a `crispr run` results.json) loads with no console errors or network requests;
 * sorting a column reorders the rows, a filter hides rows, "all k" expands a row, a hostile
 * string from the data shows as text, and the page fits 390 px and 1280 px screens.
 * Screenshots go to $REPORT_SCREENS_DIR (default: the test's temporary folder).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { writeReport } from '@crispr-bench/report';
import { chromiumAvailable, launchChromium, CHROMIUM_PATH } from './browser/chromium.js';
import { writeSweepFixture, HOSTILE } from './fixtures/sweep-fixture.js';

const runFixture = JSON.parse(readFileSync(new URL('../apps/report/test/fixtures/results.json', import.meta.url), 'utf8'));

/** The visible lead rows' text in one column. */
async function column(page: Page, col: number): Promise<string[]> {
  return page.$$eval(
    '#leaderboard-table tbody tr.lead:not([hidden])',
    (trs, c) => trs.map((tr) => (tr as HTMLTableRowElement).cells[c]!.childNodes[0]?.textContent?.trim() ?? ''),
    col,
  );
}

describe.skipIf(!chromiumAvailable())(`report in Chromium (${CHROMIUM_PATH}; .ci/run installs it)`, () => {
  it('a report over several runs sorts, filters, expands, keeps hostile strings as text and fits 390 and 1280 px', async () => {
    const root = mkdtempSync(join(tmpdir(), 'crispr-report-browser-'));
    const a = writeSweepFixture(join(root, 'sweep-main'), { title: `Sweep on main ${HOSTILE}` }).dir;
    const b = writeSweepFixture(join(root, 'sweep-pr'), { title: 'Sweep on the pull request', models: ['tiny-llama'], seed: 2 }).dir;
    const run = join(root, 'run-pronoun');
    mkdirSync(run);
    writeFileSync(join(run, 'results.json'), JSON.stringify(runFixture));
    const out = writeReport([a, b, run], join(root, 'site', 'index.html'));
    const screens = process.env.REPORT_SCREENS_DIR ?? root;
    mkdirSync(screens, { recursive: true });

    const browser = await launchChromium();
    try {
      for (const width of [1280, 390]) {
        const page = await browser.newPage({ viewport: { width, height: 900 } });
        const errors: string[] = [];
        const requests: string[] = [];
        const dialogs: string[] = [];
        page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('request', (r) => !r.url().startsWith('file:') && requests.push(r.url()));
        page.on('dialog', (d) => {
          dialogs.push(d.message());
          void d.dismiss();
        });
        await page.goto(pathToFileURL(out.html).href);

        const lead = page.locator('#leaderboard-table tbody tr.lead');
        const total = await lead.count();
        // Sweep main: 2 models x 3 datasets x 7 methods; sweep pr: 1 x 3 x 7; the run: 3 methods.
        expect(total).toBe(42 + 21 + 3);
        expect(await page.locator('#shown-count').textContent()).toBe(`${total} of ${total} rows`);

        // Sorting: by biasAmbig ascending (missing values last), then descending.
        const headers = await page.$$eval('#leaderboard-table thead th', (ths) => ths.map((t) => t.textContent!.trim()));
        const col = headers.indexOf('biasAmbig');
        expect(col).toBeGreaterThan(0);
        const before = await column(page, col);
        await page.click(`#leaderboard-table thead th:nth-child(${col + 1}) button`);
        const asc = await column(page, col);
        expect(asc).not.toEqual(before);
        const nums = (xs: string[]) => xs.filter((x) => x !== '—').map(Number);
        const ascN = nums(asc);
        expect(ascN.length).toBeGreaterThan(20);
        for (let i = 1; i < ascN.length; i++) expect(ascN[i]!).toBeGreaterThanOrEqual(ascN[i - 1]!);
        expect(asc.slice(ascN.length).every((x) => x === '—')).toBe(true);
        expect(await page.getAttribute(`#leaderboard-table thead th:nth-child(${col + 1})`, 'aria-sort')).toBe('ascending');
        await page.click(`#leaderboard-table thead th:nth-child(${col + 1}) button`);
        const descN = nums(await column(page, col));
        for (let i = 1; i < descN.length; i++) expect(descN[i]!).toBeLessThanOrEqual(descN[i - 1]!);
        // A group's other k rows move with it: each krow follows its own lead row.
        const order = await page.$$eval('#leaderboard-table tbody tr', (trs) => trs.map((tr) => [tr.className, tr.getAttribute('data-group')]));
        let current = '';
        for (const [cls, g] of order) {
          if (cls === 'lead') current = g!;
          else expect(g).toBe(current);
        }

        // Filtering: only the pronoun dataset, then also only random pruning.
        await page.selectOption('#filter-dataset', 'pronoun');
        const shown = page.locator('#leaderboard-table tbody tr.lead:not([hidden])');
        const nPronoun = await shown.count();
        expect(nPronoun).toBe(2 * 7 + 7 + 3);
        expect(new Set(await shown.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-dataset'))))).toEqual(new Set(['pronoun']));
        expect(await page.locator('#shown-count').textContent()).toBe(`${nPronoun} of ${total} rows`);
        // Columns of BBQ metrics have no value here and step aside.
        expect(await page.locator(`#leaderboard-table thead th:nth-child(${col + 1})`).isHidden()).toBe(true);
        await page.selectOption('#filter-method', 'random');
        expect(await shown.count()).toBe(2 + 1 + 1);
        await page.selectOption('#filter-method', '');
        await page.selectOption('#filter-dataset', '');
        expect(await shown.count()).toBe(total);

        // "all k" reveals a row's other k.
        const group = await page.locator('#leaderboard-table tbody tr.lead', { has: page.locator('button.expand') }).first();
        const gid = await group.getAttribute('data-group');
        const krows = page.locator(`#leaderboard-table tbody tr.krow[data-group="${gid}"]`);
        expect(await krows.count()).toBeGreaterThan(0);
        expect(await krows.first().isHidden()).toBe(true);
        await group.locator('button.expand').click();
        expect(await krows.first().isVisible()).toBe(true);

        // Hostile strings from the data: text, not markup; nothing executed.
        expect(await page.locator('img').count()).toBe(0);
        expect(await page.locator('b').count()).toBe(0);
        const summary = page.locator('#runs summary').first();
        expect(await summary.textContent()).toContain(HOSTILE);
        expect(await page.locator('th.instruction').filter({ hasText: 'onerror' }).first().textContent()).toContain(HOSTILE);
        expect(await page.evaluate(() => JSON.parse(document.getElementById('report-data')!.textContent!).groups.length)).toBe(total);

        // Charts drawn with visible size; the page itself never scrolls sideways (wide tables scroll in their box).
        const box = await page.locator('svg.chart').first().boundingBox();
        expect(box!.width).toBeGreaterThan(width === 390 ? 300 : 350);
        expect(box!.height).toBeGreaterThan(150);
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);

        await page.screenshot({ path: join(screens, `report-${width}.png`), fullPage: true });
        await page.locator('#curves').scrollIntoViewIfNeeded();
        await page.screenshot({ path: join(screens, `report-${width}-curves.png`) });
        expect(errors).toEqual([]);
        expect(requests).toEqual([]);
        expect(dialogs).toEqual([]);
        await page.close();
      }
    } finally {
      await browser.close();
    }
  });
});
