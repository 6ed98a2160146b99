import { describe, expect, it } from 'vitest';
import { averagePrior, contextualCalibration, domainContextCalibration, domainWords, drawDomainWords } from '../src/index.js';

describe('contextual calibration (CC)', () => {
  it('divides by the content-free probabilities and renormalises (hand-computed)', () => {
    // p / p_cf = [1, 1.2, 0.8], sum 3
    const r = contextualCalibration([0.5, 0.3, 0.2], [0.5, 0.25, 0.25]);
    expect(r.probs[0]).toBeCloseTo(1 / 3, 12);
    expect(r.probs[1]).toBeCloseTo(0.4, 12);
    expect(r.probs[2]).toBeCloseTo(0.8 / 3, 12);
    expect(r.choice).toBe(1); // the uncalibrated choice was 0
  });
  it('normalises unnormalised inputs first (scale-free)', () => {
    const a = contextualCalibration([5, 3, 2], [2, 1, 1]);
    expect(a.probs[1]).toBeCloseTo(0.4, 12);
    expect(a.prior).toEqual([0.5, 0.25, 0.25]);
  });
  it('a uniform prior changes nothing', () => {
    const r = contextualCalibration([0.6, 0.4], [1, 1]);
    expect(r.probs[0]).toBeCloseTo(0.6, 12);
  });
  it('rejects a zero prior entry or mismatched lengths', () => {
    expect(() => contextualCalibration([0.5, 0.5], [1, 0])).toThrow(/option 1 is 0/);
    expect(() => contextualCalibration([0.5, 0.5], [1, 1, 1])).toThrow(/2 option probabilities but 3/);
  });
});

describe('domain-context calibration (DC)', () => {
  it('averages the normalised content-free distributions', () => {
    expect(
      averagePrior([
        [0.6, 0.2, 0.2],
        [4, 3, 3],
      ]),
    ).toEqual([0.5, 0.25, 0.25]);
    const r = domainContextCalibration(
      [0.5, 0.3, 0.2],
      [
        [0.6, 0.2, 0.2],
        [0.4, 0.3, 0.3],
      ],
    );
    expect(r.probs[1]).toBeCloseTo(0.4, 12);
    expect(r.choice).toBe(1);
  });
  it('rejects an empty list or ragged distributions', () => {
    expect(() => averagePrior([])).toThrow(/at least one/);
    expect(() =>
      averagePrior([
        [1, 1],
        [1, 1, 1],
      ]),
    ).toThrow(/distribution 1 has 3 entries/);
  });
});

describe('drawDomainWords', () => {
  const texts = ['The cat sat on the mat.', 'A dog, barking loudly!', 'Birds fly south'];
  it('draws seeded strings of in-domain words with the mean length', () => {
    const a = drawDomainWords(texts, { seed: 7 });
    const b = drawDomainWords(texts, { seed: 7 });
    const c = drawDomainWords(texts, { seed: 8 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).toHaveLength(20);
    const vocab = new Set(texts.flatMap(domainWords));
    for (const s of a) {
      const w = s.split(' ');
      expect(w).toHaveLength(4); // (6 + 4 + 3) / 3 = 4.33 -> 4
      for (const x of w) expect(vocab.has(x)).toBe(true);
    }
  });
  it('draws words with their corpus frequency', () => {
    const s = drawDomainWords(['x x x y'], { count: 1, length: 8000, seed: 1 })[0]!.split(' ');
    const share = s.filter((w) => w === 'x').length / s.length;
    expect(share).toBeGreaterThan(0.72);
    expect(share).toBeLessThan(0.78);
  });
  it('strips outer punctuation from words', () => {
    expect(domainWords('"Hello," she said... (twice)')).toEqual(['Hello', 'she', 'said', 'twice']);
  });
  it('rejects texts without words', () => {
    expect(() => drawDomainWords(['...', ''])).toThrow(/no words/);
  });
});
