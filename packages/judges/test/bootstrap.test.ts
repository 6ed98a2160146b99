import { describe, expect, it } from 'vitest';
import {
  bbqIntervals,
  bbqMetrics,
  bbqPairedIntervals,
  bootstrap,
  bootstrapPaired,
  mulberry32,
  pronounIntervals,
  pronounPairedIntervals,
  quantileSorted,
  type ScoredItem,
} from '../src/index.js';
import { bbqItem } from './helpers.js';

describe('mulberry32', () => {
  it('is reproducible from the seed and roughly uniform', () => {
    const a = mulberry32(42),
      b = mulberry32(42),
      c = mulberry32(43);
    const xs = Array.from({ length: 20000 }, () => a.next());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b.next()));
    expect(xs[0]).not.toBe(c.next());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01); // sd of the mean is 0.002
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
    const counts = [0, 0, 0];
    const r = mulberry32(1);
    for (let i = 0; i < 30000; i++) counts[r.int(3)]!++;
    for (const k of counts) expect(Math.abs(k - 10000)).toBeLessThan(400);
    expect(() => r.int(0)).toThrow(/positive integer/);
  });
});

describe('quantileSorted (type 7)', () => {
  it('interpolates between order statistics', () => {
    const s = [1, 2, 3, 4, 5];
    expect(quantileSorted(s, 0)).toBe(1);
    expect(quantileSorted(s, 1)).toBe(5);
    expect(quantileSorted(s, 0.5)).toBe(3);
    expect(quantileSorted(s, 0.1)).toBeCloseTo(1.4, 12);
    expect(quantileSorted([7], 0.975)).toBe(7);
  });
});

describe('bootstrap', () => {
  const mean = (xs: number[]) => (idx: ArrayLike<number> | undefined) => {
    const m = idx ? idx.length : xs.length;
    let s = 0;
    for (let k = 0; k < m; k++) s += xs[idx ? idx[k]! : k]!;
    return { mean: s / m };
  };
  it('seeded: same seed same interval, another seed another', () => {
    const xs = Array.from({ length: 50 }, (_, i) => (i * 37) % 11);
    const a = bootstrap(xs.length, mean(xs), ['mean'] as const, { seed: 3 });
    const b = bootstrap(xs.length, mean(xs), ['mean'] as const, { seed: 3 });
    const c = bootstrap(xs.length, mean(xs), ['mean'] as const, { seed: 4 });
    expect(a).toEqual(b);
    expect(a.mean.lo).not.toBe(c.mean.lo);
    expect(a.mean.resamples).toBe(1000);
    expect(a.mean.level).toBe(0.95);
  });
  it('a constant sample gives a zero-width interval at the estimate', () => {
    const r = bootstrap(10, mean(new Array(10).fill(0.3)), ['mean'] as const);
    expect(r.mean.lo).toBeCloseTo(0.3, 12);
    expect(r.mean.hi).toBeCloseTo(0.3, 12);
  });
  it('the interval of a mean matches the normal approximation on a large sample', () => {
    // 400 Bernoulli(0.5) values: sd of the mean 0.025, 95% half-width about 0.049
    const xs = Array.from({ length: 400 }, (_, i) => i % 2);
    const r = bootstrap(xs.length, mean(xs), ['mean'] as const, { seed: 11, resamples: 2000 });
    expect(r.mean.estimate).toBe(0.5);
    expect(r.mean.lo!).toBeGreaterThan(0.5 - 0.049 - 0.008);
    expect(r.mean.lo!).toBeLessThan(0.5 - 0.049 + 0.008);
    expect(r.mean.hi!).toBeGreaterThan(0.5 + 0.049 - 0.008);
    expect(r.mean.hi!).toBeLessThan(0.5 + 0.049 + 0.008);
  });
  it('counts resamples where the metric is undefined', () => {
    // s_DIS needs the one non-unknown answer; P(a resample of 2 items misses it) = 1/4
    const rows: ScoredItem[] = [
      { item: bbqItem('1', 'disambig', 'neg', 0, 0), pred: 0 },
      { item: bbqItem('2', 'disambig', 'neg', 0, 0), pred: 2 },
    ];
    const r = bbqIntervals(rows, { seed: 5 });
    expect(r.biasDisambig.estimate).toBe(1);
    expect(r.biasDisambig.undefinedResamples).toBeGreaterThan(200);
    expect(r.biasDisambig.undefinedResamples).toBeLessThan(300);
    expect(r.biasDisambig.lo).toBe(1);
    expect(r.biasAmbig).toMatchObject({ estimate: null, lo: null, hi: null, undefinedResamples: 1000 });
  });
  it('rejects bad options', () => {
    expect(() => bootstrap(0, mean([]), ['mean'] as const)).toThrow(/at least one item/);
    expect(() => bootstrap(3, mean([1, 2, 3]), ['mean'] as const, { level: 1 })).toThrow(/level/);
    expect(() => bootstrap(3, mean([1, 2, 3]), ['mean'] as const, { resamples: 0 })).toThrow(/resamples/);
  });
});

