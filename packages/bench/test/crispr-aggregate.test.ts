import { describe, expect, it } from 'vitest';
import { createRng } from '@crispr-bench/core';
import { aggregate, instanceScore, rankNeurons, masksForTopK, randomRanking, goldenSectionK, type InstanceAttribution } from '../src/crispr/index.js';

const f = (...v: number[]) => Float32Array.from(v);

describe('CRISPR aggregation (hand-computed)', () => {
  it('subtracts the clamped skill attribution', () => {
    const inst: InstanceAttribution = { instruction: 'i1', trial: 0, exampleId: 'x', confusion: 0.5, biased: { s: f(1, 2, -1) }, gold: { s: f(0.5, -3, 2) } };
    // 1 - max(0, .5) = .5; 2 - max(0, -3) = 2; -1 - 2 = -3
    expect([...instanceScore(inst).s!]).toEqual([0.5, 2, -3]);
    expect([...instanceScore(inst, { lambda: 2 }).s!]).toEqual([0, 2, -5]);
    expect([...instanceScore(inst, { skill: false }).s!]).toEqual([1, 2, -1]);
  });

  it('weights by confusion, averages trials then instructions', () => {
    const mk = (instruction: string, trial: number, a: number, b: number[], g: number[] | null): InstanceAttribution => ({
      instruction,
      trial,
      exampleId: `${instruction}-${trial}`,
      confusion: a,
      biased: { s: f(...b) },
      gold: g ? { s: f(...g) } : null,
    });
    const insts = [
      // instruction A, trial 0: two instances
      mk('A', 0, 0.5, [2, 0], [1, 0]), // B = [1, 0], weighted [0.5, 0]
      mk('A', 0, 0.25, [4, 4], null), // B = [4, 4], weighted [1, 1]  -> trial sum [1.5, 1]
      // instruction A, trial 1
      mk('A', 1, 1, [0, 2], [0, -1]), // B = [0, 2] -> trial sum [0, 2]
      // instruction B, trial 0
      mk('B', 0, 0.5, [-2, 6], [0, 0]), // B = [-2, 6] weighted [-1, 3]
    ];
    // A: mean of trials [0.75, 1.5]; B: [-1, 3]; overall mean [-0.125, 2.25]
    const out = aggregate(insts);
    expect(out.s![0]).toBeCloseTo(-0.125, 12);
    expect(out.s![1]).toBeCloseTo(2.25, 12);
    // Without confusion weighting: A trial0 [5, 4], trial1 [0, 2] -> [2.5, 3]; B [-2, 6] -> [0.25, 4.5]
    const unweighted = aggregate(insts, { confusionWeight: false });
    expect(unweighted.s![0]).toBeCloseTo(0.25, 12);
    expect(unweighted.s![1]).toBeCloseTo(4.5, 12);
  });

  it('rejects inconsistent widths', () => {
    expect(() =>
      aggregate([
        { instruction: 'a', trial: 0, exampleId: '1', confusion: 1, biased: { s: f(1, 2) }, gold: null },
        { instruction: 'a', trial: 0, exampleId: '2', confusion: 1, biased: { s: f(1) }, gold: null },
      ]),
    ).toThrow(/width/);
  });
});

describe('ranking and masks', () => {
  it('ranks highest first and masks the top k', () => {
    const r = rankNeurons({ a: [0.1, 3, -1], b: [2, 0.5] });
    expect(r.map((n) => `${n.site}${n.unit}`)).toEqual(['a1', 'b0', 'b1', 'a0', 'a2']);
    const m = masksForTopK(r, 2, { a: 3, b: 2 });
    expect([...m.a!]).toEqual([1, 0, 1]);
    expect([...m.b!]).toEqual([0, 1]);
    expect(() => masksForTopK(r, 2, { a: 3 })).toThrow(/site 'b'/);
  });

  it('random control is seeded and a permutation', () => {
    const w = { a: 5, b: 7 };
    const r1 = randomRanking(w, 7);
    const r2 = randomRanking(w, 7);
    const r3 = randomRanking(w, 8);
    expect(r1).toEqual(r2);
    expect(r1.map((n) => `${n.site}${n.unit}`)).not.toEqual(r3.map((n) => `${n.site}${n.unit}`));
    expect(new Set(r1.map((n) => `${n.site}${n.unit}`)).size).toBe(12);
  });
});

describe('golden-section k search', () => {
  it('finds the maximum of a unimodal curve with few evaluations', async () => {
    let calls = 0;
    const res = await goldenSectionK(async (k) => {
      calls++;
      return -((k - 137) ** 2);
    }, 500);
    expect(res.best).toBe(137);
    expect(calls).toBeLessThan(25);
  });
  it('prefers the smallest k among equal values', async () => {
    const res = await goldenSectionK(async (k) => (k >= 10 ? 1 : 0), 100);
    // The brute-force answer: k = 10 is the first k reaching the maximum.
    expect(res).toMatchObject({ best: 10, bestValue: 1 });
  });
  it('agrees with a brute-force scan of every k on random unimodal curves', async () => {
    const rng = createRng(20240511);
    for (const kMax of [0, 1, 2, 3, 7, 64, 500]) {
      for (let trial = 0; trial < 20; trial++) {
        // Strictly increasing up to a random peak, strictly decreasing after it.
        const peak = rng.int(kMax + 1);
        const curve = new Array<number>(kMax + 1);
        curve[peak] = 0;
        for (let k = peak - 1; k >= 0; k--) curve[k] = curve[k + 1]! - 0.01 - rng.next();
        for (let k = peak + 1; k <= kMax; k++) curve[k] = curve[k - 1]! - 0.01 - rng.next();
        let brute = 0;
        for (let k = 1; k <= kMax; k++) if (curve[k]! > curve[brute]!) brute = k;
        const res = await goldenSectionK(async (k) => curve[k]!, kMax);
        expect(res.best, `kMax ${kMax}, peak ${peak}`).toBe(brute);
        expect(res.bestValue).toBe(curve[brute]);
        for (const e of res.evaluated) expect(e.value).toBe(curve[e.k]);
      }
    }
  });
});
