import { describe, expect, it } from 'vitest';
import { MIN_SHARE, chunkCost, groupByPrefix, planPrefixChunks, prefixChunks, type PrefixGroup } from '../../src/models/prefix-groups.js';

const tokensRun = (prompts: number[][], groups: PrefixGroup[]) =>
  groups.reduce((a, g) => a + g.prefixLength + g.members.reduce((s, m) => s + prompts[m]!.length - g.prefixLength, 0), 0);

function checkGroups(prompts: number[][], groups: PrefixGroup[]): void {
  expect(groups.flatMap((g) => g.members).sort((a, b) => a - b)).toEqual(prompts.map((_, i) => i));
  for (const g of groups) {
    const first = prompts[g.members[0]!]!;
    for (const m of g.members) expect(prompts[m]!.slice(0, g.prefixLength)).toEqual(first.slice(0, g.prefixLength));
  }
}

/** Fewest tokens over every way to cut the sorted prompts into contiguous groups (brute force). */
function bruteForce(prompts: number[][]): number {
  const sorted = [...prompts].sort((a, b) => {
    for (let k = 0; k < Math.min(a.length, b.length); k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
    return a.length - b.length;
  });
  const n = sorted.length;
  let best = Infinity;
  for (let mask = 0; mask < 1 << (n - 1); mask++) {
    let total = 0;
    let start = 0;
    for (let j = 1; j <= n; j++) {
      if (j === n || mask & (1 << (j - 1))) {
        const group = sorted.slice(start, j);
        let shared = group[0]!.length;
        for (const p of group) {
          let k = 0;
          while (k < shared && k < p.length && p[k] === group[0]![k]) k++;
          shared = k;
        }
        if (group.length === 1) shared = group[0]!.length;
        total += group.reduce((a, p) => a + p.length, 0) - (group.length - 1) * shared;
        start = j;
      }
    }
    best = Math.min(best, total);
  }
  return best;
}

describe('groupByPrefix', () => {
  it('finds BBQ-like families: shared instruction and context, differing questions', () => {
    const instr = [1, 2, 3, 4, 5, 6, 7, 8];
    const ctxA = [20, 21, 22, 23, 24, 25, 26, 27, 28, 29];
    const ctxB = [30, 31, 32, 33, 34, 35, 36, 37, 38, 39];
    const prompts = [
      [...instr, ...ctxA, 90, 91],
      [...instr, ...ctxB, 90, 91],
      [...instr, ...ctxA, 92, 93],
      [...instr, ...ctxA, 50, 51, 90, 91],
      [...instr, ...ctxB, 92, 93],
      [...instr, ...ctxA, 50, 51, 92, 93],
    ];
    const groups = groupByPrefix(prompts);
    checkGroups(prompts, groups);
    expect(groups.map((g) => [...g.members].sort())).toEqual([
      [0, 2, 3, 5],
      [1, 4],
    ]);
    expect(groups.map((g) => g.prefixLength)).toEqual([18, 18]);
    expect(tokensRun(prompts, groups)).toBe(bruteForce(prompts));
    expect(tokensRun(prompts, groups)).toBeLessThan(prompts.flat().length / 2);
  });

  it('is optimal over contiguous cuts on random prompt sets, and handles duplicates and prefixes', () => {
    let s = 7;
    const rnd = (n: number) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s % n;
    };
    for (let trial = 0; trial < 40; trial++) {
      const stems = Array.from({ length: 3 }, () => Array.from({ length: 1 + rnd(6) }, () => rnd(3)));
      const prompts = Array.from({ length: 2 + rnd(7) }, () => [...stems[rnd(3)]!, ...Array.from({ length: rnd(5) }, () => rnd(3))]);
      const groups = groupByPrefix(prompts, 0);
      checkGroups(prompts, groups);
      expect(tokensRun(prompts, groups)).toBe(bruteForce(prompts));
      // With the default bound every group shares most of its longest member.
      const bounded = groupByPrefix(prompts);
      checkGroups(prompts, bounded);
      for (const g of bounded) expect(g.prefixLength).toBeGreaterThanOrEqual(MIN_SHARE * Math.max(...g.members.map((m) => prompts[m]!.length)));
      expect(tokensRun(prompts, bounded)).toBeGreaterThanOrEqual(tokensRun(prompts, groups));
    }
    expect(groupByPrefix([])).toEqual([]);
    const dup = groupByPrefix(
      [
        [4, 5, 6],
        [4, 5, 6],
        [4, 5],
      ],
      0,
    );
    expect(dup).toEqual([{ prefixLength: 2, members: [2, 0, 1] }]);
  });

  it('chunks whole groups, splitting only a group larger than the chunk', () => {
    const groups: PrefixGroup[] = [
      { prefixLength: 5, members: [0, 1] },
      { prefixLength: 9, members: [2, 3, 4, 5, 6] },
      { prefixLength: 7, members: [7] },
    ];
    const chunks = prefixChunks(groups, 3);
    expect(chunks.map((c) => c.flatMap((g) => g.members))).toEqual([
      [2, 3, 4],
      [5, 6, 7],
      [0, 1],
    ]);
    expect(chunks.flat().every((g) => g.members.length <= 3)).toBe(true);
  });

  it('plans shared prefixes where they save work, and prompts alone where remainders would pad more than prefixes save', () => {
    const stem = Array.from({ length: 40 }, (_, i) => i + 1);
    const families = [0, 1, 2, 3].flatMap((f) => [0, 1, 2, 3].map((q) => [...stem.map((t) => t + 100 * f), 900 + q, 901 + q]));
    const plan = planPrefixChunks(families, 8);
    expect(plan.flat().some((g) => g.members.length > 1)).toBe(true);
    const lengths = families.map((p) => p.length);
    expect(chunkCost(plan, lengths).tokens).toBeLessThan(families.flat().length / 2);
    // Pairs sharing 60% but with one long remainder each: the padding of the second pass eats the saving.
    const pairs = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((f) => [
      [...stem.slice(0, 24).map((t) => t + 100 * f), ...Array.from({ length: 16 }, (_, i) => 500 + i)],
      [...stem.slice(0, 24).map((t) => t + 100 * f), 700],
    ]);
    const alone = planPrefixChunks(pairs, 4);
    expect(alone.flat().every((g) => g.members.length === 1 && g.prefixLength === pairs[g.members[0]!]!.length)).toBe(true);
  });
});
