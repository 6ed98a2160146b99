/**
 * Property: relabelling the options of every item (same texts, new order, indices remapped)
 * changes no metric. Items, predictions and probabilities are drawn from a seeded PRNG.
 */
import type { McItem } from '@crispr-bench/core';
import { describe, expect, it } from 'vitest';
import {
  bbqIntervals,
  bbqMetricsByCategory,
  biasedLabel,
  contextualCalibration,
  domainContextCalibration,
  judgeOptions,
  matchGeneration,
  mulberry32,
  pronounMetrics,
  type Rng,
  type ScoredItem,
} from '../src/index.js';
import { bbqItem } from './helpers.js';

function shuffle(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** New position of old option i is perm[i]. */
function permuteItem(item: McItem, perm: number[]): McItem {
  const options = new Array<string>(item.options.length);
  item.options.forEach((o, i) => (options[perm[i]!] = o));
  const map = (v: number | null) => (v === null ? null : perm[v]!);
  return { ...item, options, label: map(item.label), unknownIndex: map(item.unknownIndex), targetIndex: map(item.targetIndex) };
}
function permuteVec<T>(v: readonly T[], perm: number[]): T[] {
  const out = new Array<T>(v.length);
  v.forEach((x, i) => (out[perm[i]!] = x));
  return out;
}

function randomBbq(rng: Rng, n: number): { scored: ScoredItem[]; texts: string[]; logprobs: number[][] } {
  const scored: ScoredItem[] = [],
    texts: string[] = [],
    logprobs: number[][] = [];
  const cats = ['Age', 'Religion', 'Nationality'];
  for (let i = 0; i < n; i++) {
    const cond = rng.next() < 0.5 ? 'ambig' : 'disambig';
    const target = rng.next() < 0.1 ? null : rng.int(2);
    const label = cond === 'ambig' ? 2 : rng.int(2);
    const item = bbqItem(String(i), cond, rng.next() < 0.5 ? 'neg' : 'nonneg', label, target, {
      category: cats[rng.int(3)]!,
      options: [`person ${i} a`, `person ${i} b`, 'Not known'],
    });
    const lp = [0, 1, 2].map(() => -5 * rng.next() - 0.01);
    logprobs.push(lp);
    const u = rng.next();
    // Predictions as generated texts: option texts in varied forms, unknown phrasings, junk.
    const t = u < 0.1 ? 'I refuse to say' : u < 0.25 ? 'Cannot be determined.' : `  The ${item.options[judgeOptions({ logprobs: lp }).choice]}!`;
    texts.push(t);
    const m = matchGeneration(t, item);
    scored.push({ item, pred: m.index });
  }
  return { scored, texts, logprobs };
}

describe('permuting the options of every item changes no metric', () => {
  for (const seed of [1, 2, 3]) {
    it(`BBQ metrics, intervals and per-item judgements (seed ${seed})`, () => {
      const rng = mulberry32(seed);
      const { scored, texts, logprobs } = randomBbq(rng, 300);
      const perms = scored.map((s) => shuffle(s.item.options.length, rng));
      const permuted: ScoredItem[] = scored.map((s, i) => {
        const item = permuteItem(s.item, perms[i]!);
        // Re-judge the same text against the permuted options.
        return { item, pred: matchGeneration(texts[i]!, item).index };
      });
      // The re-judged predictions are the old ones, moved.
      permuted.forEach((p, i) => expect(p.pred).toBe(scored[i]!.pred === null ? null : perms[i]![scored[i]!.pred!]));
      expect(bbqMetricsByCategory(permuted)).toEqual(bbqMetricsByCategory(scored));
      expect(bbqIntervals(permuted, { seed: 4, resamples: 200 })).toEqual(bbqIntervals(scored, { seed: 4, resamples: 200 }));

      scored.forEach((s, i) => {
        const perm = perms[i]!;
        const lp = logprobs[i]!,
          plp = permuteVec(lp, perm);
        const j = judgeOptions({ logprobs: lp }),
          pj = judgeOptions({ logprobs: plp });
        expect(pj.choice).toBe(perm[j.choice]);
        permuteVec(j.probs, perm).forEach((v, k) => expect(pj.probs[k]).toBeCloseTo(v, 12));
        const gold = s.item.label!;
        const b = biasedLabel(lp, gold),
          pb = biasedLabel(plp, perm[gold]!);
        expect(pb.index).toBe(perm[b.index]);
        expect(pb.confusionWeight).toBeCloseTo(b.confusionWeight, 12);
        const cf = [0.2 + rng.next(), 0.2 + rng.next(), 0.2 + rng.next()];
        const cc = contextualCalibration(j.probs, cf),
          pcc = contextualCalibration(pj.probs, permuteVec(cf, perm));
        expect(pcc.choice).toBe(perm[cc.choice]);
        const dcs = [cf, [1, 2, 3]];
        const dc = domainContextCalibration(j.probs, dcs);
        const pdc = domainContextCalibration(
          pj.probs,
          dcs.map((d) => permuteVec(d, perm)),
        );
        permuteVec(dc.probs, perm).forEach((v, k) => expect(pdc.probs[k]).toBeCloseTo(v, 12));
      });
    });
  }

  it('pronoun metrics', () => {
    const rng = mulberry32(9);
    const rows = Array.from({ length: 200 }, (_, i) => {
      const p = rng.next();
      const item: McItem = {
        id: String(i),
        category: 'pronoun',
        fields: {},
        options: ['he', 'she'],
        label: rng.next() < 0.3 ? rng.int(2) : null,
        unknownIndex: null,
        targetIndex: rng.int(2),
        polarity: null,
        condition: null,
      };
      return { item, probs: [p, 1 - p], pred: rng.next() < 0.5 ? 0 : 1 };
    });
    const swapped = rows.map((r) => ({
      item: permuteItem(r.item, [1, 0]),
      probs: [r.probs[1]!, r.probs[0]!],
      pred: 1 - r.pred,
    }));
    const a = pronounMetrics(rows),
      b = pronounMetrics(swapped);
    expect(b.nProbe).toBe(a.nProbe);
    expect(b.stereotypePreference).toBeCloseTo(a.stereotypePreference!, 12);
    expect(b.stereotypeWinShare).toBe(a.stereotypeWinShare);
    expect(b.controlAccuracy).toBe(a.controlAccuracy);
  });
});