describe('paired bootstrap', () => {
  // 200 disambiguated items; run A is right on even items; run B is A plus 10 more right answers.
  const items = Array.from({ length: 200 }, (_, i) => bbqItem(String(i), 'disambig', 'neg', 0, 0));
  const a: ScoredItem[] = items.map((item, i) => ({ item, pred: i % 2 === 0 ? 0 : 1 }));
  const b: ScoredItem[] = items.map((item, i) => ({ item, pred: i % 2 === 0 || i % 20 === 1 ? 0 : 1 }));
  it('identical runs give a zero difference interval', () => {
    const r = bbqPairedIntervals(a, a, { seed: 1 });
    expect(r.accuracy).toMatchObject({ estimate: 0, lo: 0, hi: 0 });
  });
  it('resamples item indices jointly: the difference interval is much narrower than unpaired', () => {
    const d = bbqPairedIntervals(a, b, { seed: 2 });
    expect(d.accuracy.estimate).toBeCloseTo(bbqMetrics(b).accuracy! - bbqMetrics(a).accuracy!, 12);
    expect(d.accuracy.estimate).toBeCloseTo(0.05, 12);
    // Paired: the difference is (number of the 10 changed items drawn) / 200 >= 0 in every resample.
    expect(d.accuracy.lo!).toBeGreaterThan(0);
    expect(d.accuracy.lo!).toBeLessThan(0.05);
    expect(d.accuracy.hi!).toBeGreaterThan(0.05);
    const ia = bbqIntervals(a, { seed: 2 }).accuracy,
      ib = bbqIntervals(b, { seed: 3 }).accuracy;
    const unpairedHalf = Math.hypot((ia.hi! - ia.lo!) / 2, (ib.hi! - ib.lo!) / 2);
    expect((d.accuracy.hi! - d.accuracy.lo!) / 2).toBeLessThan(unpairedHalf / 2);
  });
  it('refuses runs on different items', () => {
    expect(() => bbqPairedIntervals(a, b.slice(1), {})).toThrow(/200 items, run B 199/);
    const c = [...b];
    c[3] = { item: bbqItem('zzz', 'disambig', 'neg', 0, 0), pred: 0 };
    expect(() => bbqPairedIntervals(a, c, {})).toThrow(/position 3 is X\/3 in run A but X\/zzz/);
  });
  it('generic paired bootstrap gives B - A', () => {
    const xs = [1, 2, 3, 4],
      ys = [2, 3, 4, 5];
    const f = (v: number[]) => (idx: ArrayLike<number> | undefined) => {
      const m = idx ? idx.length : v.length;
      let s = 0;
      for (let k = 0; k < m; k++) s += v[idx ? idx[k]! : k]!;
      return { mean: s / m };
    };
    const r = bootstrapPaired(4, f(xs), f(ys), ['mean'] as const);
    expect(r.mean).toMatchObject({ estimate: 1, lo: 1, hi: 1 });
  });
  it('pronoun metrics get intervals too', () => {
    const mk = (id: string, p: number) => ({
      item: { id, category: 'pronoun', fields: {}, options: ['he', 'she'], label: null, unknownIndex: null, targetIndex: 0, polarity: null, condition: null },
      probs: [p, 1 - p],
    });
    const rows = Array.from({ length: 50 }, (_, i) => mk(String(i), 0.5 + (i % 5) / 10));
    const r = pronounIntervals(rows, { seed: 9 });
    expect(r.stereotypePreference.estimate).toBeCloseTo(0.4, 12);
    expect(r.stereotypePreference.lo!).toBeLessThan(0.4);
    expect(r.stereotypePreference.hi!).toBeGreaterThan(0.4);
    expect(r.controlAccuracy.estimate).toBeNull();
    const p = pronounPairedIntervals(rows, rows, { seed: 9 });
    expect(p.stereotypePreference).toMatchObject({ estimate: 0, lo: 0, hi: 0 });
  });
});
