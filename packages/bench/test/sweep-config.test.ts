/**
 * The sweep config and plan (issue 16): a malformed config is refused with the key path, the
 * value found and the form expected; the plan's cells and the shards' shares of them.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSweepConfig, parseSweepConfig, resolveVariant } from '../src/sweep/config.js';
import { makePlan, shardGroups } from '../src/sweep/plan.js';

const minimal = { models: [{ label: 'm', path: 'default' }], datasets: [{ label: 'p', source: 'pronoun' }] };

function errorOf(doc: unknown): string {
  try {
    parseSweepConfig(doc, 'sweep.yaml');
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('sweep config', () => {
  it('fills the paper defaults', () => {
    const c = parseSweepConfig(minimal, 'x.yaml');
    expect(c.k).toEqual([0, 1, 2, 4, 8, 16, 32]);
    expect(c.attribution).toEqual({ instances: 20, trials: 3 });
    expect(c.datasets[0]!.role).toBe('bias');
    expect(c.methods.variants).toEqual(['default']);
  });

  it('names the key path, the value found and the form expected', () => {
    const e1 = errorOf({ ...minimal, datasets: [{ label: 'p', source: 'pronoun', role: 'training' }] });
    expect(e1).toMatch(/^sweep\.yaml: invalid sweep config/);
    expect(e1).toMatch(/datasets\[0\]\.role: .*"bias".*"eval".*"retention"/);
    expect(e1).toMatch(/found "training"/);
    const e2 = errorOf({ ...minimal, k: [0, 'all'] });
    expect(e2).toMatch(/k\[1\]: .*\(found "all"\)/);
    const e3 = errorOf({ ...minimal, methods: { variants: [{ reduce: 'median' }] } });
    expect(e3).toMatch(/methods\.variants\[0\]/);
    expect(e3).toMatch(/median/);
    const e4 = errorOf({ models: [{ label: 'm', path: 'default' }] });
    expect(e4).toMatch(/datasets: .*\(found missing\)/);
    const e5 = errorOf({ ...minimal, models: [{ label: 'a b', path: 'x' }] });
    expect(e5).toMatch(/models\[0\]\.label: a label: letters, digits/);
    const e6 = errorOf({ ...minimal, bootstrapp: 10 });
    expect(e6).toMatch(/bootstrapp/);
  });

  it('checks references between sections', () => {
    expect(errorOf({ ...minimal, transfer: [{ from: 'p', to: ['q'] }] })).toMatch(/transfer\[0\]\.to\[0\]: no dataset labelled 'q' \(datasets: p\)/);
    expect(errorOf({ ...minimal, models: [{ label: 'm', path: 'x', datasets: ['nope'] }] })).toMatch(/models\[0\]\.datasets\[0\]: no dataset labelled 'nope'/);
    expect(errorOf({ ...minimal, datasets: [{ label: 'p', source: 'pronoun', role: 'eval' }] })).toMatch(/at least one dataset needs role bias/);
  });

  it('reports YAML syntax errors with the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sweep-cfg-'));
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'models: [\n  - label: x\n');
    expect(() => loadSweepConfig(f)).toThrow(/bad\.yaml: not valid YAML/);
    expect(() => loadSweepConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read the sweep config \(ENOENT\)/);
  });

  it('labels variants by what they change', () => {
    expect(resolveVariant('default').label).toBe('default');
    expect(resolveVariant({ reduce: 'mean' }).label).toBe('reduce=mean');
    expect(resolveVariant({ skill: false, lambda: 0.5 }).label).toBe('skill=off+lambda=0.5');
    expect(resolveVariant({ reduce: 'max' }).label).toBe('default');
    expect(resolveVariant({ kinds: ['ffn_up', 'ffn_down'] }).settings.kinds).toBe('ffn_up,ffn_down');
  });
});

describe('sweep plan', () => {
  const plan = makePlan({
    models: [{ label: 'm', datasets: ['a', 'b', 'r'] }],
    datasets: [
      {
        label: 'a',
        role: 'bias',
        instructions: [
          { id: 'i1', use: 'attribution' },
          { id: 'i2', use: 'heldout' },
        ],
      },
      { label: 'b', role: 'bias', instructions: [{ id: 'i1', use: 'attribution' }] },
      { label: 'r', role: 'retention', instructions: [{ id: 'i1', use: 'heldout' }] },
    ],
    variants: ['default', 'reduce=mean'],
    random: true,
    cc: true,
    dc: false,
    combined: [],
    ks: [0, 2, 'auto'],
    transfer: [{ from: 'a', to: ['b'] }],
  });

  it('has one group per method x k x ranking source x evaluated dataset, cells per instruction plus pooled', () => {
    const ids = plan.map((g) => `${g.method}${g.variant ? `[${g.variant}]` : ''}@${g.rankedOn ?? '-'}:k${g.k}>${g.dataset}`);
    // a: original, cc, then ranked on a (2 variants x 2 ks + random x 2 ks)
    expect(ids.filter((i) => i.endsWith('>a'))).toEqual([
      'original@-:k0>a',
      'cc@-:k0>a',
      'crispr[default]@a:k2>a',
      'crispr[default]@a:kauto>a',
      'crispr[reduce=mean]@a:k2>a',
      'crispr[reduce=mean]@a:kauto>a',
      'random@a:k2>a',
      'random@a:kauto>a',
    ]);
    // b is evaluated under its own rankings and, by the transfer pair, under a's.
    expect(ids.filter((i) => i.endsWith('>b') && i.startsWith('crispr[default]'))).toEqual([
      'crispr[default]@a:k2>b',
      'crispr[default]@a:kauto>b',
      'crispr[default]@b:k2>b',
      'crispr[default]@b:kauto>b',
    ]);
    // The retention task is evaluated under every ranking.
    expect(ids.filter((i) => i.endsWith('>r') && i.startsWith('random'))).toEqual(['random@a:k2>r', 'random@a:kauto>r', 'random@b:k2>r', 'random@b:kauto>r']);
    const a = plan.find((g) => g.dataset === 'a')!;
    expect(a.cells.map((c) => `${c.instruction}:${c.use}`)).toEqual(['i1:attribution', 'i2:heldout', '*:pooled']);
    const all = plan.flatMap((g) => g.cells.map((c) => c.index));
    expect(all).toEqual(all.map((_, i) => i));
  });

  it('shards take whole groups, disjoint, together the plan', () => {
    const shards = [1, 2, 3].map((index) => shardGroups(plan, { index, count: 3 }));
    const seen = shards
      .flat()
      .map((g) => g.index)
      .sort((x, y) => x - y);
    expect(seen).toEqual(plan.map((g) => g.index));
    expect(Math.max(...shards.map((s) => s.length)) - Math.min(...shards.map((s) => s.length))).toBeLessThanOrEqual(1);
    expect(shardGroups(plan, null)).toEqual(plan);
  });
});
