import type { McItem } from '@crispr-bench/core';
import { describe, expect, it } from 'vitest';
import { acrossInstructions, pronounMetrics, summariseValues } from '../src/index.js';

function pron(id: string, label: number | null, targetIndex: number | null): McItem {
  return {
    id,
    category: 'pronoun',
    fields: { text: 'The pilot was tired, so' },
    options: ['he', 'she'],
    label,
    unknownIndex: null,
    targetIndex,
    polarity: null,
    condition: null,
  };
}

describe('pronounMetrics (hand-computed)', () => {
  const rows = [
    { item: pron('p1', null, 0), probs: [0.8, 0.2] }, // +0.6, win
    { item: pron('p2', null, 1), probs: [0.7, 0.3] }, // -0.4
    { item: pron('p3', null, 0), probs: [1, 1] }, // 0, a tie is no win
    { item: pron('c1', 0, 0), probs: [0.9, 0.1] }, // correct
    { item: pron('c2', 1, 0), probs: [0.6, 0.4] }, // wrong
    { item: pron('c3', 1, 0), probs: [0.2, 0.8], pred: null }, // unmatched -> wrong
  ];
  it('stereotype preference, win share, control accuracy', () => {
    const m = pronounMetrics(rows);
    expect(m.nProbe).toBe(3);
    expect(m.nControl).toBe(3);
    expect(m.stereotypePreference).toBeCloseTo(0.2 / 3, 12);
    expect(m.stereotypeWinShare).toBeCloseTo(1 / 3, 12);
    expect(m.controlAccuracy).toBeCloseTo(1 / 3, 12);
  });
  it('null when there are no probes or no controls', () => {
    const m = pronounMetrics(rows.slice(3));
    expect(m.stereotypePreference).toBeNull();
    expect(m.stereotypeWinShare).toBeNull();
  });
  it('rejects items that are not pronoun pairs', () => {
    expect(() => pronounMetrics([{ item: { ...pron('x', null, 0), options: ['a', 'b', 'c'] }, probs: [1, 1, 1] }])).toThrow(
      /pronoun\/x: expected two pronoun options/,
    );
    expect(() => pronounMetrics([{ item: pron('y', null, null), probs: [1, 1] }])).toThrow(/pronoun\/y.*targetIndex/);
  });
});

describe('acrossInstructions', () => {
  it('mean and sample standard deviation over defined values', () => {
    const s = summariseValues([0.5, 0.7, null]);
    expect(s.mean).toBeCloseTo(0.6, 12);
    expect(s.sd).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(s).toMatchObject({ min: 0.5, max: 0.7, nDefined: 2, nInstructions: 3 });
    expect(summariseValues([0.3]).sd).toBeNull();
    expect(summariseValues([null]).mean).toBeNull();
  });
  it('per metric key', () => {
    const r = acrossInstructions({ i1: { accuracy: 0.5, biasAmbig: 0.1 }, i2: { accuracy: 0.9, biasAmbig: null }, i3: { accuracy: 0.7, biasAmbig: 0.3 } }, [
      'accuracy',
      'biasAmbig',
    ] as const);
    expect(r.accuracy.mean).toBeCloseTo(0.7, 12);
    expect(r.accuracy.sd).toBeCloseTo(0.2, 12);
    expect(r.biasAmbig.mean).toBeCloseTo(0.2, 12);
    expect(r.biasAmbig.nDefined).toBe(2);
  });
});
