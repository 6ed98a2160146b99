import { describe, expect, it } from 'vitest';
import { argmax, biasedLabel, judgeOptions, normaliseProbs, softmax } from '../src/index.js';

describe('judgeOptions', () => {
  it('option-normalised and raw sequence probabilities (hand-computed)', () => {
    const j = judgeOptions({ logprobs: [Math.log(0.2), Math.log(0.1), Math.log(0.05)] });
    expect(j.choice).toBe(0);
    expect(j.probs[0]).toBeCloseTo(4 / 7, 12);
    expect(j.probs[1]).toBeCloseTo(2 / 7, 12);
    expect(j.probs[2]).toBeCloseTo(1 / 7, 12);
    expect(j.seqProbs[0]).toBeCloseTo(0.2, 12);
    expect(j.seqProbs[2]).toBeCloseTo(0.05, 12);
  });
  it('per-token normalisation can change the choice', () => {
    const input = { logprobs: [-2, -3], tokenCounts: [1, 3], charCounts: [2, 12] };
    expect(judgeOptions(input).choice).toBe(0);
    const t = judgeOptions(input, 'per-token');
    expect(t.scores).toEqual([-2, -1]);
    expect(t.choice).toBe(1);
    expect(t.probs[1]).toBeCloseTo(Math.E / (Math.E + 1), 12);
    const c = judgeOptions(input, 'per-char');
    expect(c.scores).toEqual([-1, -0.25]);
    expect(c.choice).toBe(1);
    // seqProbs stay the raw sequence probabilities whatever the normalisation
    expect(t.seqProbs[1]).toBeCloseTo(Math.exp(-3), 12);
  });
  it('-Infinity options get probability 0; ties go to the lowest index', () => {
    const j = judgeOptions({ logprobs: [-Infinity, -1, -1] });
    expect(j.probs).toEqual([0, 0.5, 0.5]);
    expect(j.choice).toBe(1);
  });
  it('stays finite for very negative log-probabilities', () => {
    const j = judgeOptions({ logprobs: [-1000, -1001] });
    expect(j.probs[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
  });
  it('rejects bad input clearly', () => {
    expect(() => judgeOptions({ logprobs: [] })).toThrow(/no options/);
    expect(() => judgeOptions({ logprobs: [-1, NaN] })).toThrow(/logprobs\[1\]/);
    expect(() => judgeOptions({ logprobs: [-1, 0.5] })).toThrow(/logprobs\[1\]/);
    expect(() => judgeOptions({ logprobs: [-1, -2] }, 'per-token')).toThrow(/tokenCounts are required/);
    expect(() => judgeOptions({ logprobs: [-1, -2], tokenCounts: [1] }, 'per-token')).toThrow(/1 entries for 2 options/);
    expect(() => judgeOptions({ logprobs: [-1, -2], charCounts: [1, 0] }, 'per-char')).toThrow(/charCounts\[1\]/);
    expect(() => softmax([-Infinity, -Infinity])).toThrow(/-Infinity/);
    expect(() => normaliseProbs([0, 0])).toThrow(/all zero/);
    expect(() => normaliseProbs([0.5, -0.1])).toThrow(/\[1\]/);
  });
  it('argmax', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
  });
});

describe('biasedLabel', () => {
  it('most probable wrong option and its weight', () => {
    const lp = [Math.log(0.05), Math.log(0.03), Math.log(0.02)];
    const b = biasedLabel(lp, 0);
    expect(b.index).toBe(1);
    expect(b.confusionWeight).toBeCloseTo(0.3, 12); // 0.03 / 0.10
    expect(b.sequenceProb).toBeCloseTo(0.03, 12);
    const b2 = biasedLabel(lp, 1);
    expect(b2.index).toBe(0);
    expect(b2.confusionWeight).toBeCloseTo(0.5, 12);
    expect(b2.sequenceProb).toBeCloseTo(0.05, 12);
  });
  it('is the wrong option even when the gold is not the most probable', () => {
    const b = biasedLabel([Math.log(0.1), Math.log(0.7), Math.log(0.2)], 0);
    expect(b.index).toBe(1);
    expect(b.confusionWeight).toBeCloseTo(0.7, 12);
  });
  it('rejects a gold index out of range or a single option', () => {
    expect(() => biasedLabel([-1, -2], 2)).toThrow(/gold index 2/);
    expect(() => biasedLabel([-1], 0)).toThrow(/at least two/);
  });
});
